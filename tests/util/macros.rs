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

/// One scenario on both engines: `on_both_engines!(name, |e| { … })` declares the module `name` with
/// the tests `name::docker` (a private dockerd) and `name::podman` (a private rootful Podman service),
/// each running the body with its fresh engine bound to `e`. The body sees the enclosing module's items.
macro_rules! on_both_engines {
    ($(#[$doc:meta])* $name:ident, |$e:ident| $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn scenario($e: $crate::util::engine::Engine) $body

            #[test]
            fn docker() {
                scenario($crate::util::engine::Engine::start())
            }

            #[test]
            fn podman() {
                scenario($crate::util::engine::Engine::podman())
            }
        }
    };
}
