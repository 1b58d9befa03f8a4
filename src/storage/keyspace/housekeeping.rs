//! The keyspace's periodic upkeep, which the core runs between requests:
//! expiry passes over the shards' deadline heaps, the next deadline,
//! compaction (giving back the space of mostly empty shards), held off for a
//! shard while a split, merge or migration walks its table by bucket, and
//! finishing hash and set tables that writes left half resized. It never
//! evicts (that is [`crate::storage::evict`]).

use super::Keyspace;
use crate::storage::staircase::ShardId;
use bytes::Bytes;

/// Elements a settle pass moves at most (about a millisecond's work).
pub const SETTLE_BUDGET: usize = 16 * 1024;
/// Milliseconds between settle passes while a table is half resized: as
/// Redis's `activerehashing` (a millisecond every 100 ms at `hz 10`), about
/// 1% of a core.
pub const SETTLE_EVERY: u64 = 100;

impl Keyspace {
    /// Purge up to `max` expired keys across this core's shards through their heaps;
    /// expired keys are pushed onto `expired`. Returns how many were removed.
    /// Keys `held` names stay for a later pass.
    pub fn expire_due(
        &mut self,
        now: u64,
        max: usize,
        expired: &mut Vec<Bytes>,
        held: &dyn Fn(&[u8]) -> bool,
    ) -> usize {
        let n = self.shards.len();
        let mut removed = 0;
        for k in 0..n {
            if removed >= max {
                break;
            }
            let id = (self.expire_from + k) % n;
            if let Some(shard) = self.shards[id].as_mut() {
                removed += shard.expire_due(now, max - removed, expired, held);
                if removed >= max {
                    // This shard may have more due: start the next pass here.
                    self.expire_from = id;
                }
            }
        }
        removed
    }

    /// `key`'s table is resizing in steps: remember it for [`Self::settle`]
    /// (the upkeep wakes for it at [`Self::next_settle`]).
    pub(super) fn note_resizing(&mut self, key: &[u8], now: u64) {
        if self.resizing.iter().any(|k| k[..] == *key) {
            return;
        }
        if self.resizing.is_empty() {
            self.settle_at = self.settle_at.max(now + SETTLE_EVERY);
        }
        self.resizing.push(Bytes::copy_from_slice(key));
    }

    /// When the next settle pass is due, while a table is half resized.
    pub fn next_settle(&self) -> Option<u64> {
        (!self.resizing.is_empty()).then_some(self.settle_at)
    }

    /// Move up to [`SETTLE_BUDGET`] elements of the tables writes left half
    /// resized (a set that stopped growing would otherwise keep both tables),
    /// if a pass is due. Keys `held` names (a transaction, or a whole reply
    /// paging through the table, which must see every element once) wait for
    /// a later pass. A key that left this core, or was deleted, is dropped:
    /// its table finishes with its next writes.
    pub fn settle(&mut self, now: u64, held: &dyn Fn(&[u8]) -> bool) {
        if self.resizing.is_empty() || now < self.settle_at {
            return;
        }
        self.settle_at = now + SETTLE_EVERY;
        let mut budget = SETTLE_BUDGET;
        for key in std::mem::take(&mut self.resizing) {
            if budget == 0 || held(&key) {
                self.resizing.push(key);
                continue;
            }
            let Some((id, thash)) = self.locate(&key, now) else {
                continue;
            };
            let Some(shard) = self.shard_for_key(id, thash, &key) else {
                continue;
            };
            let more = shard.update(thash, &key, now, |e| {
                e.edit_object(|o| o.settle(&mut budget))
            });
            if more == Some(Some(true)) {
                self.resizing.push(key);
            }
        }
    }

    /// Give back the table and heap space of shards that are mostly empty
    /// (after mass expiry or deletes), but of none that a split, merge or
    /// migration walks by bucket now: a shrink rehashes.
    pub fn compact(&mut self) {
        for id in 0..self.shards.len() {
            self.compact_shard(id as ShardId);
        }
    }

    /// [`Keyspace::compact`] for one shard. Only the shard a walk is on waits
    /// for it: holding every shard until a split ended left the end of the
    /// split to compact them all at once (27 ms of heap rebuilds once, with
    /// every request on the core waiting).
    pub(in crate::storage) fn compact_shard(&mut self, id: ShardId) {
        // A capture's walk (which may stop partway) holds it too.
        if self.walked(id) || self.capture_pending(id) {
            return;
        }
        if let Some(s) = self.shard_mut(id) {
            s.compact();
        }
    }

    /// True while a split, merge or migration walks tables by bucket.
    pub(in crate::storage) fn compaction_held(&self) -> bool {
        self.fill.is_some() || !self.outgoing.is_empty()
    }

    /// True while a split, merge or migration walks shard `id` by bucket, so
    /// that it may not shrink.
    pub(in crate::storage) fn walked(&self, id: ShardId) -> bool {
        self.fill.as_ref().is_some_and(|f| f.source == id)
            || self.outgoing.iter().any(|o| o.shard == id)
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

    /// During a split only its source waits to shrink: the other shards are
    /// compacted as ever, so the split's end has one table to catch up on.
    #[test]
    fn a_split_holds_only_its_source_from_compaction() {
        let mut k = ks(1, 2);
        for i in 0..20_000 {
            run(&mut k, &format!("k{i}"), set("v"));
        }
        let (source, _) = k.table().next_split();
        let other = 1 - source;
        let buckets = |k: &Keyspace, id| k.shard(id).map_or(0, |s| s.num_buckets());
        // Empty most of both shards; nothing shrinks until a compaction.
        for i in 0..20_000 {
            if i % 50 != 0 {
                run(&mut k, &format!("k{i}"), KeyOp::Del);
            }
        }
        let (src_before, other_before) = (buckets(&k, source), buckets(&k, other));
        assert!(k.begin_split().is_some());
        k.compact();
        assert_eq!(buckets(&k, source), src_before, "the walked source shrank");
        assert!(
            buckets(&k, other) < other_before / 4,
            "the shard nobody walks was held: {other_before} -> {}",
            buckets(&k, other)
        );
        while !k.fill_step(64, NOW, &mut Vec::new()) {}
        assert!(
            buckets(&k, source) < src_before / 4,
            "the source never shrank"
        );
        for i in (0..20_000).step_by(50) {
            assert_eq!(
                run(&mut k, &format!("k{i}"), KeyOp::Get),
                OpResult::Bulk(Bytes::from("v"))
            );
        }
    }

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
        assert_eq!(k.expire_due(NOW + 100, 40, &mut out, &|_| false), 40);
        assert_eq!(k.expire_due(NOW + 100, 1000, &mut out, &|_| false), 60);
        assert_eq!(out.len(), 100);
        assert_eq!(k.next_deadline(), Some(NOW + 101));
        assert_eq!(
            k.expire_due(u64::MAX, usize::MAX, &mut out, &|_| false),
            200
        );
        assert_eq!(k.len(), 50);
        assert_eq!(k.next_deadline(), None);
        check_accounting(&k);
    }

    /// A set that stops growing halfway through a stepwise resize is
    /// finished by the upkeep, a budget per pass, passes `SETTLE_EVERY`
    /// apart; a held key waits; accounting follows the freed table.
    #[test]
    fn settle_finishes_a_resize_that_writes_left_half_done() {
        use super::SETTLE_EVERY;
        use crate::storage::object::table::STEP_FROM;
        use crate::storage::ops::SetOp;
        let mut k = ks(1, 1);
        let members = |from: usize, n: usize| {
            KeyOp::OnSet(SetOp::Add(
                (from..from + n)
                    .map(|i| Bytes::from(format!("m{i}")))
                    .collect(),
            ))
        };
        // Grow until a resize begins, then stop writing.
        let mut n = 0;
        while k.next_settle().is_none() {
            run(&mut k, "s", members(n, 100));
            n += 100;
            assert!(n < STEP_FROM * 8, "no stepwise resize began");
        }
        let resizing = |k: &mut Keyspace| {
            let (_, e) = k.peek(b"s");
            e.and_then(|e| e.object()).is_some_and(|o| o.resizing())
        };
        assert!(resizing(&mut k));
        let due = k.next_settle().unwrap();
        assert_eq!(due, NOW + SETTLE_EVERY);
        let before = k.bytes();

        // Not due yet: nothing moves. Held: nothing moves.
        k.settle(NOW, &|_| false);
        k.settle(due, &|key| key == b"s");
        assert!(resizing(&mut k));
        assert_eq!(k.next_settle(), Some(due + SETTLE_EVERY));

        let mut at = due + SETTLE_EVERY;
        let mut passes = 0;
        while k.next_settle().is_some() {
            k.settle(at, &|_| false);
            at += SETTLE_EVERY;
            passes += 1;
            assert!(passes < 100, "the resize never finished");
        }
        assert!(!resizing(&mut k));
        assert!(k.bytes() < before, "the old table's memory was not freed");
        assert_eq!(
            run(&mut k, "s", KeyOp::OnSet(SetOp::Card)),
            OpResult::Int(n as i64)
        );
        check_accounting(&k);

        // A key deleted mid-resize is simply forgotten.
        while k.next_settle().is_none() {
            run(&mut k, "s", members(n, 100));
            n += 100;
        }
        run(&mut k, "s", KeyOp::Del);
        k.settle(at + SETTLE_EVERY, &|_| false);
        assert_eq!(k.next_settle(), None);
    }
}
