//! The values that are not strings: hashes, sets, lists and sorted sets.
//! Each has a compact encoding while small — stored inside the key's own
//! entry, in one allocation with the key — and a bigger structure past
//! Redis's size settings ([`Limits`]; a hash table, a quicklist, a B+ tree
//! with an index), boxed beside the entry. This module
//! owns the encodings and their conversions, and nothing else: it never knows
//! keys, deadlines, shards, commands or replies.
//!
//! Its files, each using only those before it:
//! - [`member`]: a 16-byte string, inline up to 15 bytes.
//! - [`packed`]: the compact layouts (packed lists, intsets).
//! - [`table`]: the hash table of large collections, its bytes counted.
//! - [`hash`], [`set`], [`list`], [`zset`]: each type's encodings and operations.
//! - [`lazyfree`]: dropping a large collection on a background thread.

pub mod hash;
pub mod lazyfree;
pub mod list;
pub mod member;
pub mod packed;
pub mod set;
pub mod table;
pub mod zset;

use crate::storage::prefetch::Stage;
pub use hash::{Hash, HashRef};
pub use list::{List, ListLimit, ListRef};
pub use set::{Set, SetRef};
pub use zset::{Zset, ZsetRef};

/// When a small collection moves to a hash table: Redis's settings, with
/// Redis's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `hash-max-listpack-entries`
    pub hash_entries: usize,
    /// `hash-max-listpack-value`
    pub hash_value: usize,
    /// `set-max-intset-entries`
    pub set_intset_entries: usize,
    /// `set-max-listpack-entries`
    pub set_entries: usize,
    /// `set-max-listpack-value`
    pub set_value: usize,
    /// `list-max-listpack-size`
    pub list: ListLimit,
    /// `zset-max-listpack-entries`
    pub zset_entries: usize,
    /// `zset-max-listpack-value`
    pub zset_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_entries: 128,
            hash_value: 64,
            set_intset_entries: 512,
            set_entries: 128,
            set_value: 64,
            list: ListLimit::default(),
            zset_entries: 128,
            zset_value: 64,
        }
    }
}

/// A collection value, owned.
#[derive(Clone, Debug)]
pub enum Object {
    Hash(Hash),
    Set(Set),
    List(List),
    Zset(Zset),
}

/// A collection value, borrowed where it is stored.
#[derive(Clone, Copy)]
pub enum ObjRef<'a> {
    Hash(HashRef<'a>),
    Set(SetRef<'a>),
    List(ListRef<'a>),
    Zset(ZsetRef<'a>),
}

/// The first byte of a compact collection stored in an entry.
pub const TAG_HASH_PACKED: u8 = 1;
pub const TAG_SET_INTS: u8 = 2;
pub const TAG_SET_PACKED: u8 = 3;
pub const TAG_LIST_PACKED: u8 = 4;
pub const TAG_ZSET_PACKED: u8 = 5;

impl Object {
    pub fn as_ref(&self) -> ObjRef<'_> {
        match self {
            Object::Hash(h) => ObjRef::Hash(h.as_ref()),
            Object::Set(s) => ObjRef::Set(s.as_ref()),
            Object::List(l) => ObjRef::List(l.as_ref()),
            Object::Zset(z) => ObjRef::Zset(z.as_ref()),
        }
    }

    /// The compact form's tag and bytes, when this object has one (it is
    /// then stored inside its entry).
    pub fn inline(&self) -> Option<(u8, &[u8])> {
        match self {
            Object::Hash(Hash::Packed(p)) => Some((TAG_HASH_PACKED, p)),
            Object::Set(Set::Ints(s)) => Some((TAG_SET_INTS, s)),
            Object::Set(Set::Packed(p)) => Some((TAG_SET_PACKED, p)),
            Object::List(l) => l.inline().map(|p| (TAG_LIST_PACKED, p)),
            Object::Zset(z) => z.inline().map(|p| (TAG_ZSET_PACKED, p)),
            _ => None,
        }
    }

    /// Move up to `budget` elements of a table resize under way (see
    /// [`table::Table::settle`]); true while one is still under way.
    pub fn settle(&mut self, budget: &mut usize) -> bool {
        match self {
            Object::Hash(Hash::Table(t)) => t.settle(budget),
            Object::Set(Set::Table(t)) => t.settle(budget),
            Object::Zset(z) => z.settle(budget),
            _ => false,
        }
    }

    /// Bytes the object takes outside its entry and box.
    pub fn mem_size(&self) -> usize {
        match self {
            Object::Hash(Hash::Table(t)) => t.mem_size(),
            Object::Set(Set::Table(t)) => t.mem_size(),
            Object::Hash(Hash::Packed(p)) | Object::Set(Set::Packed(p) | Set::Ints(p)) => {
                crate::storage::memory::chunk_size(p.capacity())
            }
            Object::List(l) => l.mem_size(),
            Object::Zset(z) => z.mem_size(),
        }
    }
}

impl Eq for Object {}

impl<'a> ObjRef<'a> {
    /// True for a big collection's [`table::Table`] (not a compact encoding).
    #[inline]
    pub fn is_table(self) -> bool {
        matches!(
            self,
            ObjRef::Hash(HashRef::Table(_)) | ObjRef::Set(SetRef::Table(_))
        )
    }

    /// Start loading one stage of what a lookup of the field or member
    /// hashed `h` (`member_hash`) will read in a big collection's table
    /// (`Table::prefetch`). Nothing for a compact encoding: it lives in its
    /// entry, which the key's own prefetch loads.
    #[inline]
    pub fn prefetch_member(self, h: u64, stage: Stage) {
        match self {
            ObjRef::Hash(HashRef::Table(t)) => t.prefetch(h, stage),
            ObjRef::Set(SetRef::Table(t)) => t.prefetch(h, stage),
            _ => {}
        }
    }

    /// A compact collection stored inline as `tag` and `bytes`.
    pub fn from_inline(tag: u8, bytes: &'a [u8]) -> Option<ObjRef<'a>> {
        Some(match tag {
            TAG_HASH_PACKED => ObjRef::Hash(HashRef::Packed(bytes)),
            TAG_SET_INTS => ObjRef::Set(SetRef::Ints(bytes)),
            TAG_SET_PACKED => ObjRef::Set(SetRef::Packed(bytes)),
            TAG_LIST_PACKED => ObjRef::List(ListRef::Packed(bytes)),
            TAG_ZSET_PACKED => ObjRef::Zset(ZsetRef::Packed(bytes)),
            _ => return None,
        })
    }

    /// True while the collection's table is being resized in steps.
    pub fn resizing(self) -> bool {
        match self {
            ObjRef::Hash(HashRef::Table(t)) => t.resizing(),
            ObjRef::Set(SetRef::Table(t)) => t.resizing(),
            ObjRef::Zset(ZsetRef::Big(b)) => b.index().resizing(),
            _ => false,
        }
    }

    /// TYPE's name.
    pub fn type_name(self) -> &'static str {
        match self {
            ObjRef::Hash(_) => "hash",
            ObjRef::Set(_) => "set",
            ObjRef::List(_) => "list",
            ObjRef::Zset(_) => "zset",
        }
    }

    /// OBJECT ENCODING's name.
    pub fn encoding(self) -> &'static str {
        match self {
            ObjRef::Hash(h) => h.encoding(),
            ObjRef::Set(s) => s.encoding(),
            ObjRef::List(l) => l.encoding(),
            ObjRef::Zset(z) => z.encoding(),
        }
    }

    pub fn len(self) -> usize {
        match self {
            ObjRef::Hash(h) => h.len(),
            ObjRef::Set(s) => s.len(),
            ObjRef::List(l) => l.len(),
            ObjRef::Zset(z) => z.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn to_owned(self) -> Object {
        match self {
            ObjRef::Hash(h) => Object::Hash(h.to_owned()),
            ObjRef::Set(s) => Object::Set(s.to_owned()),
            ObjRef::List(l) => Object::List(l.to_owned()),
            ObjRef::Zset(z) => Object::Zset(z.to_owned()),
        }
    }
}

impl PartialEq for Object {
    /// Same type and same contents, whatever the encodings.
    fn eq(&self, other: &Object) -> bool {
        fn sorted_pairs(h: HashRef<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut v = Vec::new();
            h.for_each(|f, x| v.push((f.to_vec(), x.to_vec())));
            v.sort();
            v
        }
        fn sorted(s: SetRef<'_>) -> Vec<Vec<u8>> {
            let mut v: Vec<Vec<u8>> = s.members().into_iter().map(|m| m.into_owned()).collect();
            v.sort();
            v
        }
        match (self.as_ref(), other.as_ref()) {
            (ObjRef::Hash(a), ObjRef::Hash(b)) => sorted_pairs(a) == sorted_pairs(b),
            (ObjRef::Set(a), ObjRef::Set(b)) => sorted(a) == sorted(b),
            // A list is its elements in order.
            (ObjRef::List(a), ObjRef::List(b)) => a.iter().eq(b.iter()),
            // A sorted set is its elements in order, scores to the bit.
            (ObjRef::Zset(a), ObjRef::Zset(b)) => {
                let all = |z: ZsetRef<'_>| {
                    let mut v = Vec::with_capacity(z.len());
                    z.for_each(|s, m| v.push((s.to_bits(), m.to_vec())));
                    v
                };
                all(a) == all(b)
            }
            _ => false,
        }
    }
}
