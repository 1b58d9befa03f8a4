//! The keyspace on one core: entries, shards (small hash tables with their own
//! expiry heaps), the linear-hashing staircase and routing table, and the
//! shard-side operations. Everything here is plain single-threaded data: it
//! never awaits, never sends a message, and never knows about connections,
//! commands or other cores — the core layer above calls into it.

pub mod decimal;
pub mod entry;
pub mod evict;
pub mod glob;
pub mod hash;
pub mod keyspace;
pub mod memory;
pub mod migration;
pub mod ops;
pub mod s3fifo;
pub mod shard;
pub mod staircase;

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
