//! The keyspace's counters: keys, bytes and TTL keys on this core, and the
//! per-shard stats and ops/s rates the admin layer lists and the controller
//! reads. Reads and samples only: it never changes an entry.

use super::Keyspace;
use crate::storage::ops::ShardStat;
use crate::storage::staircase::ShardId;
impl Keyspace {
    /// Live key count (expired-but-unpurged keys are counted until purged).
    pub fn len(&self) -> usize {
        self.held().map(|(_, s)| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.held().map(|(_, s)| s.bytes()).sum()
    }

    pub fn ttl_keys(&self) -> usize {
        self.held().map(|(_, s)| s.ttl_keys()).sum()
    }

    pub fn stats(&self) -> Vec<ShardStat> {
        self.held()
            .map(|(id, s)| ShardStat {
                shard: id,
                core: self.core,
                keys: s.len(),
                bytes: s.bytes(),
                ttl_keys: s.ttl_keys(),
                ops: s.ops,
                ops_per_sec: s.rate,
                state: self.state_of(id),
            })
            .collect()
    }

    /// What is happening to a shard held here.
    fn state_of(&self, id: ShardId) -> &'static str {
        match &self.fill {
            Some(f) if f.target == id => return if f.merge { "merging" } else { "splitting" },
            Some(f) if f.merge && f.source == id => return "merging-away",
            _ => {}
        }
        if self.outgoing.iter().any(|o| o.shard == id) {
            "migrating-out"
        } else if self.table.source_of(id).is_some() {
            "migrating-in"
        } else {
            "stable"
        }
    }

    /// Update every held shard's ops/s estimate from its op counter, over `secs`.
    pub fn sample_rates(&mut self, secs: f64) {
        if secs <= 0.0 {
            // A listing, not a measurement: keep the last rates.
            return;
        }
        for s in self.shards.iter_mut().flatten() {
            let delta = s.ops - s.sampled_ops;
            s.sampled_ops = s.ops;
            s.rate = delta as f64 / secs;
        }
    }
}
