//! [`Table`]: the hash table behind a large hash or set — hashbrown's, with
//! the bytes it takes counted as it changes (so a shard's accounting reads it
//! in O(1)), a layout counter (so HSCAN and SSCAN can walk it by bucket and
//! know when entries may have moved), and growth without a pause.
//!
//! hashbrown grows (or shrinks) a table in one step: every element is
//! rehashed before the insert returns, a few hundred milliseconds for ten
//! million members, and every other client of the core waits. Past
//! [`STEP_FROM`] elements this table resizes as Redis's dict does instead: it
//! allocates the new table, keeps the old one beside it, and every write moves
//! at most [`MOVES`] elements across, walking the old table's buckets in
//! order. A key lives in exactly one of the two; lookups try the new one
//! first. Bucket indexes never change under a stepwise resize: the old table
//! keeps the indexes it had and the new one's start where the old one's end
//! (the range below a table's first bucket is empty once the old one is
//! gone). So a bucket walk (SCAN) misses no element present all along and
//! never starts over for a resize: an element only moves forward, from an
//! old bucket into the new table, which the walk reaches later (one moved
//! from a bucket already walked is seen twice, which SCAN allows). Only a
//! one-step change (a small table's resize, hashbrown's rehash in place)
//! makes walks start over.
//!
//! It knows elements by their key bytes only: never which command changed
//! it, never a reply.

use super::member::Member;
use crate::storage::hash::member_hash;
use crate::storage::memory::chunk_size;
use crate::storage::prefetch::{self, prefetch_addr, Stage};
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

/// Tables with fewer elements resize in one step, as hashbrown does: a
/// rehash of 4,096 small elements takes tens of microseconds.
pub const STEP_FROM: usize = 4096;
/// Elements moved from the old table to the new one per write while a resize
/// is under way (the core's upkeep moves more while writes pause, see
/// `Keyspace::settle`). Any value ≥ 2 finishes a resize before the new table
/// (room for twice the elements) fills. Measured growing a set to 10,000,000
/// members (bench/results/2026-12-06-table-growth): 4 gave other clients the
/// lowest tails, 16 and 64 less CPU in all (fewer writes probe both tables)
/// but longer bursts. The largest cost left in one write is the new table's
/// allocation (its control bytes are set: 16 MB for 16,777,216 buckets).
pub const MOVES: usize = 4;

#[derive(Clone)]
pub struct Table<T> {
    /// Where inserts go; the only table when no resize is under way.
    table: HashTable<T>,
    /// The bucket index of `table`'s first bucket.
    at: usize,
    /// The table being emptied into `table` during a resize.
    old: Option<Old<T>>,
    /// Sum of the elements' `heap_size`.
    heap: usize,
    /// Bumped when elements may have changed buckets other than by a
    /// stepwise resize's forward moves (hashbrown's own resize or in-place
    /// rehash: it calls the hasher only then).
    layout: u32,
}

#[derive(Clone)]
struct Old<T> {
    table: HashTable<T>,
    /// Buckets below this are empty: the next one to move.
    next: usize,
    /// The bucket index of this table's first bucket.
    at: usize,
}

/// Where bucket indexes start over from 0 (with the layout bumped) rather
/// than keep climbing: far below the 2^45 a SCAN cursor can hold.
const INDEX_LIMIT: usize = 1 << 40;

impl<T: Elem> Default for Table<T> {
    fn default() -> Self {
        Table::with_capacity(0)
    }
}

/// hashbrown's hasher for a table's elements, noting that it was called (so
/// bucket indexes changed).
fn rehasher<T: Elem>(moved: &Cell<bool>) -> impl Fn(&T) -> u64 + '_ {
    move |x| {
        moved.set(true);
        member_hash(x.key())
    }
}

impl<T: Elem> Table<T> {
    pub fn with_capacity(n: usize) -> Table<T> {
        Table {
            table: HashTable::with_capacity(n),
            at: 0,
            old: None,
            heap: 0,
            layout: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.table.len() + self.old.as_ref().map_or(0, |o| o.table.len())
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while a resize is moving elements across.
    pub fn resizing(&self) -> bool {
        self.old.is_some()
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        let h = member_hash(key);
        let eq = |e: &T| e.key() == key;
        match self.table.find(h, eq) {
            Some(e) => Some(e),
            None => self.old.as_ref()?.table.find(h, eq),
        }
    }

    /// Start loading one [`Stage`] of what a lookup of the key hashed `h`
    /// (`member_hash`) will read, in both tables during a resize. Changes
    /// nothing; reads only what the stage before started loading.
    #[inline]
    pub fn prefetch(&self, h: u64, stage: Stage) {
        let one = |t: &HashTable<T>| match stage {
            Stage::Group => {
                if let Some(ctrl) = prefetch::ctrl_addr(t) {
                    prefetch::prefetch_group(t, ctrl, h);
                }
            }
            Stage::Slots => {
                prefetch::prefetch_candidates(t, h, |e| prefetch_addr(e as *const T as usize))
            }
            Stage::Keys => {
                prefetch::prefetch_candidates(t, h, |e| prefetch_addr(e.key().as_ptr() as usize))
            }
        };
        one(&self.table);
        if let Some(o) = &self.old {
            one(&o.table);
        }
    }

    /// Insert `e`, replacing an element with its key; returns the old one.
    pub fn insert(&mut self, e: T) -> Option<T> {
        self.before_write();
        let h = member_hash(e.key());
        let moved = Cell::new(false);
        let slot = self
            .table
            .entry(h, |x| x.key() == e.key(), rehasher(&moved));
        self.heap += e.heap_size();
        let old = match slot {
            Slot::Occupied(mut o) => Some(std::mem::replace(o.get_mut(), e)),
            Slot::Vacant(v) => {
                // Not in the new table: it may still be in the old one.
                let in_old = take_old(&mut self.old, h, e.key());
                v.insert(e);
                in_old
            }
        };
        if moved.get() {
            self.reindex();
        }
        if let Some(o) = &old {
            self.heap -= o.heap_size();
        }
        old
    }

    /// The element with `key` changed by `update` in place, or, when there is
    /// none, `make()` inserted: one probe either way (two during a resize, for
    /// a key not in the new table). True when inserted.
    pub fn upsert(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> T,
        update: impl FnOnce(&mut T),
    ) -> bool {
        self.before_write();
        let h = member_hash(key);
        let moved = Cell::new(false);
        let slot = self.table.entry(h, |x| x.key() == key, rehasher(&moved));
        let inserted = match slot {
            Slot::Occupied(mut o) => {
                let e = o.get_mut();
                let before = e.heap_size();
                update(e);
                self.heap = self.heap - before + e.heap_size();
                false
            }
            Slot::Vacant(v) => match take_old(&mut self.old, h, key) {
                Some(mut e) => {
                    // Found in the old table: it moves across as it changes.
                    let before = e.heap_size();
                    update(&mut e);
                    self.heap = self.heap - before + e.heap_size();
                    v.insert(e);
                    false
                }
                None => {
                    let e = make();
                    self.heap += e.heap_size();
                    v.insert(e);
                    true
                }
            },
        };
        if moved.get() {
            self.reindex();
        }
        inserted
    }

    /// Change the element with `key` in place (its key must stay the same).
    pub fn update<R>(&mut self, key: &[u8], f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.step();
        let h = member_hash(key);
        let eq = |e: &T| e.key() == key;
        let e = match self.table.find_mut(h, eq) {
            Some(e) => e,
            None => self.old.as_mut()?.table.find_mut(h, eq)?,
        };
        let before = e.heap_size();
        let r = f(e);
        self.heap = self.heap - before + e.heap_size();
        Some(r)
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        self.step();
        let h = member_hash(key);
        let e = match self.table.find_entry(h, |e| e.key() == key) {
            Ok(slot) => slot.remove().0,
            Err(_) => take_old(&mut self.old, h, key)?,
        };
        self.heap -= e.heap_size();
        Some(e)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let old = self.old.iter().flat_map(|o| o.table.iter());
        self.table.iter().chain(old)
    }

    /// The bucket indexes that may hold elements: those of the old table
    /// during a resize, then the new one's. Indexes below the start are
    /// empty (tables a finished resize emptied).
    #[inline]
    pub fn buckets(&self) -> std::ops::Range<usize> {
        let start = self.old.as_ref().map_or(self.at, |o| o.at);
        start..self.at + self.table.num_buckets()
    }

    /// The element in bucket `i`, if that bucket is full.
    #[inline]
    pub fn at(&self, i: usize) -> Option<&T> {
        match &self.old {
            Some(o) if i < self.at => o.table.get_bucket(i.checked_sub(o.at)?),
            _ => self.table.get_bucket(i.checked_sub(self.at)?),
        }
    }

    /// Changes whenever bucket indexes may have been invalidated.
    #[inline]
    pub fn layout(&self) -> u32 {
        self.layout
    }

    /// Bytes the table takes from malloc: its buckets (a slot and a control
    /// byte each, plus hashbrown's group padding; both tables' during a
    /// resize) and the elements' heap.
    #[inline]
    pub fn mem_size(&self) -> usize {
        let buckets = |t: &HashTable<T>| match t.num_buckets() {
            0 => 0,
            n => chunk_size(n * (std::mem::size_of::<T>() + 1) + 16),
        };
        buckets(&self.table) + self.old.as_ref().map_or(0, |o| buckets(&o.table)) + self.heap
    }

    /// A random element: a random bucket, then the next full one (wrapping).
    pub fn random(&self, rand: u64) -> Option<&T> {
        let b = self.buckets();
        let n = b.len();
        if self.is_empty() || n == 0 {
            return None;
        }
        let first = (rand % n as u64) as usize;
        (0..n).find_map(|k| self.at(b.start + (first + k) % n))
    }

    /// Shrink the table when it is at most a quarter full (after removals).
    pub fn maybe_shrink(&mut self) {
        let (len, cap) = (self.table.len(), self.table.capacity());
        if self.old.is_some() || len * 4 > cap || cap <= 16 {
            return;
        }
        if len >= STEP_FROM {
            self.begin_resize(len * 2);
        } else {
            self.table.shrink_to(len, |x| member_hash(x.key()));
            self.reindex();
        }
    }

    /// Before an insert: move some elements of a resize under way, or begin
    /// one where hashbrown would resize in one step (no room left: it would
    /// grow, or rehash in place to clear removals' tombstones).
    fn before_write(&mut self) {
        if self.old.is_some() {
            self.step();
        } else if self.table.len() >= STEP_FROM && self.table.len() == self.table.capacity() {
            self.begin_resize(self.table.len() * 2);
        }
    }

    /// Start moving every element into a new table with room for `cap`.
    fn begin_resize(&mut self, cap: usize) {
        let table = std::mem::replace(&mut self.table, HashTable::with_capacity(cap));
        let at = self.at;
        self.at += table.num_buckets();
        self.old = Some(Old { table, next: 0, at });
        if self.at + self.table.num_buckets() > INDEX_LIMIT {
            self.reindex();
        }
    }

    /// Bucket indexes changed other than by a resize's moves: walks start
    /// over, and indexes start from 0 again.
    fn reindex(&mut self) {
        self.layout = self.layout.wrapping_add(1);
        match self.old.as_mut() {
            Some(o) => {
                o.at = 0;
                self.at = o.table.num_buckets();
            }
            None => self.at = 0,
        }
    }

    /// A write's share of a resize under way: [`MOVES`] elements.
    fn step(&mut self) {
        self.move_some(MOVES);
    }

    /// Move up to `budget` elements of a resize under way (the core's
    /// upkeep finishes resizes that writes left half done, as Redis's
    /// `activerehashing` does); `budget` is reduced by the elements moved.
    /// True while the resize is still under way.
    pub fn settle(&mut self, budget: &mut usize) -> bool {
        *budget -= self.move_some(*budget);
        self.old.is_some()
    }

    /// Move up to `max` elements (looking at no more than 8× as many
    /// buckets) from the old table, dropping it once empty; returns how many
    /// moved.
    fn move_some(&mut self, max: usize) -> usize {
        let Some(old) = self.old.as_mut() else {
            return 0;
        };
        let moved = Cell::new(false);
        let n = old.table.num_buckets();
        let (mut taken, mut looked) = (0, 0);
        while old.next < n && taken < max && looked < max.saturating_mul(8) {
            if let Ok(slot) = old.table.get_bucket_entry(old.next) {
                let (e, _) = slot.remove();
                self.table
                    .insert_unique(member_hash(e.key()), e, rehasher(&moved));
                taken += 1;
            }
            old.next += 1;
            looked += 1;
        }
        if old.table.is_empty() {
            self.old = None;
        }
        if moved.get() {
            self.reindex();
        }
        taken
    }
}

/// Remove `key` from the old table, if a resize is under way and it is still
/// there. A function of the field alone, so that it can run while an entry of
/// the new table is open.
fn take_old<T: Elem>(old: &mut Option<Old<T>>, h: u64, key: &[u8]) -> Option<T> {
    let old = old.as_mut()?;
    let (e, _) = old.table.find_entry(h, |e| e.key() == key).ok()?.remove();
    Some(e)
}

impl<T> std::fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let old = self.old.as_ref().map_or(0, |o| o.table.len());
        write!(f, "Table({} elements)", self.table.len() + old)
    }
}

#[cfg(test)]
mod tests;
