//! One core's slice of the staircase: the shards it owns, its copy of the
//! routing table, the split in progress, and the execution of [`Op`]s.
//!
//! Splits run here, on the owning core, a batch at a time ([`Keyspace::split_step`]):
//! while shard `t` is being filled from `s`, any op on a key that now addresses `t`
//! first pulls that key from `s` (a key already in `t` is newer and wins), so reads
//! never miss and writes never resurrect. This module never awaits and never sees
//! another core's shards.

use super::ops::{Op, OpResult, ShardStat};
use super::shard::Shard;
use super::staircase::{RoutingTable, ShardId};
use bytes::Bytes;

pub struct Keyspace {
    // private fields chosen by the implementation: core id, table, shards by id, split state
}

impl Keyspace {
    /// The keyspace of core `core`: creates an empty shard for each shard the table gives it.
    pub fn new(core: usize, table: RoutingTable) -> Keyspace {
        let _ = (core, table);
        todo!()
    }
    pub fn core(&self) -> usize {
        todo!()
    }
    pub fn table(&self) -> &RoutingTable {
        todo!()
    }
    /// Adopt a newer routing table from another core (older epochs are ignored).
    /// Shards newly assigned to this core that it does not hold are created empty.
    pub fn set_table(&mut self, table: RoutingTable) {
        let _ = table;
        todo!()
    }
    /// True when `route_hash` addresses a shard this core owns under its table.
    pub fn owns_hash(&self, route_hash: u64) -> bool {
        let _ = route_hash;
        todo!()
    }
    /// Execute one op at time `now` (unix ms). A key op for a shard this core does not own
    /// is executed anyway only if the shard exists here; callers route by the table first.
    pub fn execute(&mut self, op: Op, now: u64) -> OpResult {
        let _ = (op, now);
        todo!()
    }
    /// Live key count (expired-but-unpurged keys are counted until purged).
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn bytes(&self) -> usize {
        todo!()
    }
    pub fn ttl_keys(&self) -> usize {
        todo!()
    }
    pub fn stats(&self) -> Vec<ShardStat> {
        todo!()
    }
    /// Purge up to `max` expired keys across this core's shards through their heaps;
    /// expired keys are pushed onto `expired`. Returns how many were removed.
    pub fn expire_due(&mut self, now: u64, max: usize, expired: &mut Vec<Bytes>) -> usize {
        let _ = (now, max, expired);
        todo!()
    }
    /// Earliest live deadline on this core.
    pub fn next_deadline(&mut self) -> Option<u64> {
        todo!()
    }
    /// Begin the table's next split if its source shard is owned here and no split is in
    /// progress: applies it to this core's table (epoch + 1), creates the new shard, and
    /// returns (source, target). The caller broadcasts the new table.
    pub fn begin_split(&mut self) -> Option<(ShardId, ShardId)> {
        todo!()
    }
    /// Move up to `batch` entries of the split in progress; true when the split is done
    /// (or none is in progress). Expired entries are dropped instead of moved.
    pub fn split_step(&mut self, batch: usize, now: u64) -> bool {
        let _ = (batch, now);
        todo!()
    }
    pub fn split_in_progress(&self) -> bool {
        todo!()
    }
    /// Access for tests and the admin layer.
    pub fn shard(&self, id: ShardId) -> Option<&Shard> {
        let _ = id;
        todo!()
    }
}
