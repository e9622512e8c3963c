//! [`Shared`]: a string read once and held by everything that shows it. A connector row's id, type and
//! name are read from the store once and held, without a copy, by the row ([`crate::dex::ConnectorRow`]),
//! its view in the plan and the report ([`crate::plan::ConnectorView`]); rows of the same type share one
//! type string. For 10,000 connectors that is 40,000 allocations fewer than a `String` in each place.
//!
//! It reads, compares, prints and serializes as the `String` it replaces (`Debug` and `Display` too);
//! it is never changed in place: the report's scrub and escapes (`fields::Strings`) give an owner
//! a new string when the text changes, and the other owners keep theirs.

use std::fmt;
use std::sync::Arc;

/// An immutable string shared by its owners (one allocation, counted references).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shared(Arc<str>);

impl Shared {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Shared {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Shared {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Shared {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Shared {
    fn from(s: &str) -> Shared {
        Shared(Arc::from(s))
    }
}

impl From<String> for Shared {
    fn from(s: String) -> Shared {
        Shared(Arc::from(s))
    }
}

impl From<&String> for Shared {
    fn from(s: &String) -> Shared {
        Shared(Arc::from(s.as_str()))
    }
}

impl From<Shared> for String {
    fn from(s: Shared) -> String {
        s.0.to_string()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl serde::Serialize for Shared {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&self.0)
    }
}

impl PartialEq<str> for Shared {
    fn eq(&self, o: &str) -> bool {
        *self.0 == *o
    }
}

impl PartialEq<&str> for Shared {
    fn eq(&self, o: &&str) -> bool {
        *self.0 == **o
    }
}

impl PartialEq<String> for Shared {
    fn eq(&self, o: &String) -> bool {
        *self.0 == **o
    }
}

impl PartialEq<Shared> for String {
    fn eq(&self, o: &Shared) -> bool {
        **self == *o.0
    }
}

impl PartialEq<Shared> for str {
    fn eq(&self, o: &Shared) -> bool {
        *self == *o.0
    }
}

impl PartialEq<Shared> for &str {
    fn eq(&self, o: &Shared) -> bool {
        **self == *o.0
    }
}

/// The strings a run reads many times over (a connector's type: a handful among thousands of rows), one
/// [`Shared`] each: the first row of a type allocates it, the others share it.
#[derive(Default)]
pub struct Interned(Vec<Shared>);

impl Interned {
    /// At most this many are kept (Dex has about a dozen connector types); beyond it a string is new each
    /// time, as without the table.
    const MAX: usize = 16;

    pub fn get(&mut self, s: &str) -> Shared {
        if let Some(t) = self.0.iter().find(|t| ***t == *s) {
            return t.clone();
        }
        let t = Shared::from(s);
        if self.0.len() < Self::MAX {
            self.0.push(t.clone());
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prints_and_serializes_as_a_string() {
        for s in ["", "oidc", "a \"quoted\"\n\u{1b}[31m name", "Ä"] {
            let shared = Shared::from(s);
            let owned = s.to_string();
            assert_eq!(format!("{shared:?}"), format!("{owned:?}"));
            assert_eq!(format!("{shared}"), owned);
            assert_eq!(
                serde_json::to_string(&shared).unwrap(),
                serde_json::to_string(&owned).unwrap()
            );
            assert_eq!(shared, owned);
            assert_eq!(owned, shared);
            assert_eq!(shared, s);
            assert_eq!(s, shared);
            assert_eq!(String::from(shared.clone()), owned);
            assert_eq!(&*shared, s);
        }
        assert_eq!(Shared::default(), "");
    }

    #[test]
    fn interned_strings_are_one_allocation() {
        let mut types = Interned::default();
        let a = types.get("oidc");
        let b = types.get("oidc");
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(!Arc::ptr_eq(&a.0, &types.get("ldap").0));
        // Past the table's size a string is still right, only not shared.
        for n in 0..40 {
            assert_eq!(types.get(&n.to_string()), n.to_string());
        }
    }
}
