//! A hash's two encodings and what can be done to each: packed pairs of
//! fields and values while it is small (Redis's listpack: up to
//! `hash-max-listpack-entries` fields of at most `hash-max-listpack-value`
//! bytes), a [`Table`] of [`Pair`]s past that. A hash never goes back to
//! packed (as Redis). Reads go through [`HashRef`], which borrows either
//! form where it is stored (in the entry, or boxed); writes through the
//! owned [`Hash`]. It never knows keys, deadlines or replies.

use super::member::Member;
use super::packed;
use super::table::{Pair, Table};
use super::Limits;

#[derive(Clone, Debug)]
pub enum Hash {
    Packed(Vec<u8>),
    Table(Table<Pair>),
}

#[derive(Clone, Copy)]
pub enum HashRef<'a> {
    Packed(&'a [u8]),
    Table(&'a Table<Pair>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Vec::new())
    }
}

impl<'a> HashRef<'a> {
    pub fn len(self) -> usize {
        match self {
            HashRef::Packed(p) => packed::pairs(p).count(),
            HashRef::Table(t) => t.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn get(self, field: &[u8]) -> Option<&'a [u8]> {
        match self {
            HashRef::Packed(p) => packed::pairs(p).find(|(f, _)| *f == field).map(|(_, v)| v),
            HashRef::Table(t) => t.get(field).map(|p| &*p.value),
        }
    }

    /// Every field and value, in the encoding's order.
    pub fn for_each(self, mut f: impl FnMut(&'a [u8], &'a [u8])) {
        match self {
            HashRef::Packed(p) => packed::pairs(p).for_each(|(k, v)| f(k, v)),
            HashRef::Table(t) => t.iter().for_each(|p| f(&p.field, &p.value)),
        }
    }

    pub fn encoding(self) -> &'static str {
        match self {
            HashRef::Packed(_) => "listpack",
            HashRef::Table(_) => "hashtable",
        }
    }

    /// The `i`-th field and value of a packed hash, or a random one of a
    /// table (`rand` picks either way).
    pub fn random(self, rand: u64) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            HashRef::Packed(p) => {
                let n = packed::pairs(p).count();
                if n == 0 {
                    return None;
                }
                packed::pairs(p).nth((rand % n as u64) as usize)
            }
            HashRef::Table(t) => t.random(rand).map(|p| (&*p.field, &*p.value)),
        }
    }

    pub fn to_owned(self) -> Hash {
        match self {
            HashRef::Packed(p) => Hash::Packed(p.to_vec()),
            HashRef::Table(t) => Hash::Table(t.clone()),
        }
    }
}

impl Hash {
    pub fn as_ref(&self) -> HashRef<'_> {
        match self {
            Hash::Packed(p) => HashRef::Packed(p),
            Hash::Table(t) => HashRef::Table(t),
        }
    }

    /// A hash sized for `n` fields that may be long (a loader's): packed
    /// when Redis would keep it so.
    pub fn with_capacity(n: usize, lim: &Limits) -> Hash {
        if n > lim.hash_entries {
            Hash::Table(Table::with_capacity(n))
        } else {
            Hash::Packed(Vec::new())
        }
    }

    /// Set `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: &Limits) -> bool {
        if let Hash::Packed(p) = self {
            if field.len() > lim.hash_value || value.len() > lim.hash_value {
                self.grow_into_table();
            } else {
                let at = find(p, field);
                if let Some((a, b)) = at {
                    let mut enc = Vec::with_capacity(packed::pair_len(field.len(), value.len()));
                    packed::push_pair(&mut enc, field, value);
                    p.splice(a..b, enc);
                    return false;
                }
                packed::push_pair(p, field, value);
                if packed::pairs(p).count() > lim.hash_entries {
                    self.grow_into_table();
                }
                return true;
            }
        }
        match self {
            // A field already there keeps its allocation; only the value changes.
            Hash::Table(t) => t.upsert(
                field,
                || Pair {
                    field: Member::new(field),
                    value: Member::new(value),
                },
                |p| p.value = Member::new(value),
            ),
            Hash::Packed(_) => false,
        }
    }

    /// Remove `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => match find(p, field) {
                Some((start, end)) => {
                    p.drain(start..end);
                    true
                }
                None => false,
            },
            Hash::Table(t) => {
                let gone = t.remove(field).is_some();
                if gone {
                    t.maybe_shrink();
                }
                gone
            }
        }
    }

    fn grow_into_table(&mut self) {
        if let Hash::Packed(p) = self {
            let mut t = Table::with_capacity(packed::pairs(p).count() + 1);
            for (f, v) in packed::pairs(p) {
                t.insert(Pair {
                    field: Member::new(f),
                    value: Member::new(v),
                });
            }
            *self = Hash::Table(t);
        }
    }
}

/// The byte range of `field`'s pair in packed pairs.
fn find(p: &[u8], field: &[u8]) -> Option<(usize, usize)> {
    let mut it = packed::pairs(p);
    loop {
        let start = it.offset();
        let (f, _) = it.next()?;
        if f == field {
            return Some((start, it.offset()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_converts_past_its_limits_and_keeps_its_fields() {
        let lim = Limits::default();
        let mut h = Hash::default();
        for i in 0..128 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", &lim));
        }
        assert_eq!(h.as_ref().encoding(), "listpack");
        assert!(!h.set(b"f7", b"seven", &lim));
        assert_eq!(h.as_ref().get(b"f7"), Some(&b"seven"[..]));
        assert!(h.set(b"f128", b"v", &lim));
        assert_eq!(h.as_ref().encoding(), "hashtable");
        assert_eq!(h.as_ref().len(), 129);
        assert_eq!(h.as_ref().get(b"f7"), Some(&b"seven"[..]));
        let mut small = Hash::default();
        small.set(b"a", &[b'x'; 65], &lim);
        assert_eq!(small.as_ref().encoding(), "hashtable");
        let mut p = Hash::default();
        p.set(b"a", b"1", &lim);
        p.set(b"b", b"2", &lim);
        assert!(p.remove(b"a"));
        assert!(!p.remove(b"a"));
        assert_eq!(p.as_ref().len(), 1);
        assert_eq!(p.as_ref().get(b"b"), Some(&b"2"[..]));
    }
}
