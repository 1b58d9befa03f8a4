//! A shard: one small hashbrown table of entries plus its own expiry heap and
//! byte count. Shards are kept small (the staircase splits them) so that no
//! table resize is a visible pause. A shard never decides routing; lookups are
//! by the *table hash* ([`super::hash::table_hash`]) of the full key.
//!
//! Expiry: a min-heap of `(deadline, table_hash)` per shard. Heap entries are
//! never removed eagerly when a TTL changes; an entry is acted on only when the
//! live entry with that hash still has exactly that deadline. The heap is rebuilt
//! from the table when stale items exceed live TTL keys (plus slack), so its size
//! stays proportional to the shard — which the staircase keeps small.

use super::entry::Entry;
use bytes::Bytes;

pub struct Shard {
    // private fields chosen by the implementation
}

impl Default for Shard {
    fn default() -> Self {
        Self::new()
    }
}

impl Shard {
    pub fn new() -> Shard {
        todo!()
    }
    /// Live and not-yet-purged entries.
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Sum of `Entry::mem_size` over entries.
    pub fn bytes(&self) -> usize {
        todo!()
    }
    /// Entries that carry a deadline.
    pub fn ttl_keys(&self) -> usize {
        todo!()
    }
    /// The live entry for `key`; an expired entry is removed here and `None` returned.
    pub fn get(&mut self, thash: u64, key: &[u8], now: u64) -> Option<&Entry> {
        let _ = (thash, key, now);
        todo!()
    }
    /// Apply `f` to the live entry for `key` (expired → removed, returns None), then
    /// fix byte accounting and, if the deadline changed to a new `Some`, push it on the heap.
    pub fn update<R>(&mut self, thash: u64, key: &[u8], now: u64, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        let _ = (thash, key, now, f);
        todo!()
    }
    /// Insert or replace; returns the previous entry (even if it was expired).
    pub fn insert(&mut self, thash: u64, entry: Entry) -> Option<Entry> {
        let _ = (thash, entry);
        todo!()
    }
    /// Remove `key` whatever its expiry state; returns it.
    pub fn remove(&mut self, thash: u64, key: &[u8]) -> Option<Entry> {
        let _ = (thash, key);
        todo!()
    }
    /// Remove up to `max` entries whose deadline is `<= now`, found through the heap
    /// (never a scan of the table). Pushes each removed key onto `expired`. Returns the count.
    pub fn expire_due(&mut self, now: u64, max: usize, expired: &mut Vec<Bytes>) -> usize {
        let _ = (now, max, expired);
        todo!()
    }
    /// Earliest deadline that still belongs to a live entry (stale heap tops are popped).
    pub fn next_deadline(&mut self) -> Option<u64> {
        todo!()
    }
    /// Number of buckets in the table: valid bucket indexes are `0..num_buckets()`.
    /// Indexes stay valid until the table is resized (which only an insert can do).
    pub fn num_buckets(&self) -> usize {
        todo!()
    }
    /// The entry in bucket `index`, if that bucket is full.
    pub fn entry_at(&self, index: usize) -> Option<&Entry> {
        let _ = index;
        todo!()
    }
    /// Remove and return the entry in bucket `index` if the bucket is full and `pred` says so.
    pub fn take_at(&mut self, index: usize, pred: impl FnOnce(&Entry) -> bool) -> Option<Entry> {
        let _ = (index, pred);
        todo!()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        std::iter::empty()
    }
    pub fn clear(&mut self) {
        todo!()
    }
}
