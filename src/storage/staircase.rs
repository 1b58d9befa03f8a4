//! The shard staircase: linear hashing over the route hash, and the routing
//! table (shard → owning core, level, split pointer, epoch) that every core
//! holds a copy of.
//!
//! With level `L` and split pointer `s` there are `2^L + s` shards;
//! `shard(h) = h mod 2^L`, or `h mod 2^(L+1)` when that is `< s`. Growing splits
//! shard `s` into `s` and `s + 2^L`, one step at a time.
//!
//! Scan positions: a key's position is its route hash with the bits reversed.
//! Every shard then covers one contiguous interval of positions, and a split
//! cuts an interval in two halves — so a SCAN cursor that is a position stays
//! meaningful across splits (and, later, merges). This module is pure
//! arithmetic; it never touches entries.

/// Shard id within the staircase.
pub type ShardId = u32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingTable {
    pub level: u32,
    pub split: u32,
    /// `owners[shard]` = the core that owns it; `owners.len() == num_shards()`.
    pub owners: Vec<u16>,
    /// Bumped on every change; a newer table always replaces an older one.
    pub epoch: u64,
}

impl RoutingTable {
    /// The smallest level whose `2^level >= max(cores, min_shards, 1)`, split 0,
    /// shard i owned by core `i % cores`, epoch 1.
    pub fn new(cores: usize, min_shards: usize) -> RoutingTable {
        let _ = (cores, min_shards);
        todo!()
    }
    pub fn num_shards(&self) -> usize {
        self.owners.len()
    }
    /// Linear-hashing address of a route hash.
    pub fn shard_of(&self, route_hash: u64) -> ShardId {
        let _ = route_hash;
        todo!()
    }
    pub fn owner(&self, shard: ShardId) -> usize {
        self.owners[shard as usize] as usize
    }
    /// The core that owns the shard of `route_hash`.
    pub fn core_of(&self, route_hash: u64) -> usize {
        self.owner(self.shard_of(route_hash))
    }
    /// The next split: (source, new shard) = (s, s + 2^L).
    pub fn next_split(&self) -> (ShardId, ShardId) {
        todo!()
    }
    /// Perform the next split in the table: the new shard is owned by the source's
    /// owner; advance `split` (and `level` when it wraps); bump `epoch`.
    /// Returns (source, new shard).
    pub fn apply_split(&mut self) -> (ShardId, ShardId) {
        todo!()
    }
    /// The level a shard is addressed with now (`level + 1` for split shards).
    pub fn shard_level(&self, shard: ShardId) -> u32 {
        let _ = shard;
        todo!()
    }
    /// The shard whose interval contains scan position `pos`.
    pub fn shard_of_pos(&self, pos: u64) -> ShardId {
        self.shard_of(pos.reverse_bits())
    }
    /// Half-open interval of positions covered by `shard`: `(start, end)` where
    /// `end == None` means the interval runs to the end of the position space.
    pub fn interval(&self, shard: ShardId) -> (u64, Option<u64>) {
        let _ = shard;
        todo!()
    }
}

/// A key's scan position.
pub fn scan_pos(route_hash: u64) -> u64 {
    route_hash.reverse_bits()
}
