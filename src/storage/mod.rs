//! The keyspace on one core: entries, shards (small hash tables with their own
//! expiry heaps), the linear-hashing staircase and routing table, and the
//! shard-side operations. Everything here is plain single-threaded data: it
//! never awaits, never sends a message, and never knows about connections,
//! commands or other cores — the core layer above calls into it.
//!
//! Its files form a one-way stack (each uses only those listed before it):
//! - [`hash`], [`glob`], [`decimal`], [`memory`], [`ops`] (the op and reply
//!   types), [`staircase`] (the routing table), [`cursor`] (SCAN's cursors),
//!   [`prefetch`] (cache hints for hashbrown tables): plain building blocks.
//! - [`policy`]: what an access records in an entry for the eviction policy
//!   in force, and the state eviction keeps between passes.
//! - [`entry`], [`s3fifo`], [`shard`]: one key's bytes; a shard's table,
//!   expiry heap and S3-FIFO queues.
//! - [`keyspace`]: one core's shards, routing lookups, splits and merges,
//!   scans, the key ops, expiry passes and counters (a folder: see its map).
//! - [`evict`]: this core's share of `maxmemory` and the walk that evicts.
//! - [`migration`]: a shard moving between cores, each end's side.

pub mod bits;
pub mod cursor;
pub mod decimal;
pub mod entry;
pub mod evict;
pub mod glob;
pub mod hash;
pub mod hll;
pub mod keyspace;
pub mod lcs;
pub mod memory;
pub mod migration;
pub mod object;
pub mod ops;
pub mod policy;
pub mod prefetch;
pub mod s3fifo;
pub mod shard;
pub mod staircase;

/// One step of xorshift64 (Marsaglia): the cheap, seeded randomness of
/// RANDOMKEY and eviction sampling. `state` must not be zero.
#[inline]
pub fn xorshift64(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Milliseconds since the Unix epoch: the clock every deadline is measured in.
pub fn now_ms() -> u64 {
    now_us() / 1000
}

/// Microseconds since the Unix epoch (the same clock, finer).
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
