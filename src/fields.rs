//! Every string of a report's values, declared once: a type of the report is declared with [`fields!`],
//! which defines the struct and its [`Strings`] (a visit of every field, in declaration order) from the one
//! list of fields. The secret scrub and the terminal escapes run over [`Strings`], so a field added to a
//! report type is scrubbed and escaped as soon as it exists, and a field of a type that has no [`Strings`]
//! does not compile.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// A value whose strings the scrub and the escapes must see.
pub trait Strings {
    /// Calls `f` on every string of the value, map keys included where they can carry text from outside;
    /// `f` returns the string's new text when it changes, and the string is replaced by it.
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>);
}

impl Strings for String {
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
        if let Some(t) = f(self) {
            *self = t;
        }
    }
}

/// A shared string is never changed in place: this owner gets the new text, the others keep theirs.
impl Strings for crate::shared::Shared {
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
        if let Some(t) = f(self) {
            *self = t.into();
        }
    }
}

impl<T: Strings> Strings for Option<T> {
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
        if let Some(v) = self {
            v.strings(f)
        }
    }
}

impl<T: Strings> Strings for Vec<T> {
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
        for v in self {
            v.strings(f)
        }
    }
}

/// Values that hold no text from outside: numbers, flags, and names fixed in this program.
macro_rules! no_strings {
    ($($t:ty),*) => {
        $(impl Strings for $t {
            fn strings(&mut self, _: &mut dyn FnMut(&str) -> Option<String>) {}
        })*
    };
}
no_strings!(bool, u32, u64, i64, usize, &'static str);

/// The keys among `keys` that `f` changes, with their new text: only keys that are not a plain name
/// (letters and digits, as every name this program gives is) are shown to `f`. A map of names moves
/// each to its new place.
pub fn renamed_keys<'a>(
    keys: impl Iterator<Item = &'a Cow<'static, str>>,
    f: &mut dyn FnMut(&str) -> Option<String>,
) -> Vec<(Cow<'static, str>, String)> {
    keys.filter(|k| !k.bytes().all(|b| b.is_ascii_alphanumeric()))
        .filter_map(|k| {
            let t = f(k)?;
            (t != **k).then(|| (k.clone(), t))
        })
        .collect()
}

/// A map of names to values: every value, and every key that is not a plain name (letters and digits,
/// as every name this program gives is); the map is rebuilt only when such a key changes.
impl Strings for BTreeMap<Cow<'static, str>, String> {
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
        self.values_mut().for_each(|v| v.strings(f));
        for (old, new) in renamed_keys(self.keys(), f) {
            if let Some(v) = self.remove(&old) {
                self.insert(new.into(), v);
            }
        }
    }
}

/// Declares a struct of the report and its [`Strings`] from one list of fields.
#[macro_export]
macro_rules! fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl $crate::fields::Strings for $name {
            fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
                $( $crate::fields::Strings::strings(&mut self.$field, f); )*
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::fields! {
        #[derive(Debug, Default)]
        pub struct Sample {
            pub a: String,
            pub b: Option<String>,
            pub c: Vec<String>,
            pub n: u64,
            pub m: BTreeMap<Cow<'static, str>, String>,
        }
    }

    #[test]
    fn every_declared_string_is_visited() {
        let mut s = Sample {
            a: "x".into(),
            b: Some("x".into()),
            c: vec!["x".into(), "x".into()],
            n: 7,
            m: [
                (Cow::Borrowed("plain"), "x".to_string()),
                (Cow::Owned("we.ird".to_string()), "x".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        let mut seen = 0;
        s.strings(&mut |t| {
            seen += 1;
            Some(t.replace('x', "y").replace('.', "-"))
        });
        // a, b, two in c, two map values, one odd key.
        assert_eq!(seen, 7);
        assert_eq!((s.a.as_str(), s.b.as_deref()), ("y", Some("y")));
        assert!(s.m.contains_key("we-ird") && s.m.contains_key("plain"));
    }
}
