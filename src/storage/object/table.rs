//! [`Table`]: the hash table behind a large hash or set — hashbrown's, with
//! the bytes it takes counted as it changes (so a shard's accounting reads it
//! in O(1)) and a layout counter (so HSCAN and SSCAN can walk it by bucket
//! and know when entries may have moved). It knows elements by their key
//! bytes only: never which command changed it, never a reply.

use super::member::Member;
use crate::storage::hash::member_hash;
use crate::storage::memory::chunk_size;
use hashbrown::hash_table::Entry as Slot;
use hashbrown::HashTable;
use std::cell::Cell;

/// What a table holds: a set's member, or a hash's field and value.
pub trait Elem {
    fn key(&self) -> &[u8];
    /// Heap bytes beside the element's own slot.
    fn heap_size(&self) -> usize;
}

impl Elem for Member {
    #[inline]
    fn key(&self) -> &[u8] {
        self
    }
    #[inline]
    fn heap_size(&self) -> usize {
        Member::heap_size(self)
    }
}

/// A hash's field and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub field: Member,
    pub value: Member,
}

impl Elem for Pair {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.field
    }
    #[inline]
    fn heap_size(&self) -> usize {
        self.field.heap_size() + self.value.heap_size()
    }
}

#[derive(Clone)]
pub struct Table<T> {
    table: HashTable<T>,
    /// Sum of the elements' `heap_size`.
    heap: usize,
    /// Bumped when elements may have changed buckets (a resize or an
    /// in-place rehash: hashbrown calls the hasher only then).
    layout: u32,
}

impl<T: Elem> Default for Table<T> {
    fn default() -> Self {
        Table::with_capacity(0)
    }
}

impl<T: Elem> Table<T> {
    pub fn with_capacity(n: usize) -> Table<T> {
        Table {
            table: HashTable::with_capacity(n),
            heap: 0,
            layout: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.table.find(member_hash(key), |e| e.key() == key)
    }

    /// Insert `e`, replacing an element with its key; returns the old one.
    pub fn insert(&mut self, e: T) -> Option<T> {
        let moved = Cell::new(false);
        let slot = self.table.entry(
            member_hash(e.key()),
            |x| x.key() == e.key(),
            |x| {
                moved.set(true);
                member_hash(x.key())
            },
        );
        self.heap += e.heap_size();
        let old = match slot {
            Slot::Occupied(mut o) => Some(std::mem::replace(o.get_mut(), e)),
            Slot::Vacant(v) => {
                v.insert(e);
                None
            }
        };
        if moved.get() {
            self.layout = self.layout.wrapping_add(1);
        }
        if let Some(o) = &old {
            self.heap -= o.heap_size();
        }
        old
    }

    /// The element with `key` changed by `update` in place, or, when there is
    /// none, `make()` inserted: one probe either way. True when inserted.
    pub fn upsert(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> T,
        update: impl FnOnce(&mut T),
    ) -> bool {
        let moved = Cell::new(false);
        let slot = self.table.entry(
            member_hash(key),
            |x| x.key() == key,
            |x| {
                moved.set(true);
                member_hash(x.key())
            },
        );
        let inserted = match slot {
            Slot::Occupied(mut o) => {
                let e = o.get_mut();
                let before = e.heap_size();
                update(e);
                self.heap = self.heap - before + e.heap_size();
                false
            }
            Slot::Vacant(v) => {
                let e = make();
                self.heap += e.heap_size();
                v.insert(e);
                true
            }
        };
        if moved.get() {
            self.layout = self.layout.wrapping_add(1);
        }
        inserted
    }

    /// Change the element with `key` in place (its key must stay the same).
    pub fn update<R>(&mut self, key: &[u8], f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let e = self.table.find_mut(member_hash(key), |e| e.key() == key)?;
        let before = e.heap_size();
        let r = f(e);
        self.heap = self.heap - before + e.heap_size();
        Some(r)
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let (e, _) = self
            .table
            .find_entry(member_hash(key), |e| e.key() == key)
            .ok()?
            .remove();
        self.heap -= e.heap_size();
        Some(e)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.table.iter()
    }

    #[inline]
    pub fn num_buckets(&self) -> usize {
        self.table.num_buckets()
    }

    /// The element in bucket `i`, if that bucket is full.
    #[inline]
    pub fn at(&self, i: usize) -> Option<&T> {
        self.table.get_bucket(i)
    }

    /// Remove the element in bucket `i`, if that bucket is full.
    pub fn take_at(&mut self, i: usize) -> Option<T> {
        let slot = self.table.get_bucket_entry(i).ok()?;
        let (e, _) = slot.remove();
        self.heap -= e.heap_size();
        Some(e)
    }

    /// Changes whenever bucket indexes may have been invalidated.
    #[inline]
    pub fn layout(&self) -> u32 {
        self.layout
    }

    /// Bytes the table takes from malloc: its buckets (a slot and a control
    /// byte each, plus hashbrown's group padding) and the elements' heap.
    #[inline]
    pub fn mem_size(&self) -> usize {
        let buckets = self.table.num_buckets();
        let slots = if buckets == 0 {
            0
        } else {
            chunk_size(buckets * (std::mem::size_of::<T>() + 1) + 16)
        };
        slots + self.heap
    }

    /// A random element: a random bucket, then the next full one (wrapping).
    pub fn random(&self, rand: u64) -> Option<&T> {
        let n = self.num_buckets();
        if self.is_empty() || n == 0 {
            return None;
        }
        let start = (rand % n as u64) as usize;
        (0..n).find_map(|k| self.at((start + k) % n))
    }

    /// Shrink the table when it is at most a quarter full (after removals).
    pub fn maybe_shrink(&mut self) {
        if self.table.len() * 4 <= self.table.capacity() && self.table.capacity() > 16 {
            self.table
                .shrink_to(self.table.len(), |x| member_hash(x.key()));
            self.layout = self.layout.wrapping_add(1);
        }
    }
}

impl<T> std::fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({} elements)", self.table.len())
    }
}
