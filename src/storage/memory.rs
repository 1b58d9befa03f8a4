//! What this core's keyspace holds in memory, kept as it changes: every shard
//! adds the change of its own footprint (entries as malloc chunks, table
//! buckets, deadline heap, eviction queues) the moment it happens, so reading
//! the figure costs nothing and the eviction check can run before every write.
//!
//! The counter is thread-local, and a thread is a core here: entries that
//! migrate leave one core's figure and enter another's with no message about
//! memory. Never read or reset another core's figure; cores report theirs
//! through the stats task.

use std::cell::Cell;

/// Bytes glibc's malloc really takes for a request of `n` bytes: the request
/// plus its 8-byte size word, rounded up to 16, and at least 32.
#[inline]
pub fn chunk_size(n: usize) -> usize {
    ((n + 8 + 15) & !15).max(32)
}

thread_local! {
    static USED: Cell<usize> = const { Cell::new(0) };
}

/// Bytes this core's shards hold, as [`super::shard::Shard`] counts them.
pub fn used() -> usize {
    USED.with(Cell::get)
}

/// A shard's footprint went from `before` to `after` bytes.
#[inline]
pub(super) fn changed(before: usize, after: usize) {
    if before != after {
        USED.with(|u| u.set((u.get() + after).saturating_sub(before)));
    }
}
