//! The keyspace's periodic upkeep, which the core runs between requests:
//! expiry passes over the shards' deadline heaps, the next deadline, and
//! compaction (giving back the space of mostly empty shards), held off while
//! a split, merge or migration walks tables by bucket. It never evicts (that
//! is [`crate::storage::evict`]).

use super::Keyspace;
use bytes::Bytes;
impl Keyspace {
    /// Purge up to `max` expired keys across this core's shards through their heaps;
    /// expired keys are pushed onto `expired`. Returns how many were removed.
    pub fn expire_due(&mut self, now: u64, max: usize, expired: &mut Vec<Bytes>) -> usize {
        let n = self.shards.len();
        let mut removed = 0;
        for k in 0..n {
            if removed >= max {
                break;
            }
            let id = (self.expire_from + k) % n;
            if let Some(shard) = self.shards[id].as_mut() {
                removed += shard.expire_due(now, max - removed, expired);
                if removed >= max {
                    // This shard may have more due: start the next pass here.
                    self.expire_from = id;
                }
            }
        }
        removed
    }

    /// Give back the table and heap space of shards that are mostly empty
    /// (after mass expiry or deletes). Skipped while a split is moving entries:
    /// a shrink rehashes, and the split walks its source by bucket.
    pub fn compact(&mut self) {
        if self.compaction_held() {
            return;
        }
        for s in self.shards.iter_mut().flatten() {
            s.compact();
        }
    }

    /// True while a split, merge or migration walks tables by bucket, so that
    /// none may shrink (a shrink rehashes).
    pub(in crate::storage) fn compaction_held(&self) -> bool {
        self.fill.is_some() || !self.outgoing.is_empty()
    }

    /// Earliest live deadline on this core.
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.shards
            .iter_mut()
            .flatten()
            .filter_map(|s| s.next_deadline())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn expiry_across_shards() {
        let mut k = ks(1, 8);
        for i in 0..300u64 {
            run(
                &mut k,
                &format!("k{i}"),
                set_with("v", SetCond::Always, SetTtl::At(NOW + 1 + i), false),
            );
        }
        for i in 0..50 {
            run(&mut k, &format!("p{i}"), set("v"));
        }
        assert_eq!(k.ttl_keys(), 300);
        assert_eq!(k.next_deadline(), Some(NOW + 1));
        let mut out = Vec::new();
        assert_eq!(k.expire_due(NOW + 100, 40, &mut out), 40);
        assert_eq!(k.expire_due(NOW + 100, 1000, &mut out), 60);
        assert_eq!(out.len(), 100);
        assert_eq!(k.next_deadline(), Some(NOW + 101));
        assert_eq!(k.expire_due(u64::MAX, usize::MAX, &mut out), 200);
        assert_eq!(k.len(), 50);
        assert_eq!(k.next_deadline(), None);
        check_accounting(&k);
    }
}
