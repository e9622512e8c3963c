//! Macros that declare tests.

/// One hostile-input case as its own test: `hostile!(name, Refused, |w| { … })` runs the body with a
/// fresh, empty [`World`](crate::hostile::World) bound to `w` and checks that it ends the way the case
/// says (the body returns the [`Outcome`](crate::hostile::Outcome) it reached).
macro_rules! hostile {
    ($name:ident, $expect:ident, |$w:ident| $body:expr) => {
        #[test]
        fn $name() {
            let world = $crate::hostile::World::empty();
            let case = |$w: &$crate::hostile::World| -> $crate::hostile::Outcome { $body };
            assert_eq!(
                case(&world),
                $crate::hostile::Outcome::$expect,
                "the case ended, but not as {}",
                stringify!($expect)
            );
        }
    };
}
