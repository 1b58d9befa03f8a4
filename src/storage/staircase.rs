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
//! meaningful across splits and merges (a merge joins two halves back).
//!
//! Migration: a shard moving from core A to core B is owned by B in the table
//! from the first step, with A recorded in `moving` until B has everything; a
//! core that receives a request for a shard the table gives to another core
//! forwards it. This module is pure arithmetic; it never touches entries.

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
    /// Shards whose entries are still moving to their owner: (shard, source core).
    pub moving: Vec<(ShardId, u16)>,
}

impl RoutingTable {
    /// The smallest level whose `2^level >= max(cores, min_shards, 1)`, split 0,
    /// shard i owned by core `i % cores`, epoch 1.
    pub fn new(cores: usize, min_shards: usize) -> RoutingTable {
        let cores = cores.max(1);
        let n = cores.max(min_shards).max(1).next_power_of_two();
        RoutingTable {
            level: n.trailing_zeros(),
            split: 0,
            owners: (0..n).map(|i| (i % cores) as u16).collect(),
            epoch: 1,
            moving: Vec::new(),
        }
    }
    pub fn num_shards(&self) -> usize {
        self.owners.len()
    }
    /// Linear-hashing address of a route hash.
    #[inline]
    pub fn shard_of(&self, route_hash: u64) -> ShardId {
        let low = route_hash & low_mask(self.level);
        if low < self.split as u64 {
            (route_hash & low_mask(self.level + 1)) as ShardId
        } else {
            low as ShardId
        }
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
        (self.split, self.split + (1 << self.level))
    }
    /// Perform the next split in the table: the new shard is owned by the source's
    /// owner; advance `split` (and `level` when it wraps); bump `epoch`.
    /// Returns (source, new shard).
    pub fn apply_split(&mut self) -> (ShardId, ShardId) {
        let (source, target) = self.next_split();
        debug_assert_eq!(target as usize, self.owners.len());
        let owner = self.owners[source as usize];
        self.owners.push(owner);
        self.split += 1;
        if self.split == 1 << self.level {
            self.level += 1;
            self.split = 0;
        }
        self.epoch += 1;
        (source, target)
    }
    /// The core a moving shard's entries are still coming from.
    pub fn source_of(&self, shard: ShardId) -> Option<usize> {
        self.moving
            .iter()
            .find(|(s, _)| *s == shard)
            .map(|&(_, c)| c as usize)
    }
    /// Epoch e+1 of a migration: `to` owns `shard` from now on; its old owner is
    /// recorded as the source until [`RoutingTable::finish_migration`].
    pub fn begin_migration(&mut self, shard: ShardId, to: usize) {
        let from = self.owners[shard as usize];
        self.owners[shard as usize] = to as u16;
        self.moving.push((shard, from));
        self.epoch += 1;
    }
    /// Epoch e+2 of a migration: the new owner holds everything.
    pub fn finish_migration(&mut self, shard: ShardId) {
        self.moving.retain(|(s, _)| *s != shard);
        self.epoch += 1;
    }
    /// The last step of the staircase, as a merge would undo it: `(into, from)`,
    /// where `from` is the newest shard and `into` the one it was split from.
    /// None with a single shard.
    pub fn last_step(&self) -> Option<(ShardId, ShardId)> {
        let n = self.num_shards();
        if n <= 1 {
            return None;
        }
        let (level, split) = if self.split == 0 {
            (self.level - 1, 1u32 << (self.level - 1))
        } else {
            (self.level, self.split)
        };
        let into = split - 1;
        Some((into, into + (1 << level)))
    }
    /// Undo the last split: the newest shard's keys address its buddy again.
    /// Returns `(into, from)`; the caller moves `from`'s entries into `into`.
    pub fn apply_merge(&mut self) -> Option<(ShardId, ShardId)> {
        let (into, from) = self.last_step()?;
        if self.split == 0 {
            self.level -= 1;
            self.split = 1 << self.level;
        }
        self.split -= 1;
        self.owners.pop();
        self.epoch += 1;
        debug_assert_eq!(from as usize, self.owners.len());
        Some((into, from))
    }
    /// The level a shard is addressed with now (`level + 1` for split shards).
    pub fn shard_level(&self, shard: ShardId) -> u32 {
        if shard < self.split || (shard as u64) >= 1u64 << self.level {
            self.level + 1
        } else {
            self.level
        }
    }
    /// The shard whose interval contains scan position `pos`.
    pub fn shard_of_pos(&self, pos: u64) -> ShardId {
        self.shard_of(pos.reverse_bits())
    }
    /// Half-open interval of positions covered by `shard`: `(start, end)` where
    /// `end == None` means the interval runs to the end of the position space.
    pub fn interval(&self, shard: ShardId) -> (u64, Option<u64>) {
        let level = self.shard_level(shard);
        if level == 0 {
            return (0, None);
        }
        // The keys of `shard` are the hashes with `h mod 2^level == shard`; their
        // positions (reversed hashes) share the top `level` bits, which are the
        // `level`-bit reversal of `shard`.
        let width = 64 - level;
        let start = ((shard as u64).reverse_bits() >> width) << width;
        (start, start.checked_add(1u64 << width))
    }
}

/// Mask of the low `bits` bits (`bits <= 64`).
#[inline]
fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// A key's scan position.
#[inline]
pub fn scan_pos(route_hash: u64) -> u64 {
    route_hash.reverse_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn new_tables() {
        let t = RoutingTable::new(1, 1);
        assert_eq!((t.level, t.split, t.epoch), (0, 0, 1));
        assert_eq!(t.owners, vec![0]);
        let t = RoutingTable::new(0, 0);
        assert_eq!(t.owners, vec![0]);
        let t = RoutingTable::new(3, 1);
        assert_eq!(t.level, 2);
        assert_eq!(t.owners, vec![0, 1, 2, 0]);
        let t = RoutingTable::new(4, 16);
        assert_eq!(t.level, 4);
        assert_eq!(t.num_shards(), 16);
        assert!(t
            .owners
            .iter()
            .enumerate()
            .all(|(i, &o)| o as usize == i % 4));
        let t = RoutingTable::new(2, 5);
        assert_eq!(t.num_shards(), 8);
    }

    #[test]
    fn linear_hashing_addresses() {
        let mut t = RoutingTable::new(1, 4);
        assert_eq!(t.shard_of(0b1101), 0b01);
        assert_eq!(t.next_split(), (0, 4));
        assert_eq!(t.apply_split(), (0, 4));
        assert_eq!((t.level, t.split, t.epoch), (2, 1, 2));
        assert_eq!(t.shard_of(0b0100), 4);
        assert_eq!(t.shard_of(0b1000), 0);
        assert_eq!(t.shard_of(0b1101), 1);
        assert_eq!(t.shard_level(0), 3);
        assert_eq!(t.shard_level(4), 3);
        assert_eq!(t.shard_level(1), 2);
        for _ in 0..3 {
            t.apply_split();
        }
        assert_eq!((t.level, t.split, t.num_shards()), (3, 0, 8));
        assert_eq!(t.shard_of(0b1101), 0b101);
    }

    #[test]
    fn apply_split_keeps_owners() {
        let mut t = RoutingTable::new(3, 1);
        for _ in 0..100 {
            let (s, n) = t.next_split();
            let epoch = t.epoch;
            assert_eq!(t.apply_split(), (s, n));
            assert_eq!(t.owners.len(), t.num_shards());
            assert_eq!(t.num_shards(), (1usize << t.level) + t.split as usize);
            assert_eq!(t.owner(n), t.owner(s));
            assert_eq!(t.epoch, epoch + 1);
        }
    }

    /// Intervals of all shards are disjoint and cover the whole position space,
    /// and every key's position lies in its own shard's interval.
    #[test]
    fn intervals_partition_and_contain() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut t = RoutingTable::new(1, 1);
        for _ in 0..40 {
            let mut iv: Vec<(u64, Option<u64>)> =
                (0..t.num_shards() as u32).map(|s| t.interval(s)).collect();
            iv.sort();
            assert_eq!(iv[0].0, 0);
            for w in iv.windows(2) {
                assert_eq!(w[0].1, Some(w[1].0), "gap or overlap at {:?}", t);
            }
            assert_eq!(iv.last().and_then(|x| x.1), None);
            for _ in 0..2000 {
                let h: u64 = rng.gen();
                let s = t.shard_of(h);
                let (start, end) = t.interval(s);
                let p = scan_pos(h);
                assert!(p >= start && end.is_none_or(|e| p < e));
                assert_eq!(t.shard_of_pos(p), s);
                assert_eq!(t.shard_of_pos(start), s);
            }
            t.apply_split();
        }
    }

    /// A merge undoes exactly the last split, and every key of the merged
    /// shard addresses its buddy afterwards.
    #[test]
    fn merge_undoes_split() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut t = RoutingTable::new(2, 2);
        let mut history = vec![t.clone()];
        for _ in 0..37 {
            t.apply_split();
            history.push(t.clone());
        }
        while t.num_shards() > 2 {
            let (into, from) = t.last_step().expect("more than one shard");
            let before = t.clone();
            assert_eq!(t.apply_merge(), Some((into, from)));
            history.pop();
            let prev = history.last().expect("one table per split");
            assert_eq!(
                (t.level, t.split, &t.owners),
                (prev.level, prev.split, &prev.owners)
            );
            assert_eq!(t.epoch, before.epoch + 1);
            for _ in 0..500 {
                let h: u64 = rng.gen();
                if before.shard_of(h) == from {
                    assert_eq!(t.shard_of(h), into);
                } else {
                    assert_eq!(t.shard_of(h), before.shard_of(h));
                }
            }
            // The merged interval is the union of the two halves.
            let (a, b) = (before.interval(into), before.interval(from));
            assert_eq!(t.interval(into), (a.0, b.1));
        }
        assert_eq!(t.apply_merge(), Some((0, 1)));
        assert_eq!((t.level, t.split, t.num_shards()), (0, 0, 1));
        assert_eq!(t.interval(0), (0, None));
        assert_eq!(t.apply_merge(), None);
    }

    #[test]
    fn migration_epochs() {
        let mut t = RoutingTable::new(2, 4);
        t.begin_migration(2, 1);
        assert_eq!((t.owner(2), t.source_of(2), t.epoch), (1, Some(0), 2));
        assert_eq!(t.source_of(1), None);
        t.finish_migration(2);
        assert_eq!((t.owner(2), t.source_of(2), t.epoch), (1, None, 3));
    }

    #[test]
    fn level_zero_covers_everything() {
        let t = RoutingTable::new(1, 1);
        assert_eq!(t.interval(0), (0, None));
        assert_eq!(t.shard_of(u64::MAX), 0);
        let mut t = t;
        t.apply_split();
        assert_eq!(t.interval(0), (0, Some(1 << 63)));
        assert_eq!(t.interval(1), (1 << 63, None));
    }
}
