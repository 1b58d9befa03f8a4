//! Splits and merges of the staircase, on the core that owns the shards:
//! beginning one (the table's next split, or merging its last step) and the
//! walk that fills the target from the source a batch at a time
//! ([`Keyspace::fill_step`]). While shard `t` is being filled from `s` (a
//! split's new half, or a merge's surviving buddy), any op on a key that now
//! addresses `t` first pulls that key from `s` ([`Keyspace::locate`]; a key
//! already in `t` is newer and wins), so reads never miss and writes never
//! resurrect. It never moves a shard to another core (that is
//! [`crate::storage::migration`]).

use super::{Fill, Keyspace};
use crate::storage::hash::{key_hash, table_hash};
use crate::storage::shard::{Shard, Walk};
use crate::storage::staircase::ShardId;
use bytes::Bytes;
/// Inserts a split's source can take before its table must rehash (see `begin_split`).
const SPLIT_HEADROOM: usize = 256;
impl Keyspace {
    /// Begin the table's next split if its source shard is owned here and no split is in
    /// progress: applies it to this core's table (epoch + 1), creates the new shard, and
    /// returns (source, target). The caller broadcasts the new table.
    pub fn begin_split(&mut self) -> Option<(ShardId, ShardId)> {
        if self.fill.is_some() {
            return None;
        }
        let (source, _) = self.table.next_split();
        if self.table.owner(source) != self.core || self.table.source_of(source).is_some() {
            return None;
        }
        let walk = {
            let s = self.shard_mut(source)?;
            // Room for the writes that land in the source while it is walked: a
            // rehash mid-walk (hashbrown also rehashes in place to clear the
            // tombstones the walk leaves) would send the walk back to its start.
            s.reserve((s.len() / 8).max(SPLIT_HEADROOM));
            Walk::new(s)
        };
        let (source, target) = self.table.apply_split();
        self.create_owned_shards();
        if self.shard(target).is_none() {
            // Owned by this core per the split, so `create_owned_shards` made it;
            // stay safe if the table said otherwise.
            self.shards[target as usize] = Some(Shard::new());
        }
        // About half the source moves: size the new half for it once, rather than
        // rehashing it at every doubling while it fills.
        let half = self.shard(source).map_or(0, |s| s.len() / 2);
        if let Some(t) = self.shard_mut(target) {
            t.reserve(half + half / 8);
        }
        self.fill = Some(Fill {
            source,
            target,
            merge: false,
            walk,
        });
        Some((source, target))
    }

    /// Begin merging the staircase's last step if both its shards are held here,
    /// settled, and no split or merge is in progress: applies it to this core's
    /// table (epoch + 1) and returns `(into, from)`. The caller broadcasts the table
    /// and runs [`Keyspace::fill_step`] until `from` is empty and gone.
    pub fn begin_merge(&mut self) -> Option<(ShardId, ShardId)> {
        if self.fill.is_some() {
            return None;
        }
        let (into, from) = self.table.last_step()?;
        let mine = |id: ShardId| {
            self.table.owner(id) == self.core
                && self.table.source_of(id).is_none()
                && self.shard(id).is_some()
        };
        if !mine(into) || !mine(from) {
            return None;
        }
        let walk = Walk::new(self.shard(from)?);
        self.table.apply_merge()?;
        self.fill = Some(Fill {
            source: from,
            target: into,
            merge: true,
            walk,
        });
        Some((into, from))
    }

    /// Move up to `batch` entries of the split or merge in progress; true when it
    /// is done (or none is in progress). Expired entries are dropped instead of
    /// moved, and their keys pushed onto `expired`; a finished merge drops its
    /// emptied source shard. A step is bounded as [`Shard::take_walking`] says.
    pub fn fill_step(&mut self, batch: usize, now: u64, expired: &mut Vec<Bytes>) -> bool {
        let Some(fill) = self.fill.as_mut() else {
            return true;
        };
        let (s, t) = (fill.source as usize, fill.target as usize);
        if s == t || s.max(t) >= self.shards.len() {
            self.fill = None;
            return true;
        }
        let (src, dst) = if s < t {
            let (low, high) = self.shards.split_at_mut(t);
            (low[s].as_mut(), high[0].as_mut())
        } else {
            let (low, high) = self.shards.split_at_mut(s);
            (high[0].as_mut(), low[t].as_mut())
        };
        let (Some(src), Some(dst)) = (src, dst) else {
            self.fill = None;
            return true;
        };
        let table = &self.table;
        let (target, merge) = (fill.target, fill.merge);
        // The predicate hashes each key to pick it; the taken entry reuses that hash.
        let route = std::cell::Cell::new(0);
        let walked = src.take_walking(
            &mut fill.walk,
            batch,
            |e| {
                route.set(key_hash(e.key()));
                merge || table.shard_of(route.get()) == target
            },
            |e| {
                if e.is_expired(now) {
                    expired.push(Bytes::copy_from_slice(e.key()));
                    return true;
                }
                let thash = table_hash(e.key(), route.get());
                // A key already in the target was written there after the fill began: newer.
                if !dst.contains(thash, e.key()) {
                    dst.insert(thash, e);
                }
                true
            },
        );
        if !walked {
            return false;
        }
        if merge && !src.is_empty() {
            // Cannot happen (nothing writes to a merge's source); walk again rather than lose keys.
            fill.walk.restart();
            return false;
        }
        let (source, merged) = (fill.source, fill.merge);
        self.fill = None;
        if merged {
            self.shards[source as usize] = None;
            while self.shards.len() > self.table.num_shards()
                && self.shards.last().is_some_and(Option::is_none)
            {
                self.shards.pop();
            }
        }
        // The source's table, which the walk kept from shrinking.
        self.compact_shard(source);
        true
    }

    /// The shard being filled by a split or merge in progress.
    pub fn filling(&self) -> Option<ShardId> {
        self.fill.as_ref().map(|f| f.target)
    }

    pub fn split_in_progress(&self) -> bool {
        self.fill.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    #[test]
    fn split_moves_keys_and_keeps_them_readable() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(99);
        let mut k = ks(1, 1);
        let mut model: HashMap<String, String> = HashMap::new();
        for i in 0..10_000 {
            let key = format!("key:{i}");
            run(&mut k, &key, set(&i.to_string()));
            model.insert(key, i.to_string());
        }
        let mut splits = 0;
        while splits < 12 {
            let Some((s, t)) = k.begin_split() else {
                panic!("split refused")
            };
            assert_eq!(t as usize, k.table().num_shards() - 1);
            assert!(k.split_in_progress());
            assert!(k
                .stats()
                .iter()
                .any(|st| st.shard == t && st.state == "splitting"));
            assert!(k.begin_split().is_none(), "second split while one runs");
            loop {
                let done = k.fill_step(rng.gen_range(1..64), NOW, &mut Vec::new());
                for _ in 0..rng.gen_range(0..20) {
                    let i = rng.gen_range(0..12_000);
                    let key = format!("key:{i}");
                    match rng.gen_range(0..4) {
                        0 => {
                            let v = format!("v{}", rng.gen::<u32>());
                            run(&mut k, &key, set(&v));
                            model.insert(key, v);
                        }
                        1 => {
                            let r = run(&mut k, &key, KeyOp::Del);
                            let had = model.remove(&key).is_some();
                            assert_eq!(r, OpResult::Int(had as i64));
                        }
                        _ => {
                            let want = model.get(&key).map_or(OpResult::Nil, |v| b(v));
                            assert_eq!(run(&mut k, &key, KeyOp::Get), want, "{key}");
                        }
                    }
                }
                assert_eq!(k.len(), model.len());
                if done {
                    break;
                }
            }
            assert!(!k.split_in_progress());
            // After the split every key sits in the shard it addresses.
            let table = k.table().clone();
            for id in [s, t] {
                let shard = k.shard(id).expect("held");
                assert!(shard
                    .iter()
                    .all(|e| table.shard_of(key_hash(e.key())) == id));
            }
            splits += 1;
        }
        assert_eq!(k.table().num_shards(), 13);
        let lens: usize = k.stats().iter().map(|s| s.keys).sum();
        assert_eq!(lens, model.len());
        for (key, v) in &model {
            assert_eq!(run(&mut k, key, KeyOp::Get), b(v));
        }
        check_accounting(&k);
    }

    /// Writes to the source during a split grow its table (resizes and in-place
    /// rehashes) while the walk is half done: no key may be left behind.
    #[test]
    fn split_survives_source_rehash() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut k = ks(1, 1);
        let mut model = HashSet::new();
        for i in 0..3000 {
            let key = format!("a{i}");
            run(&mut k, &key, set("v"));
            model.insert(key);
        }
        let mut next = 0;
        for _ in 0..6 {
            k.begin_split();
            loop {
                let done = k.fill_step(8, NOW, &mut Vec::new());
                for _ in 0..40 {
                    let key = format!("b{next}");
                    next += 1;
                    run(&mut k, &key, set("v"));
                    model.insert(key);
                    if rng.gen_bool(0.5) {
                        let victim = format!("b{}", rng.gen_range(0..next));
                        if model.remove(&victim) {
                            assert_eq!(run(&mut k, &victim, KeyOp::Del), OpResult::Int(1));
                        }
                    }
                }
                if done {
                    break;
                }
            }
            let table = k.table().clone();
            for (id, shard) in k.held() {
                assert!(shard
                    .iter()
                    .all(|e| table.shard_of(key_hash(e.key())) == id));
            }
        }
        assert_eq!(k.len(), model.len());
        for key in &model {
            assert_eq!(run(&mut k, key, KeyOp::Exists), OpResult::Int(1), "{key}");
        }
    }

    /// The source rehashes in place (same bucket count, entries moved) while its
    /// walk is half done: the walk must start over, or moved keys stay behind.
    #[test]
    fn split_survives_rehash_in_place() {
        // Stop the walk at different points: keys displaced across the walk's
        // position are the ones a rehash can move behind it.
        for part in 1..24 {
            split_with_rehash_in_place(part, 24);
        }
    }

    fn split_with_rehash_in_place(part: usize, parts: usize) {
        let mut k = ks(1, 1);
        for i in 0..3000 {
            run(&mut k, &format!("a{i}"), set("v"));
        }
        // Under half the capacity: growth will rehash in place, not resize.
        for i in 0..2000 {
            run(&mut k, &format!("a{i}"), KeyOp::Del);
        }
        let (s, t) = k.begin_split().expect("split");
        let buckets = k.shard(s).map(|x| x.num_buckets()).unwrap_or(0);
        // Walk `part / parts` of the source (a step visits at most 8 × batch buckets).
        for _ in 0..buckets * part / parts / 8 {
            k.fill_step(1, NOW, &mut Vec::new());
        }
        // Churn keys that stay in the source until it rehashes in place.
        let table = k.table().clone();
        let mut stay = (0..)
            .map(|i| format!("b{i}"))
            .filter(|key| table.shard_of(key_hash(key.as_bytes())) == s);
        let mut live = std::collections::VecDeque::new();
        let layout = k.shard(s).map(|x| x.layout_epoch());
        while k.shard(s).map(|x| x.layout_epoch()) == layout {
            let key = stay.next().unwrap_or_default();
            run(&mut k, &key, set("v"));
            live.push_back(key);
            if live.len() > 600 {
                let old = live.pop_front().unwrap_or_default();
                run(&mut k, &old, KeyOp::Del);
            }
        }
        assert_eq!(k.shard(s).map(|x| x.num_buckets()), Some(buckets));
        while !k.fill_step(64, NOW, &mut Vec::new()) {}
        let table = k.table().clone();
        for id in [s, t] {
            let shard = k.shard(id).expect("held");
            assert!(shard
                .iter()
                .all(|e| table.shard_of(key_hash(e.key())) == id));
        }
        for i in 2000..3000 {
            assert_eq!(
                run(&mut k, &format!("a{i}"), KeyOp::Exists),
                OpResult::Int(1)
            );
        }
    }

    /// Splits then merges back to the start: every key stays readable while a
    /// merge is half done (reads pull from the merged-away shard), writes during
    /// it win, expired keys are dropped and announced, and the source shard goes.
    #[test]
    fn merge_undoes_splits_while_serving() {
        let mut k = ks(1, 2);
        for i in 0..3000 {
            run(&mut k, &format!("m{i}"), set("v"));
        }
        run_at(
            &mut k,
            "short",
            KeyOp::Set {
                value: Bytes::from_static(b"x"),
                cond: SetCond::Always,
                ttl: SetTtl::At(NOW + 5),
                get: false,
            },
            NOW,
        );
        for _ in 0..5 {
            k.begin_split().expect("split");
            while !k.fill_step(100, NOW, &mut Vec::new()) {}
        }
        assert_eq!(k.table().num_shards(), 7);
        let mut expired = Vec::new();
        let mut i = 0;
        while k.table().num_shards() > 2 {
            let (into, from) = k.begin_merge().expect("merge");
            assert_eq!(
                k.stats().iter().find(|s| s.shard == from).map(|s| s.state),
                Some("merging-away")
            );
            let mut steps = 0;
            while !k.fill_step(50, NOW + 10, &mut expired) {
                // Mid-merge: a read of any key is right, and a write is kept.
                let key = format!("m{}", (i * 7919) % 3000);
                assert_eq!(
                    run_at(&mut k, &key, KeyOp::Get, NOW + 10),
                    OpResult::Bulk(Bytes::from_static(b"v")),
                    "{key} during merge {from}->{into}"
                );
                run_at(&mut k, &format!("new{i}"), set("n"), NOW + 10);
                i += 1;
                steps += 1;
            }
            assert!(k.shard(from).is_none(), "merged-away shard {from} dropped");
            assert!(steps > 0 || k.shard(into).is_some());
        }
        assert!(
            k.begin_merge().is_some(),
            "2 -> 1 is still possible by table"
        );
        while !k.fill_step(1000, NOW + 10, &mut expired) {}
        assert_eq!(k.table().num_shards(), 1);
        for j in 0..3000 {
            assert_eq!(
                run_at(&mut k, &format!("m{j}"), KeyOp::Exists, NOW + 10),
                OpResult::Int(1)
            );
        }
        for j in 0..i {
            assert_eq!(
                run_at(&mut k, &format!("new{j}"), KeyOp::Exists, NOW + 10),
                OpResult::Int(1)
            );
        }
        assert_eq!(k.len(), 3000 + i);
        assert!(expired.is_empty() || expired == vec![Bytes::from_static(b"short")]);
    }

    #[test]
    fn split_drops_expired_and_target_wins() {
        let mut k = ks(1, 1);
        for i in 0..400 {
            let ttl = if i % 2 == 0 {
                SetTtl::At(NOW + 10)
            } else {
                SetTtl::Clear
            };
            run(
                &mut k,
                &format!("k{i}"),
                set_with("old", SetCond::Always, ttl, false),
            );
        }
        let (_, t) = k.begin_split().expect("split");
        // Writes to target keys during the split land in the target.
        let table = k.table().clone();
        let tkeys: Vec<String> = (0..400)
            .map(|i| format!("k{i}"))
            .filter(|s| table.shard_of(key_hash(s.as_bytes())) == t)
            .collect();
        for key in &tkeys {
            run(&mut k, key, set("new"));
        }
        while !k.fill_step(16, NOW + 10, &mut Vec::new()) {}
        for key in &tkeys {
            assert_eq!(run_at(&mut k, key, KeyOp::Get, NOW + 10), b("new"));
        }
        // Expired keys were dropped, not moved: only live ones remain in the target.
        assert!(k
            .shard(t)
            .expect("target")
            .iter()
            .all(|e| e.deadline().is_none()));
        check_accounting(&k);
    }

    #[test]
    fn begin_split_only_for_own_source() {
        let table = RoutingTable::new(2, 2);
        let mut c1 = Keyspace::new(1, table.clone());
        assert!(c1.begin_split().is_none());
        assert!(c1.fill_step(10, NOW, &mut Vec::new()));
        let mut c0 = Keyspace::new(0, table);
        assert_eq!(c0.begin_split(), Some((0, 2)));
        assert_eq!(c0.table().epoch, 2);
        assert_eq!(c0.table().owner(2), 0);
        c1.set_table(c0.table().clone());
        assert_eq!(c1.begin_split(), Some((1, 3)));
        while !c0.fill_step(100, NOW, &mut Vec::new()) {}
        assert!(!c0.split_in_progress());
    }
}
