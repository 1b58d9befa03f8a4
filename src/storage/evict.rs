//! Eviction: this core's share of `maxmemory`, and the walk over the
//! keyspace that chooses and removes victims until the core is back under
//! its share.
//!
//! Each core evicts only from the shards it holds, against its own share of
//! the limit: `maxmemory` times the part of the hash space its shards cover.
//! As shards migrate, the share follows them. Nothing here looks at another
//! core or sends anything: the evicted keys are handed to the core layer,
//! which counts them and publishes their `evicted` events; it names the keys
//! a transaction holds, which are passed over ([`Keyspace::evict`]).
//! This file sits
//! above [`super::keyspace`] (it walks its shards); what an access records in
//! an entry and the state kept between passes are below it, in
//! [`super::policy`], so the keyspace and its shards never import this file.
//!
//! - `allkeys-s3fifo` (the default): S3-FIFO per shard ([`super::s3fifo`]),
//!   evicting from the shard that is fullest for its part of the hash space,
//!   so each shard acts as a slice of one cache.
//! - `allkeys-lru`, `allkeys-lfu`, `volatile-lru`, `volatile-lfu`,
//!   `volatile-ttl`: Redis's approximation — sample `maxmemory-samples` keys,
//!   keep the best 16 candidates in a pool across rounds, evict the best. The
//!   LRU clock has millisecond resolution (Redis's has one second), and the
//!   LFU counter is Redis's logarithmic one with its defaults (log factor 10,
//!   decay 1 minute).
//! - `allkeys-random`, `volatile-random`: one random key (with a deadline).
//! - `noeviction`: nothing is evicted; writes that need memory are refused.

use super::keyspace::Keyspace;
use super::policy::{
    access_mode, next_rand, score, set_access, Candidate, Room, POOL, VICTIM_REUSE,
};
use super::staircase::ShardId;
use crate::config::Policy;
use bytes::Bytes;

impl Keyspace {
    /// Apply `maxmemory` (bytes, 0 = no limit), the policy and the sample count.
    pub fn set_memory_limit(&mut self, maxmemory: u64, policy: Policy, samples: usize) {
        let ev = &mut self.evictor;
        if ev.policy != policy {
            ev.pool.clear();
        }
        ev.policy = policy;
        ev.maxmemory = maxmemory;
        ev.samples = samples.max(1);
        ev.limit_epoch = None;
        set_access(access_mode(policy, maxmemory > 0));
    }

    /// This core's share of `maxmemory` (0: no limit): the limit times the part
    /// of the hash space of the shards held here. A shard that is migrating is
    /// held on both cores for a while and counts on both.
    pub fn memory_limit(&mut self) -> usize {
        if self.evictor.maxmemory == 0 {
            return 0;
        }
        if self.evictor.limit_epoch != Some(self.table.epoch) {
            let share: f64 = self
                .held()
                .map(|(id, _)| 0.5f64.powi(self.table.shard_level(id) as i32))
                .sum();
            self.evictor.limit = (self.evictor.maxmemory as f64 * share.min(1.0)) as usize;
            self.evictor.limit_epoch = Some(self.table.epoch);
        }
        self.evictor.limit
    }

    /// True when this core holds more than its share of `maxmemory`.
    #[inline]
    pub fn over_limit(&mut self) -> bool {
        self.over_by().is_some()
    }

    pub fn policy(&self) -> Policy {
        self.evictor.policy
    }

    pub fn evicted(&self) -> u64 {
        self.evictor.evicted
    }

    /// Evict until this core is under its share or `max` keys went; the keys
    /// go onto `out`. Never a key `held` names (a transaction holds it: it
    /// must not vanish between two of its commands, as Redis evicts only
    /// between commands).
    pub fn evict(
        &mut self,
        now: u64,
        max: usize,
        out: &mut Vec<Bytes>,
        held: &dyn Fn(&[u8]) -> bool,
    ) -> Room {
        let mut n = 0;
        loop {
            let Some(over) = self.over_by() else {
                return Room::Enough;
            };
            if over <= self.held_slack(now) {
                return Room::Held;
            }
            if n >= max {
                return Room::More;
            }
            let Some(key) = self.evict_one(now, held) else {
                return Room::Full;
            };
            self.evictor.evicted += 1;
            out.push(key);
            n += 1;
        }
    }

    /// How far this core is over its share, if it is.
    fn over_by(&mut self) -> Option<usize> {
        if self.evictor.maxmemory == 0 {
            return None;
        }
        let limit = self.memory_limit();
        super::memory::used().checked_sub(limit).filter(|&o| o > 0)
    }

    /// Table space that deletes and evictions emptied but that a split, merge
    /// or migration in progress keeps from being given back (see
    /// [`Keyspace::compact`]). It comes back when that ends; evicting keys for
    /// it would evict far below the limit (a core whose shard splits while it
    /// evicts would empty itself). Summed at most once a millisecond: writes
    /// at the limit ask on every write.
    fn held_slack(&mut self, now: u64) -> usize {
        if !self.compaction_held() {
            return 0;
        }
        match self.evictor.held_slack {
            Some((at, s)) if at == now => s,
            _ => {
                let s = self
                    .held()
                    .filter(|&(id, _)| self.walked(id))
                    .map(|(_, s)| s.table_slack())
                    .sum();
                self.evictor.held_slack = Some((now, s));
                s
            }
        }
    }

    fn evict_one(&mut self, now: u64, held: &dyn Fn(&[u8]) -> bool) -> Option<Bytes> {
        let policy = self.evictor.policy;
        match policy {
            Policy::NoEviction => None,
            Policy::AllKeysS3Fifo => self.evict_s3fifo(held),
            Policy::AllKeysRandom | Policy::VolatileRandom => {
                self.evict_random(policy.volatile(), held)
            }
            _ => self.evict_pooled(policy, now, held),
        }
    }

    /// The held shard with the most keys for its part of the hash space.
    fn fullest_shard(&self) -> Option<ShardId> {
        self.held()
            .filter(|(_, s)| !s.is_empty())
            .max_by_key(|(id, s)| (s.len() as u128) << self.table.shard_level(*id))
            .map(|(id, _)| id)
    }

    fn evict_s3fifo(&mut self, held: &dyn Fn(&[u8]) -> bool) -> Option<Bytes> {
        for _ in 0..2 {
            let victim = match self.evictor.victim {
                Some(id) if self.evictor.victim_uses > 0 => id,
                _ => {
                    let id = self.fullest_shard()?;
                    self.evictor.victim = Some(id);
                    self.evictor.victim_uses = VICTIM_REUSE;
                    id
                }
            };
            self.evictor.victim_uses -= 1;
            if let Some(e) = self.shard_mut(victim).and_then(|s| s.evict_s3fifo(held)) {
                self.shrink_if_sparse(victim);
                return Some(Bytes::copy_from_slice(e.key()));
            }
            // Gone or empty: look again.
            self.evictor.victim_uses = 0;
        }
        None
    }

    /// A held shard picked at random, weighted by its keys (or its keys with a
    /// deadline).
    fn random_shard(&self, volatile: bool) -> Option<ShardId> {
        self.weighted_shard(
            next_rand(),
            |s| {
                if volatile {
                    s.ttl_keys()
                } else {
                    s.len()
                }
            },
        )
    }

    fn evict_random(&mut self, volatile: bool, held: &dyn Fn(&[u8]) -> bool) -> Option<Bytes> {
        for _ in 0..16 {
            let id = self.random_shard(volatile)?;
            let shard = self.shard_mut(id)?;
            if let Some(e) = shard.take_random(next_rand(), volatile, held) {
                self.shrink_if_sparse(id);
                return Some(Bytes::copy_from_slice(e.key()));
            }
        }
        None
    }

    fn evict_pooled(
        &mut self,
        policy: Policy,
        now: u64,
        held: &dyn Fn(&[u8]) -> bool,
    ) -> Option<Bytes> {
        let volatile = policy.volatile();
        for _ in 0..16 {
            let id = self.random_shard(volatile)?;
            let samples = self.evictor.samples;
            let mut found = Vec::with_capacity(samples);
            if let Some(shard) = self.shard_mut(id) {
                shard.sample(next_rand(), samples, volatile, |e| {
                    found.push(Candidate {
                        score: score(policy, e, now),
                        key: Bytes::copy_from_slice(e.key()),
                    })
                });
            }
            let pool = &mut self.evictor.pool;
            for c in found {
                if pool.iter().any(|p| p.key == c.key) {
                    continue;
                }
                if pool.len() < POOL {
                    pool.push(c);
                } else if let Some(worst) = pool.iter_mut().min_by_key(|p| p.score) {
                    if worst.score < c.score {
                        *worst = c;
                    }
                }
            }
            // The best candidate that is still here (and still volatile, if it must be).
            while let Some(best) = self
                .evictor
                .pool
                .iter()
                .enumerate()
                .max_by_key(|(_, p)| p.score)
                .map(|(i, _)| i)
            {
                let c = self.evictor.pool.swap_remove(best);
                if !held(&c.key) && self.remove_for_eviction(&c.key, volatile, now) {
                    return Some(c.key);
                }
            }
        }
        None
    }

    /// Remove `key` if it is here (with a deadline, when `volatile`).
    fn remove_for_eviction(&mut self, key: &[u8], volatile: bool, now: u64) -> bool {
        let Some((id, thash)) = self.locate(key, now) else {
            return false;
        };
        let Some(shard) = self.shard_mut(id) else {
            return false;
        };
        let removed = match shard.peek(thash, key) {
            Some(e) if !volatile || e.deadline().is_some() => shard.remove(thash, key).is_some(),
            _ => false,
        };
        if removed {
            self.shrink_if_sparse(id);
        }
        removed
    }

    /// Give back the table space evictions emptied (a table sized for the keys
    /// a shard held before the limit is otherwise kept, and counts against it).
    /// Not while a split, merge or migration walks tables by bucket.
    fn shrink_if_sparse(&mut self, id: ShardId) {
        self.compact_shard(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ops::{KeyOp, Op, SetCond, SetTtl};
    use crate::storage::staircase::RoutingTable;

    fn set(k: &mut Keyspace, key: &str, ttl: Option<u64>) {
        let op = Op::Key {
            key: Bytes::copy_from_slice(key.as_bytes()),
            op: KeyOp::Set {
                value: Bytes::from_static(&[b'v'; 40]),
                cond: SetCond::Always,
                ttl: ttl.map_or(SetTtl::Clear, SetTtl::At),
                get: false,
            },
        };
        k.execute(op, super::super::now_ms());
    }

    /// A core's share of the limit is the hash space of the shards it holds,
    /// and follows a shard that migrates in.
    #[test]
    fn share_follows_the_shards() {
        let table = RoutingTable::new(2, 4);
        let mut k0 = Keyspace::new(0, table.clone());
        let mut k1 = Keyspace::new(1, table.clone());
        k0.set_memory_limit(1000, Policy::AllKeysS3Fifo, 5);
        k1.set_memory_limit(1000, Policy::AllKeysS3Fifo, 5);
        assert_eq!(k0.memory_limit() + k1.memory_limit(), 1000);
        assert_eq!(k0.memory_limit(), 500);
        let moved = (0..4).find(|&s| table.owner(s) == 1).unwrap();
        let mut next = table.clone();
        next.begin_migration(moved, 0);
        next.finish_migration(moved);
        k0.set_table(next);
        assert_eq!(k0.memory_limit(), 750);
    }

    /// Each thread is a core: these tests run one keyspace per test thread, and
    /// the figure they read is that thread's.
    fn run_until_over(policy: Policy, ttl: bool) -> (Keyspace, Vec<Bytes>, usize) {
        let mut k = Keyspace::new(0, RoutingTable::new(1, 4));
        let base = super::super::memory::used();
        k.set_memory_limit((base + 200_000) as u64, policy, 5);
        let mut out = Vec::new();
        for i in 0..20_000 {
            let deadline = (ttl && i % 2 == 0).then(|| super::super::now_ms() + 1_000_000 + i);
            set(&mut k, &format!("key:{i}"), deadline);
            // A table that doubles can take many evictions to pay for at once.
            if k.evict(super::super::now_ms(), usize::MAX, &mut out, &|_| false) == Room::Full {
                // Only a volatile policy runs out, once no key has a deadline.
                assert!(
                    ttl && k.ttl_keys() == 0,
                    "{policy:?} ttl_keys {} len {} heap {:?}",
                    k.ttl_keys(),
                    k.len(),
                    k.held()
                        .map(|(_, s)| (s.ttl_keys(), s.heap_len()))
                        .collect::<Vec<_>>()
                );
                return (k, out, i as usize + 1);
            }
            assert!(!k.over_limit(), "{policy:?}");
        }
        (k, out, 20_000)
    }

    #[test]
    fn every_policy_stays_under_its_limit() {
        for policy in Policy::ALL {
            if policy == Policy::NoEviction {
                continue;
            }
            let volatile = policy.volatile();
            let handle = std::thread::spawn(move || {
                let (k, out, written) = run_until_over(policy, volatile);
                assert!(!out.is_empty(), "{policy:?} evicted nothing");
                assert_eq!(k.evicted(), out.len() as u64);
                assert_eq!(k.len() + out.len(), written, "{policy:?}");
                if volatile {
                    // Only keys with deadlines (the even ones) went.
                    for key in &out {
                        let i: u64 = std::str::from_utf8(&key[4..]).unwrap().parse().unwrap();
                        assert_eq!(i % 2, 0, "{policy:?} evicted {key:?}");
                    }
                }
            });
            handle.join().unwrap();
        }
    }

    #[test]
    fn noeviction_and_volatile_without_deadlines_refuse() {
        for policy in [Policy::NoEviction, Policy::VolatileLru, Policy::VolatileTtl] {
            std::thread::spawn(move || {
                let mut k = Keyspace::new(0, RoutingTable::new(1, 1));
                k.set_memory_limit(1, policy, 5);
                set(&mut k, "a", None);
                let mut out = Vec::new();
                assert!(k.over_limit());
                assert_eq!(
                    k.evict(super::super::now_ms(), 64, &mut out, &|_| false),
                    Room::Full,
                    "{policy:?}"
                );
                assert!(out.is_empty());
            })
            .join()
            .unwrap();
        }
    }

    fn get(k: &mut Keyspace, key: &str) -> bool {
        let op = Op::Key {
            key: Bytes::copy_from_slice(key.as_bytes()),
            op: KeyOp::Get,
        };
        !matches!(
            k.execute(op, super::super::now_ms()),
            crate::storage::ops::OpResult::Nil
        )
    }

    /// S3-FIFO's point: keys read while new move to the main queue, and a scan
    /// of keys read once passes through the small queue without flushing them.
    #[test]
    fn s3fifo_keeps_hot_keys_through_a_scan() {
        for (policy, min_kept) in [(Policy::AllKeysS3Fifo, 800), (Policy::AllKeysLru, 0)] {
            std::thread::spawn(move || {
                let mut k = Keyspace::new(0, RoutingTable::new(1, 4));
                k.set_memory_limit(0, policy, 5);
                for i in 0..1000 {
                    set(&mut k, &format!("hot:{i}"), None);
                }
                for i in 0..1000 {
                    assert!(get(&mut k, &format!("hot:{i}")));
                }
                // Room for about 1,200 keys of this size.
                let per_key = super::super::memory::used() / 1000;
                k.set_memory_limit((per_key * 1300) as u64, policy, 5);
                let mut out = Vec::new();
                for i in 0..10_000 {
                    set(&mut k, &format!("scan:{i}"), None);
                    assert_eq!(
                        k.evict(super::super::now_ms(), usize::MAX, &mut out, &|_| false),
                        Room::Enough
                    );
                }
                let kept = (0..1000)
                    .filter(|i| get(&mut k, &format!("hot:{i}")))
                    .count();
                // The small queue's tenth holds scan keys; main, the hot ones.
                let want = (k.len() * min_kept / 1000).min(1000);
                assert!(
                    kept >= want,
                    "{policy:?} kept {kept} hot keys of {} keys",
                    k.len()
                );
                if policy == Policy::AllKeysLru {
                    assert!(kept < 100, "LRU kept {kept}: the scan should flush it");
                }
            })
            .join()
            .unwrap();
        }
    }

    /// Table space a split holds is not evicted for: it comes back when the
    /// split ends. (A lower limit set right after a fill at full speed finds
    /// the controller splitting while the core evicts; evicting keys for the
    /// held tables once emptied a core.)
    #[test]
    fn table_space_a_split_holds_is_waited_for_not_evicted_for() {
        std::thread::spawn(|| {
            let mut k = Keyspace::new(0, RoutingTable::new(1, 1));
            for i in 0..25_000 {
                set(&mut k, &format!("k{i}"), None);
            }
            for i in 5_000..25_000 {
                let op = Op::Key {
                    key: Bytes::from(format!("k{i}")),
                    op: KeyOp::Del,
                };
                k.execute(op, super::super::now_ms());
            }
            let sparse = k.held().map(|(_, s)| s.table_slack()).sum::<usize>();
            assert!(k.begin_split().is_some());
            let slack = k.held().map(|(_, s)| s.table_slack()).sum::<usize>();
            assert!(slack >= sparse && sparse > 100_000, "{sparse} {slack}");
            let used = super::super::memory::used();
            k.set_memory_limit((used - sparse / 2) as u64, Policy::AllKeysS3Fifo, 5);
            let now = super::super::now_ms();
            let mut out = Vec::new();
            assert!(k.over_limit());
            assert_eq!(k.evict(now, usize::MAX, &mut out, &|_| false), Room::Held);
            assert!(out.is_empty());
            while !k.fill_step(256, now, &mut Vec::new()) {}
            // The split's end gives the emptied source table back.
            assert!(!k.over_limit(), "{} over", super::super::memory::used());
            assert_eq!(k.evict(now, usize::MAX, &mut out, &|_| false), Room::Enough);
            assert!(out.is_empty());
            assert_eq!(k.len(), 5_000);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn lru_keeps_what_was_read() {
        std::thread::spawn(|| {
            let mut k = Keyspace::new(0, RoutingTable::new(1, 1));
            k.set_memory_limit(0, Policy::AllKeysLru, 10);
            for i in 0..1000 {
                set(&mut k, &format!("key:{i}"), None);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            // Read the first hundred: they become the most recent.
            for i in 0..100 {
                let op = Op::Key {
                    key: Bytes::from(format!("key:{i}")),
                    op: KeyOp::Get,
                };
                k.execute(op, super::super::now_ms());
            }
            let used = super::super::memory::used();
            k.set_memory_limit((used / 2) as u64, Policy::AllKeysLru, 10);
            let mut out = Vec::new();
            assert_eq!(
                k.evict(super::super::now_ms(), usize::MAX, &mut out, &|_| false),
                Room::Enough
            );
            let read_evicted = out
                .iter()
                .filter(|key| {
                    std::str::from_utf8(&key[4..])
                        .unwrap()
                        .parse::<u32>()
                        .unwrap()
                        < 100
                })
                .count();
            assert!(out.len() > 300, "{}", out.len());
            assert!(
                read_evicted < 5,
                "{read_evicted} recently read keys evicted"
            );
        })
        .join()
        .unwrap();
    }
}
