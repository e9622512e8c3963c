//! [`Endpoints`]: a connector's endpoint fields by name, in name order, as one small vector (a connector
//! has two or three of them: a `BTreeMap`'s node of eleven slots, 544 bytes, was a third of inspect's
//! memory on 10,000 connectors), held in place up to three (no allocation of its own for nearly all).
//! It reads, iterates, serializes and is scrubbed as the `BTreeMap` it replaces did: keys in byte order,
//! one value per key, the last insert of a key wins.

use crate::fields::Strings;
use crate::shared::Shared;
use serde::ser::{Serialize, SerializeMap, Serializer};
use smallvec::SmallVec;
use std::borrow::Cow;

/// A connector's endpoint fields by name: the names Dex's configs have are static (no string of their own
/// per connector); `--show-secrets` adds its fields by the names the config gives them. A value is
/// [`Shared`]: the view's `issuer` is its `issuer` value, not a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints(SmallVec<[(Cow<'static, str>, Shared); 3]>);

impl Endpoints {
    pub fn new() -> Endpoints {
        Endpoints(SmallVec::new())
    }

    /// Room for `n` fields.
    pub fn with_capacity(n: usize) -> Endpoints {
        Endpoints(SmallVec::with_capacity(n))
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    /// Sets `key` to `value`; an earlier value of the key is replaced (the key keeps its place).
    pub fn insert(&mut self, key: Cow<'static, str>, value: impl Into<Shared>) -> Option<Shared> {
        let value = value.into();
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Shared> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn remove(&mut self, key: &str) -> Option<Shared> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// The fields in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Cow<'static, str>, &Shared)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Cow<'static, str>> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Shared> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl ExactSizeIterator<Item = &mut Shared> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn into_values(self) -> impl ExactSizeIterator<Item = Shared> {
        self.0.into_iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const N: usize, V: Into<Shared>> From<[(Cow<'static, str>, V); N]> for Endpoints {
    fn from(a: [(Cow<'static, str>, V); N]) -> Endpoints {
        a.into_iter().collect()
    }
}

impl<V: Into<Shared>> Extend<(Cow<'static, str>, V)> for Endpoints {
    fn extend<I: IntoIterator<Item = (Cow<'static, str>, V)>>(&mut self, it: I) {
        for (k, v) in it {
            self.insert(k, v);
        }
    }
}

impl<V: Into<Shared>> FromIterator<(Cow<'static, str>, V)> for Endpoints {
    fn from_iter<I: IntoIterator<Item = (Cow<'static, str>, V)>>(it: I) -> Endpoints {
        let mut e = Endpoints::new();
        e.extend(it);
        e
    }
}

/// A map, as serde writes a `BTreeMap` of strings: the fields in name order.
impl Serialize for Endpoints {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&**k, v)?;
        }
        m.end()
    }
}

/// Every value, and every key that is not a plain name (letters and digits, as every name this program
/// gives is); a key that changes moves to its new place (a value already under the new name is replaced,
/// as a map's insert does).
impl Strings for Endpoints {
    fn strings(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) {
        self.values_mut().for_each(|v| v.strings(f));
        for (old, new) in crate::fields::renamed_keys(self.keys(), f) {
            if let Some(v) = self.remove(&old) {
                self.insert(new.into(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Inserts, removals, the renaming scrub and the JSON: as the BTreeMap it replaces.
        #[test]
        fn behaves_as_a_btreemap(ops in prop::collection::vec(
            (prop::sample::select(vec!["issuer", "clientID", "a b", "z", "", "Ä", "tenant", "a"]),
             "[a-c ]{0,3}", any::<bool>()), 0..24)) {
            let mut mine = Endpoints::new();
            let mut theirs: BTreeMap<Cow<'static, str>, String> = BTreeMap::new();
            for (k, v, remove) in &ops {
                if *remove {
                    prop_assert_eq!(mine.remove(k).map(String::from), theirs.remove(*k));
                } else {
                    prop_assert_eq!(
                        mine.insert(Cow::Borrowed(*k), v.clone()).map(String::from),
                        theirs.insert(Cow::Borrowed(*k), v.clone())
                    );
                }
                prop_assert_eq!(mine.get(k).map(|v| v.as_str()), theirs.get(*k).map(|v| v.as_str()));
                prop_assert_eq!(mine.len(), theirs.len());
            }
            let scrub = |t: &str| Some(t.replace('a', "b"));
            mine.strings(&mut |t| scrub(t));
            theirs.strings(&mut |t| scrub(t));
            prop_assert!(mine.iter().map(|(k, v)| (k, v.as_str())).eq(theirs.iter().map(|(k, v)| (k, v.as_str()))));
            prop_assert_eq!(
                serde_json::to_string(&mine).unwrap(),
                serde_json::to_string(&theirs).unwrap()
            );
            let again: Endpoints = theirs.clone().into_iter().collect();
            prop_assert_eq!(&again, &mine);
        }
    }
}
