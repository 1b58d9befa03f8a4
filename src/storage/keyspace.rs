//! One core's slice of the staircase: the shards it owns, its copy of the
//! routing table, the split or merge in progress, and the execution of [`Op`]s.
//!
//! Splits and merges run here, on the owning core, a batch at a time
//! ([`Keyspace::fill_step`]): while shard `t` is being filled from `s` (a split's
//! new half, or a merge's surviving buddy), any op on a key that now addresses `t`
//! first pulls that key from `s` (a key already in `t` is newer and wins), so reads
//! never miss and writes never resurrect. Migration between cores is in
//! [`super::migration`]. This module never awaits and never sees another core's
//! shards.

use super::decimal::{self, Decimal, Number};
use super::entry::{Entry, MAX_KEY_LEN};
use super::glob::glob_match;
use super::hash::{hashes, key_hash, table_hash};
use super::ops::{
    CoreOp, ExpireCond, GetExTtl, KeyOp, Op, OpError, OpResult, SetCond, SetTtl, ShardStat,
};
use super::shard::{Shard, Walk};
use super::staircase::{scan_pos, RoutingTable, ShardId};
use crate::protocol::ascii::parse_i64;
use bytes::Bytes;

/// Attempts RANDOMKEY makes (each a random shard and a random bucket walk) before
/// answering "no key": only shards full of expired-but-unpurged keys exhaust them.
const RANDOM_TRIES: usize = 16;

/// Inserts a split's source can take before its table must rehash (see `begin_split`).
const SPLIT_HEADROOM: usize = 256;

/// A split or merge in progress: `target` is filled from `source` by a walk over
/// the source's buckets. A split moves the entries that now address `target`; a
/// merge moves everything, then drops `source`.
pub(super) struct Fill {
    pub(super) source: ShardId,
    pub(super) target: ShardId,
    merge: bool,
    /// Where the walk over the source's buckets is.
    walk: Walk,
}

pub struct Keyspace {
    pub(super) core: usize,
    pub(super) table: RoutingTable,
    /// By shard id; `Some` for the shards held here.
    pub(super) shards: Vec<Option<Shard>>,
    pub(super) fill: Option<Fill>,
    /// Shards this core is handing to another core (see [`super::migration`]).
    pub(super) outgoing: Vec<super::migration::Outgoing>,
    /// FLUSHALLs run here. Every core runs every FLUSHALL once, so entries sent by
    /// a core that had run fewer were sent before a flush this core already ran.
    pub(super) flushes: u64,
    /// Set while running ops whose keys were just pulled from a migration's
    /// source: a key absent here then really is absent.
    pub(super) settled: bool,
    /// xorshift64 state for RANDOMKEY (never zero).
    rng: u64,
    /// Shard the next expiry pass starts at, so one busy shard cannot starve the rest.
    expire_from: usize,
    /// This core's share of `maxmemory` and how it evicts (see [`super::evict`]).
    pub(super) evictor: super::evict::Evictor,
}

impl Keyspace {
    /// The keyspace of core `core`: creates an empty shard for each shard the table gives it.
    pub fn new(core: usize, table: RoutingTable) -> Keyspace {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ (core as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut ks = Keyspace {
            core,
            table,
            shards: Vec::new(),
            fill: None,
            outgoing: Vec::new(),
            flushes: 0,
            settled: false,
            rng: seed | 1,
            expire_from: 0,
            evictor: super::evict::Evictor::default(),
        };
        ks.create_owned_shards();
        ks
    }
    pub fn core(&self) -> usize {
        self.core
    }
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }
    /// Adopt a newer routing table from another core (older epochs are ignored).
    /// Shards newly assigned to this core that it does not hold are created empty.
    pub fn set_table(&mut self, table: RoutingTable) {
        if table.epoch <= self.table.epoch {
            return;
        }
        self.table = table;
        self.create_owned_shards();
    }
    fn create_owned_shards(&mut self) {
        let n = self.table.num_shards();
        if self.shards.len() < n {
            self.shards.resize_with(n, || None);
        }
        for (id, slot) in self.shards.iter_mut().enumerate().take(n) {
            if slot.is_none() && self.table.owners[id] as usize == self.core {
                *slot = Some(Shard::new());
            }
        }
    }
    /// True when `route_hash` addresses a shard this core owns under its table.
    pub fn owns_hash(&self, route_hash: u64) -> bool {
        self.table.core_of(route_hash) == self.core
    }
    /// Execute one op at time `now` (unix ms). A key op for a shard this core does not own
    /// is executed anyway only if the shard exists here; callers route by the table first.
    ///
    /// When the shard does not exist here, an op that could create the key answers
    /// `Nil` (nothing was stored) and any other op answers as for a missing key.
    pub fn execute(&mut self, op: Op, now: u64) -> OpResult {
        match op {
            Op::Key { key, op } => self.key_op(&key, op, now),
            Op::Core(op) => self.core_op(op, now),
        }
    }
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
    pub(super) fn compaction_held(&self) -> bool {
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
        // Tables that emptied while the walk kept them from shrinking.
        self.compact();
        true
    }
    /// The shard being filled by a split or merge in progress.
    pub fn filling(&self) -> Option<ShardId> {
        self.fill.as_ref().map(|f| f.target)
    }
    pub fn split_in_progress(&self) -> bool {
        self.fill.is_some()
    }
    /// Access for tests and the admin layer.
    pub fn shard(&self, id: ShardId) -> Option<&Shard> {
        self.shards.get(id as usize).and_then(Option::as_ref)
    }

    pub(super) fn shard_mut(&mut self, id: ShardId) -> Option<&mut Shard> {
        self.shards.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// The shards held here, with their ids.
    pub(super) fn held(&self) -> impl Iterator<Item = (ShardId, &Shard)> + '_ {
        self.shards
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.as_ref().map(|s| (id as ShardId, s)))
    }

    /// Start loading what lookups of `keys` will touch, for the keys whose
    /// shard is here. A pipeline's keys are prefetched before its commands run,
    /// so that their cache misses overlap instead of following one another: a
    /// lookup makes three dependent loads (the table's control bytes, the
    /// slot, the entry), each a miss in a table bigger than the cache. A first
    /// pass starts the control bytes and slots of every key, a second (once
    /// those are arriving) the entries. Changes nothing.
    /// The first stage of [`Self::prefetch_keys`] for one key: start loading
    /// the table lines its lookup probes first. Returns what the second stage
    /// ([`Self::prefetch_entry`]) needs, when the key's shard is here.
    #[inline]
    pub fn prefetch_slots(&self, key: &[u8]) -> Option<(ShardId, u64)> {
        let (route, thash) = hashes(key);
        let id = self.table.shard_of(route);
        self.shard(id)?.prefetch_slots(thash);
        Some((id, thash))
    }

    /// The second stage: start loading the entry itself.
    #[inline]
    pub fn prefetch_entry(&self, (id, thash): (ShardId, u64)) {
        if let Some(s) = self.shard(id) {
            s.prefetch_entry(thash);
        }
    }

    pub fn prefetch_keys<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) {
        const CHUNK: usize = 32;
        let mut found: [(ShardId, u64); CHUNK] = [(0, 0); CHUNK];
        let mut keys = keys.peekable();
        while keys.peek().is_some() {
            let mut n = 0;
            for key in keys.by_ref().take(CHUNK) {
                let (route, thash) = hashes(key);
                let id = self.table.shard_of(route);
                if let Some(s) = self.shard(id) {
                    s.prefetch_slots(thash);
                    found[n] = (id, thash);
                    n += 1;
                }
            }
            for &(id, thash) in &found[..n] {
                if let Some(s) = self.shard(id) {
                    s.prefetch_entry(thash);
                }
            }
        }
    }

    /// The shard and table hash of `key`, after pulling the key out of the source
    /// of a split in progress when it addresses the target. None when the shard is
    /// not held here.
    #[inline]
    pub(super) fn locate(&mut self, key: &[u8], now: u64) -> Option<(ShardId, u64)> {
        let (route, thash) = hashes(key);
        let id = self.table.shard_of(route);
        if let Some(fill) = &self.fill {
            if fill.target == id {
                let source = fill.source;
                self.pull(source, id, thash, key, now);
            }
        }
        self.shard(id)?;
        Some((id, thash))
    }

    /// Move `key` from the split's source to its target, unless the target already
    /// has it (then the target's is newer and the source's is dropped).
    fn pull(&mut self, source: ShardId, target: ShardId, thash: u64, key: &[u8], now: u64) {
        let Some(e) = self.shard_mut(source).and_then(|s| s.remove(thash, key)) else {
            return;
        };
        if e.is_expired(now) {
            return;
        }
        if let Some(t) = self.shard_mut(target) {
            if !t.contains(thash, key) {
                t.insert(thash, e);
            }
        }
    }

    fn key_op(&mut self, key: &[u8], op: KeyOp, now: u64) -> OpResult {
        if key.len() > MAX_KEY_LEN {
            // No such key can exist; one cannot be created either.
            return unplaceable(op, now, OpResult::Err(OpError::TooLarge));
        }
        match self.locate(key, now) {
            Some((id, thash)) => match self.shard_mut(id) {
                Some(shard) => {
                    shard.ops += 1;
                    key_op(shard, thash, key, op, now)
                }
                None => unplaceable(op, now, OpResult::Nil),
            },
            None => unplaceable(op, now, OpResult::Nil),
        }
    }

    fn core_op(&mut self, op: CoreOp, now: u64) -> OpResult {
        match op {
            CoreOp::DbSize | CoreOp::Keys { .. } => self.count_part(&op, false, now),
            // Answered by the core before the keyspace is asked (core::world).
            CoreOp::Publish { .. } => OpResult::Int(0),
            CoreOp::Flush => {
                self.flushes += 1;
                for shard in self.shards.iter_mut().flatten() {
                    shard.clear();
                }
                OpResult::Ok
            }
            CoreOp::RandomKey => self.random_key(now),
            CoreOp::Scan {
                cursor,
                count,
                pattern,
                type_name,
            } => self.scan(cursor, count, pattern.as_deref(), type_name.as_deref(), now),
            CoreOp::ShardStats => OpResult::Stats(self.stats()),
            CoreOp::MSetNx { pairs } => self.msetnx(pairs, now),
            CoreOp::Rename { src, dst, nx } => self.rename(&src, &dst, nx, now),
        }
    }

    fn msetnx(&mut self, pairs: Vec<(Bytes, Bytes)>, now: u64) -> OpResult {
        if pairs.iter().any(|(k, _)| k.len() > MAX_KEY_LEN) {
            return OpResult::Err(OpError::TooLarge);
        }
        for (key, _) in &pairs {
            let Some((id, thash)) = self.locate(key, now) else {
                return OpResult::Nil;
            };
            if self
                .shard_mut(id)
                .is_some_and(|s| s.get(thash, key, now).is_some())
            {
                return OpResult::Int(0);
            }
        }
        for (key, value) in &pairs {
            // Located above: every shard is held here.
            if let Some((id, thash)) = self.locate(key, now) {
                if let Some(shard) = self.shard_mut(id) {
                    shard.insert(thash, Entry::new(key, value, None));
                }
            }
        }
        OpResult::Int(1)
    }

    fn rename(&mut self, src: &[u8], dst: &[u8], nx: bool, now: u64) -> OpResult {
        if src.len() > MAX_KEY_LEN {
            return OpResult::Err(OpError::NoSuchKey);
        }
        let Some((sid, sthash)) = self.locate(src, now) else {
            return OpResult::Err(OpError::NoSuchKey);
        };
        let exists = self
            .shard_mut(sid)
            .is_some_and(|s| s.get(sthash, src, now).is_some());
        if !exists {
            return OpResult::Err(OpError::NoSuchKey);
        }
        let done = if nx { OpResult::Int(1) } else { OpResult::Ok };
        if src == dst {
            return if nx { OpResult::Int(0) } else { OpResult::Ok };
        }
        if dst.len() > MAX_KEY_LEN {
            return OpResult::Err(OpError::TooLarge);
        }
        let Some((did, dthash)) = self.locate(dst, now) else {
            return OpResult::Nil;
        };
        if nx
            && self
                .shard_mut(did)
                .is_some_and(|s| s.get(dthash, dst, now).is_some())
        {
            return OpResult::Int(0);
        }
        let Some(e) = self.shard_mut(sid).and_then(|s| s.remove(sthash, src)) else {
            return OpResult::Err(OpError::NoSuchKey);
        };
        let mut moved = Entry::from_bytes(dst, e.value_bytes(), e.deadline());
        moved.inherit(&e);
        if let Some(shard) = self.shard_mut(did) {
            shard.insert(dthash, moved);
        }
        done
    }

    fn next_rand(&mut self) -> u64 {
        super::xorshift64(&mut self.rng)
    }

    /// A held shard picked by `rand`, each with a chance in proportion to
    /// `weight` (its keys, say); None when every weight is 0.
    pub(super) fn weighted_shard(
        &self,
        rand: u64,
        weight: impl Fn(&Shard) -> usize,
    ) -> Option<ShardId> {
        let total: usize = self.held().map(|(_, s)| weight(s)).sum();
        if total == 0 {
            return None;
        }
        let mut pick = (rand % total as u64) as usize;
        self.held()
            .find(|(_, s)| {
                let w = weight(s);
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(id, _)| id)
    }

    /// A random shard (weighted by its key count), then a walk from a random bucket
    /// to the first live entry: roughly uniform, as Redis's RANDOMKEY is.
    fn random_key(&mut self, now: u64) -> OpResult {
        for _ in 0..RANDOM_TRIES {
            let rand = self.next_rand();
            let start = self.next_rand() as usize;
            let Some(shard) = self
                .weighted_shard(rand, Shard::len)
                .and_then(|id| self.shard(id))
            else {
                break;
            };
            if let Some(e) = shard.entry_from(start, |e| !e.is_expired(now)) {
                return OpResult::Keys(vec![Bytes::copy_from_slice(e.key())]);
            }
        }
        OpResult::Keys(Vec::new())
    }

    /// SCAN from position `cursor`: see [`CoreOp::Scan`]. Stateless: every call
    /// recomputes positions from the keys, so a cursor survives splits.
    fn scan(
        &self,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        type_name: Option<&[u8]>,
        now: u64,
    ) -> OpResult {
        let count = count.max(1);
        // Strings are the only type there is.
        let type_ok = type_name.is_none_or(|t| t.eq_ignore_ascii_case(b"string"));
        let pattern = pattern.filter(|p| *p != b"*");
        let mut keys = Vec::new();
        let mut examined = 0usize;
        let mut pos = cursor;
        let mut cands: Vec<(u64, &Entry)> = Vec::new();
        loop {
            let id = self.table.shard_of_pos(pos);
            if self.table.owner(id) != self.core
                || (pos != cursor && self.table.source_of(id).is_some())
            {
                // Another core's shard, or one still arriving (its source's keys are
                // merged in by `core::migrate`): the caller continues from `pos`.
                return OpResult::Scan { next: pos, keys };
            }
            // Owned but not held cannot happen through `set_table`; should it, the
            // shard is empty here, and answering `pos` again would never end the scan.
            let shard = self.shard(id);
            let (start, end) = self.table.interval(id);
            // While this shard is being filled, keys addressing it may still be in the source.
            let pending = self
                .fill
                .as_ref()
                .filter(|s| s.target == id)
                .and_then(|s| self.shard(s.source));
            cands.clear();
            for e in shard.into_iter().chain(pending).flat_map(|s| s.iter()) {
                if e.is_expired(now) {
                    continue;
                }
                let p = scan_pos(key_hash(e.key()));
                if p >= pos && p >= start && end.is_none_or(|end| p < end) {
                    cands.push((p, e));
                }
            }
            let want = count - examined;
            let (next, cut) = match super::migration::take_page(&mut cands, want) {
                Some(next) => (next, true),
                None => (end, false),
            };
            examined += cands.len();
            if type_ok {
                keys.extend(
                    cands
                        .iter()
                        .filter(|(_, e)| pattern.is_none_or(|p| glob_match(p, e.key())))
                        .map(|(_, e)| Bytes::copy_from_slice(e.key())),
                );
            }
            match next {
                None => return OpResult::Scan { next: 0, keys },
                Some(next) if cut || examined >= count => {
                    return OpResult::Scan { next, keys };
                }
                Some(next) => pos = next,
            }
        }
    }
}

/// The answer for a key op whose shard is not here (or whose key is too long to
/// store): ops that could create the key answer `refuse`; every other op answers
/// as it would for a missing key.
fn unplaceable(op: KeyOp, now: u64, refuse: OpResult) -> OpResult {
    match op {
        KeyOp::Set { .. }
        | KeyOp::IncrBy(_)
        | KeyOp::IncrByFloat(_)
        | KeyOp::Append { .. }
        | KeyOp::SetRange { .. }
        | KeyOp::Put { .. } => refuse,
        op => key_op(&mut Shard::new(), 0, b"", op, now),
    }
}

#[inline]
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One key op on the shard holding `key`.
fn key_op(shard: &mut Shard, thash: u64, key: &[u8], op: KeyOp, now: u64) -> OpResult {
    match op {
        KeyOp::Get => match shard.get(thash, key, now) {
            Some(e) => OpResult::Bulk(e.value_bytes()),
            None => OpResult::Nil,
        },
        KeyOp::Set {
            value,
            cond,
            ttl,
            get,
        } => set(shard, thash, key, &value, cond, ttl, get, now),
        KeyOp::GetDel => match shard.remove(thash, key) {
            Some(e) if !e.is_expired(now) => OpResult::Bulk(e.into_value()),
            _ => OpResult::Nil,
        },
        KeyOp::GetEx { ttl } => match ttl {
            GetExTtl::Keep => key_op(shard, thash, key, KeyOp::Get, now),
            GetExTtl::Invalid(err) => match shard.get(thash, key, now) {
                Some(_) => OpResult::Err(err),
                None => OpResult::Nil,
            },
            GetExTtl::At(d) if d <= now => key_op(shard, thash, key, KeyOp::GetDel, now),
            GetExTtl::Persist | GetExTtl::At(_) => {
                let deadline = match ttl {
                    GetExTtl::At(d) => Some(d),
                    _ => None,
                };
                shard
                    .update(thash, key, now, |e| {
                        e.set_deadline(deadline);
                        OpResult::Bulk(e.value_bytes())
                    })
                    .unwrap_or(OpResult::Nil)
            }
        },
        KeyOp::IncrBy(by) => {
            let r = shard.update(thash, key, now, |e| {
                let cur = match e.as_int() {
                    Some(cur) => cur,
                    None => parse_i64(&e.value()).ok_or(OpError::NotInteger)?,
                };
                let new = cur.checked_add(by).ok_or(OpError::Overflow)?;
                e.set_int(new);
                Ok(new)
            });
            match r {
                Some(Ok(v)) => OpResult::Int(v),
                Some(Err(err)) => OpResult::Err(err),
                None => {
                    shard.insert(thash, Entry::from_int(key, by, None));
                    OpResult::Int(by)
                }
            }
        }
        KeyOp::IncrByFloat(by) => {
            let r = shard.update(thash, key, now, |e| {
                let text = add_float(&e.value(), &by)?;
                e.set_value(text.as_bytes());
                Ok(text)
            });
            let r = match r {
                Some(r) => r,
                None => add_float(b"0", &by).inspect(|text| {
                    shard.insert(thash, Entry::new(key, text.as_bytes(), None));
                }),
            };
            match r {
                Ok(text) => OpResult::Bulk(Bytes::from(text)),
                Err(err) => OpResult::Err(err),
            }
        }
        KeyOp::Append { value, max_len } => {
            let r = shard.update(thash, key, now, |e| {
                match e.value().len().checked_add(value.len()) {
                    Some(n) if n <= max_len => {
                        e.append(&value);
                        Ok(n)
                    }
                    _ => Err(OpError::TooLarge),
                }
            });
            match r {
                Some(Ok(n)) => OpResult::Int(to_i64(n as u64)),
                Some(Err(err)) => OpResult::Err(err),
                None if value.len() > max_len => OpResult::Err(OpError::TooLarge),
                None => {
                    shard.insert(thash, Entry::new(key, &value, None));
                    OpResult::Int(to_i64(value.len() as u64))
                }
            }
        }
        KeyOp::StrLen => OpResult::Int(
            shard
                .get(thash, key, now)
                .map_or(0, |e| to_i64(e.value().len() as u64)),
        ),
        KeyOp::GetRange { start, end } => match shard.get(thash, key, now) {
            Some(e) => match range(e.value_len(), start, end) {
                Some((a, b)) => OpResult::Bulk(e.value_slice(a, b + 1)),
                None => OpResult::Bulk(Bytes::new()),
            },
            None => OpResult::Bulk(Bytes::new()),
        },
        KeyOp::SetRange {
            offset,
            value,
            max_len,
        } => {
            if value.is_empty() {
                // Redis answers the current length and creates nothing.
                return key_op(shard, thash, key, KeyOp::StrLen, now);
            }
            let need = match offset.checked_add(value.len()) {
                Some(n) if n <= max_len => n,
                _ => return OpResult::Err(OpError::TooLarge),
            };
            let r = shard.update(thash, key, now, |e| {
                if need > e.value().len() {
                    e.resize_value(need);
                }
                e.write_at(offset, &value);
                e.value().len()
            });
            let len = match r {
                Some(len) => len,
                None => {
                    let mut e = Entry::zeroed(key, need, None);
                    e.write_at(offset, &value);
                    shard.insert(thash, e);
                    need
                }
            };
            OpResult::Int(to_i64(len as u64))
        }
        KeyOp::Del => match shard.remove(thash, key) {
            Some(e) if !e.is_expired(now) => OpResult::Int(1),
            _ => OpResult::Int(0),
        },
        KeyOp::Exists => OpResult::Int(shard.get(thash, key, now).is_some() as i64),
        KeyOp::Type => match shard.get(thash, key, now) {
            Some(_) => OpResult::Status("string"),
            None => OpResult::Status("none"),
        },
        KeyOp::Expire { at_ms, cond } => {
            let applies = shard.update(thash, key, now, |e| {
                let cur = e.deadline();
                // No deadline counts as infinite for GT and LT.
                let ok = match cond {
                    ExpireCond::Always => true,
                    ExpireCond::Nx => cur.is_none(),
                    ExpireCond::Xx => cur.is_some(),
                    ExpireCond::Gt => cur.is_some_and(|c| at_ms > c),
                    ExpireCond::Lt => cur.is_none_or(|c| at_ms < c),
                    ExpireCond::XxLt => cur.is_some_and(|c| at_ms < c),
                };
                if ok && at_ms > now {
                    e.set_deadline(Some(at_ms));
                }
                ok
            });
            match applies {
                Some(true) => {
                    if at_ms <= now {
                        shard.remove(thash, key);
                    }
                    OpResult::Int(1)
                }
                _ => OpResult::Int(0),
            }
        }
        KeyOp::Pttl => match shard.get(thash, key, now) {
            Some(e) => match e.deadline() {
                Some(d) => OpResult::Int(to_i64(d.saturating_sub(now))),
                None => OpResult::Int(-1),
            },
            None => OpResult::Int(-2),
        },
        KeyOp::PexpireTime => match shard.get(thash, key, now) {
            Some(e) => match e.deadline() {
                Some(d) => OpResult::Int(to_i64(d)),
                None => OpResult::Int(-1),
            },
            None => OpResult::Int(-2),
        },
        KeyOp::Persist => {
            let r = shard.update(thash, key, now, |e| {
                let had = e.deadline().is_some();
                if had {
                    e.set_deadline(None);
                }
                had
            });
            OpResult::Int(r.unwrap_or(false) as i64)
        }
        KeyOp::Take => match shard.remove(thash, key) {
            Some(e) if !e.is_expired(now) => {
                let deadline = e.deadline();
                OpResult::Taken(Some((e.into_value(), deadline)))
            }
            _ => OpResult::Taken(None),
        },
        KeyOp::Put {
            value,
            deadline,
            only_if_absent,
        } => {
            if only_if_absent && shard.get(thash, key, now).is_some() {
                return OpResult::Int(0);
            }
            if deadline.is_some_and(|d| d <= now) {
                // Stored and expired at once: whatever was there is overwritten, then gone.
                shard.remove(thash, key);
            } else {
                // The value left an entry (RENAME's Take): share it, no copy.
                shard.insert(thash, Entry::from_bytes(key, value, deadline));
            }
            OpResult::Int(1)
        }
    }
}

/// SET with all its options (Redis 7 semantics).
#[allow(clippy::too_many_arguments)]
fn set(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    value: &[u8],
    cond: SetCond,
    ttl: SetTtl,
    get: bool,
    now: u64,
) -> OpResult {
    if cond == SetCond::Always && !get && ttl != SetTtl::Keep {
        // The common case needs nothing from the old entry: one lookup.
        match ttl {
            SetTtl::At(d) if d <= now => {
                shard.remove(thash, key);
            }
            SetTtl::At(d) => {
                shard.insert(thash, Entry::new(key, value, Some(d)));
            }
            _ => {
                shard.insert(thash, Entry::new(key, value, None));
            }
        }
        return OpResult::Ok;
    }
    let (exists, old_value, old_deadline) = match shard.get(thash, key, now) {
        Some(e) => (true, get.then(|| e.value_bytes()), e.deadline()),
        None => (false, None, None),
    };
    let reply = if get {
        old_value.map_or(OpResult::Nil, OpResult::Bulk)
    } else {
        OpResult::Ok
    };
    let proceed = match cond {
        SetCond::Always => true,
        SetCond::IfAbsent => !exists,
        SetCond::IfPresent => exists,
    };
    if !proceed {
        // With GET the old value is still the answer (nil when missing).
        return if get { reply } else { OpResult::Nil };
    }
    let deadline = match ttl {
        SetTtl::Clear => None,
        SetTtl::Keep => old_deadline,
        SetTtl::At(d) => Some(d),
    };
    if deadline.is_some_and(|d| d <= now) {
        shard.remove(thash, key);
    } else {
        shard.insert(thash, Entry::new(key, value, deadline));
    }
    reply
}

/// GETRANGE's index rules: the inclusive byte range, or None for an empty answer.
fn range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return None;
    }
    let len = len as i128;
    let (mut start, mut end) = (start as i128, end as i128);
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

/// INCRBYFLOAT's sum of a stored value and the increment, as Redis stores it.
fn add_float(cur: &[u8], by: &Decimal) -> Result<String, OpError> {
    let cur = match decimal::parse(cur) {
        Some(Number::Finite(d)) => d,
        Some(Number::Infinite) => return Err(OpError::NanOrInf),
        None => return Err(OpError::NotFloat),
    };
    let v = cur.add(by);
    if v.overflows() {
        return Err(OpError::NanOrInf);
    }
    Ok(v.to_human())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::{HashMap, HashSet};

    const NOW: u64 = 1_000_000;

    fn ks(cores: usize, shards: usize) -> Keyspace {
        Keyspace::new(0, RoutingTable::new(cores, shards))
    }

    #[test]
    fn prefetching_finds_local_keys_and_changes_nothing() {
        // Two cores: some keys' shards are on the other one.
        let mut k = ks(2, 8);
        for i in 0..2000 {
            run(&mut k, &format!("k{i}"), set("v"));
        }
        let names: Vec<String> = (0..4000).map(|i| format!("k{i}")).collect();
        let mut here = 0;
        for n in &names {
            if let Some(found) = k.prefetch_slots(n.as_bytes()) {
                here += 1;
                k.prefetch_entry(found);
            }
        }
        assert!(
            here > 0 && here < names.len(),
            "{here} of {} local",
            names.len()
        );
        k.prefetch_keys(names.iter().map(|n| n.as_bytes()));
        k.prefetch_keys(std::iter::empty());
        let held = (0..2000)
            .filter(|i| run(&mut k, &format!("k{i}"), KeyOp::Get) == b("v"))
            .count();
        assert!(held > 0);
        assert_eq!(k.len(), held, "prefetching added or removed nothing");
    }

    fn run(ks: &mut Keyspace, key: &str, op: KeyOp) -> OpResult {
        run_at(ks, key, op, NOW)
    }

    fn run_at(ks: &mut Keyspace, key: &str, op: KeyOp, now: u64) -> OpResult {
        ks.execute(
            Op::Key {
                key: Bytes::copy_from_slice(key.as_bytes()),
                op,
            },
            now,
        )
    }

    fn core(ks: &mut Keyspace, op: CoreOp) -> OpResult {
        ks.execute(Op::Core(op), NOW)
    }

    fn set(value: &str) -> KeyOp {
        set_with(value, SetCond::Always, SetTtl::Clear, false)
    }

    fn set_with(value: &str, cond: SetCond, ttl: SetTtl, get: bool) -> KeyOp {
        KeyOp::Set {
            value: Bytes::copy_from_slice(value.as_bytes()),
            cond,
            ttl,
            get,
        }
    }

    fn b(s: &str) -> OpResult {
        OpResult::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn incrf(by: &str) -> KeyOp {
        match decimal::parse(by.as_bytes()) {
            Some(Number::Finite(d)) => KeyOp::IncrByFloat(d),
            other => panic!("{by:?} is no finite increment: {other:?}"),
        }
    }

    fn pttl(ks: &mut Keyspace, key: &str) -> OpResult {
        run(ks, key, KeyOp::Pttl)
    }

    /// Shard accounting equals what the entries say.
    fn check_accounting(ks: &Keyspace) {
        for (_, s) in ks.held() {
            let bytes: usize = s.iter().map(|e| e.mem_size()).sum();
            let ttl = s.iter().filter(|e| e.deadline().is_some()).count();
            assert_eq!(s.bytes(), bytes);
            assert_eq!(s.ttl_keys(), ttl);
        }
    }

    #[test]
    fn get_set_basic() {
        let mut k = ks(1, 4);
        assert_eq!(run(&mut k, "a", KeyOp::Get), OpResult::Nil);
        assert_eq!(run(&mut k, "a", set("1")), OpResult::Ok);
        assert_eq!(run(&mut k, "a", KeyOp::Get), b("1"));
        assert_eq!(run(&mut k, "a", set("22")), OpResult::Ok);
        assert_eq!(run(&mut k, "a", KeyOp::Get), b("22"));
        assert_eq!(k.len(), 1);
        assert_eq!(run(&mut k, "", set("empty key")), OpResult::Ok);
        assert_eq!(run(&mut k, "", KeyOp::Get), b("empty key"));
        check_accounting(&k);
    }

    #[test]
    fn set_options() {
        let mut k = ks(1, 1);
        // NX
        assert_eq!(
            run(
                &mut k,
                "a",
                set_with("1", SetCond::IfAbsent, SetTtl::Clear, false)
            ),
            OpResult::Ok
        );
        assert_eq!(
            run(
                &mut k,
                "a",
                set_with("2", SetCond::IfAbsent, SetTtl::Clear, false)
            ),
            OpResult::Nil
        );
        assert_eq!(run(&mut k, "a", KeyOp::Get), b("1"));
        // NX GET on existing: old value, no write.
        assert_eq!(
            run(
                &mut k,
                "a",
                set_with("2", SetCond::IfAbsent, SetTtl::Clear, true)
            ),
            b("1")
        );
        assert_eq!(run(&mut k, "a", KeyOp::Get), b("1"));
        // NX GET on missing: nil, written.
        assert_eq!(
            run(
                &mut k,
                "n",
                set_with("x", SetCond::IfAbsent, SetTtl::Clear, true)
            ),
            OpResult::Nil
        );
        assert_eq!(run(&mut k, "n", KeyOp::Get), b("x"));
        // XX
        assert_eq!(
            run(
                &mut k,
                "b",
                set_with("1", SetCond::IfPresent, SetTtl::Clear, false)
            ),
            OpResult::Nil
        );
        assert_eq!(run(&mut k, "b", KeyOp::Exists), OpResult::Int(0));
        assert_eq!(
            run(
                &mut k,
                "b",
                set_with("1", SetCond::IfPresent, SetTtl::Clear, true)
            ),
            OpResult::Nil
        );
        assert_eq!(
            run(
                &mut k,
                "a",
                set_with("3", SetCond::IfPresent, SetTtl::Clear, false)
            ),
            OpResult::Ok
        );
        // GET
        assert_eq!(
            run(
                &mut k,
                "a",
                set_with("4", SetCond::Always, SetTtl::Clear, true)
            ),
            b("3")
        );
        assert_eq!(
            run(
                &mut k,
                "c",
                set_with("4", SetCond::Always, SetTtl::Clear, true)
            ),
            OpResult::Nil
        );
        // Deadlines: At sets, Clear clears, Keep keeps.
        run(
            &mut k,
            "a",
            set_with("5", SetCond::Always, SetTtl::At(NOW + 500), false),
        );
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(500));
        run(
            &mut k,
            "a",
            set_with("6", SetCond::Always, SetTtl::Keep, false),
        );
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(500));
        assert_eq!(run(&mut k, "a", KeyOp::Get), b("6"));
        run(&mut k, "a", set("7"));
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(-1));
        // KEEPTTL on a missing key: no deadline.
        run(
            &mut k,
            "kt",
            set_with("v", SetCond::Always, SetTtl::Keep, false),
        );
        assert_eq!(pttl(&mut k, "kt"), OpResult::Int(-1));
        // A deadline in the past deletes and answers Ok (or the old value with GET).
        assert_eq!(
            run(
                &mut k,
                "a",
                set_with("8", SetCond::Always, SetTtl::At(NOW), false)
            ),
            OpResult::Ok
        );
        assert_eq!(run(&mut k, "a", KeyOp::Exists), OpResult::Int(0));
        run(&mut k, "a", set("9"));
        assert_eq!(
            run(
                &mut k,
                "a",
                set_with("10", SetCond::Always, SetTtl::At(1), true)
            ),
            b("9")
        );
        assert_eq!(run(&mut k, "a", KeyOp::Get), OpResult::Nil);
        assert_eq!(
            run(
                &mut k,
                "z",
                set_with("1", SetCond::IfAbsent, SetTtl::At(1), false)
            ),
            OpResult::Ok
        );
        assert_eq!(run(&mut k, "z", KeyOp::Exists), OpResult::Int(0));
        check_accounting(&k);
    }

    #[test]
    fn expired_keys_are_invisible() {
        let mut k = ks(1, 2);
        run(
            &mut k,
            "t",
            set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
        );
        run(&mut k, "p", set("v"));
        let later = NOW + 10;
        assert_eq!(run_at(&mut k, "t", KeyOp::Get, later), OpResult::Nil);
        run(
            &mut k,
            "t",
            set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
        );
        for op in [KeyOp::Exists, KeyOp::StrLen, KeyOp::Del, KeyOp::Persist] {
            assert_eq!(run_at(&mut k, "t", op.clone(), later), OpResult::Int(0));
            run(
                &mut k,
                "t",
                set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
            );
        }
        assert_eq!(run_at(&mut k, "t", KeyOp::Pttl, later), OpResult::Int(-2));
        run(
            &mut k,
            "t",
            set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
        );
        assert_eq!(
            run_at(&mut k, "t", KeyOp::Type, later),
            OpResult::Status("none")
        );
        run(
            &mut k,
            "t",
            set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
        );
        assert_eq!(run_at(&mut k, "t", KeyOp::GetDel, later), OpResult::Nil);
        run(
            &mut k,
            "t",
            set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
        );
        assert_eq!(
            run_at(&mut k, "t", KeyOp::Take, later),
            OpResult::Taken(None)
        );
        run(
            &mut k,
            "t",
            set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
        );
        // INCR on an expired key starts from zero; the old TTL is gone.
        run(&mut k, "t", set("5"));
        run(
            &mut k,
            "t",
            KeyOp::Expire {
                at_ms: NOW + 10,
                cond: ExpireCond::Always,
            },
        );
        assert_eq!(
            run_at(&mut k, "t", KeyOp::IncrBy(1), later),
            OpResult::Int(1)
        );
        assert_eq!(run_at(&mut k, "t", KeyOp::Pttl, later), OpResult::Int(-1));
        run(
            &mut k,
            "t",
            set_with("v", SetCond::Always, SetTtl::At(NOW + 10), false),
        );
        for op in [
            CoreOp::Keys {
                pattern: Bytes::from("*"),
            },
            CoreOp::RandomKey,
        ] {
            let r = k.execute(Op::Core(op), later);
            assert_eq!(r, OpResult::Keys(vec![Bytes::from("p")]));
        }
        let r = k.execute(
            Op::Core(CoreOp::Scan {
                cursor: 0,
                count: 100,
                pattern: None,
                type_name: None,
            }),
            later,
        );
        assert_eq!(
            r,
            OpResult::Scan {
                next: 0,
                keys: vec![Bytes::from("p")]
            }
        );
        // Purged by the expiry pass.
        let mut out = Vec::new();
        assert_eq!(k.expire_due(later, 10, &mut out), 1);
        assert_eq!(out, vec![Bytes::from("t")]);
        assert_eq!(k.len(), 1);
        check_accounting(&k);
    }

    #[test]
    fn incrby() {
        let mut k = ks(1, 1);
        assert_eq!(run(&mut k, "n", KeyOp::IncrBy(5)), OpResult::Int(5));
        assert_eq!(run(&mut k, "n", KeyOp::IncrBy(-7)), OpResult::Int(-2));
        assert_eq!(run(&mut k, "n", KeyOp::Get), b("-2"));
        run(
            &mut k,
            "n",
            KeyOp::Expire {
                at_ms: NOW + 100,
                cond: ExpireCond::Always,
            },
        );
        assert_eq!(run(&mut k, "n", KeyOp::IncrBy(100)), OpResult::Int(98));
        assert_eq!(pttl(&mut k, "n"), OpResult::Int(100));
        run(&mut k, "m", set(&i64::MAX.to_string()));
        assert_eq!(
            run(&mut k, "m", KeyOp::IncrBy(1)),
            OpResult::Err(OpError::Overflow)
        );
        assert_eq!(
            run(&mut k, "m", KeyOp::IncrBy(-1)),
            OpResult::Int(i64::MAX - 1)
        );
        run(&mut k, "m", set(&i64::MIN.to_string()));
        assert_eq!(
            run(&mut k, "m", KeyOp::IncrBy(-1)),
            OpResult::Err(OpError::Overflow)
        );
        assert_eq!(run(&mut k, "m", KeyOp::IncrBy(0)), OpResult::Int(i64::MIN));
        assert_eq!(run(&mut k, "m", KeyOp::Get), b("-9223372036854775808"));
        for bad in [
            "",
            " 1",
            "1 ",
            "+1",
            "01",
            "-0",
            "00",
            "1.0",
            "abc",
            "-",
            "9223372036854775808",
            "123456789012345678901",
            "1e3",
        ] {
            run(&mut k, "x", set(bad));
            assert_eq!(
                run(&mut k, "x", KeyOp::IncrBy(1)),
                OpResult::Err(OpError::NotInteger),
                "{bad:?}"
            );
            assert_eq!(run(&mut k, "x", KeyOp::Get), b(bad));
        }
        for (good, want) in [
            ("0", 1),
            ("-1", 0),
            ("10", 11),
            ("-9223372036854775808", i64::MIN + 1),
        ] {
            run(&mut k, "x", set(good));
            assert_eq!(
                run(&mut k, "x", KeyOp::IncrBy(1)),
                OpResult::Int(want),
                "{good:?}"
            );
        }
        check_accounting(&k);
    }

    #[test]
    fn integer_parsing_and_formatting() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775809"), None);
        assert_eq!(parse_i64(b"18446744073709551616"), None);
        for v in [0, 1, -1, 10, -10, 123456789, i64::MAX, i64::MIN] {
            let e = Entry::from_int(b"k", v, None);
            assert_eq!(&*e.value(), v.to_string().as_bytes());
        }
    }

    #[test]
    fn incrbyfloat() {
        let mut k = ks(1, 1);
        assert_eq!(run(&mut k, "f", incrf("10.5")), b("10.5"));
        assert_eq!(run(&mut k, "f", incrf("0.1")), b("10.6"));
        assert_eq!(run(&mut k, "f", incrf("-5.6")), b("5"));
        assert_eq!(run(&mut k, "f", KeyOp::Get), b("5"));
        run(
            &mut k,
            "f",
            KeyOp::Expire {
                at_ms: NOW + 9,
                cond: ExpireCond::Always,
            },
        );
        assert_eq!(run(&mut k, "f", incrf("1e20")), b("100000000000000000005"));
        assert_eq!(pttl(&mut k, "f"), OpResult::Int(9));
        run(&mut k, "g", set("5.0e3"));
        assert_eq!(run(&mut k, "g", incrf("200.0")), b("5200"));
        for (stored, want) in [
            ("3", "4"),
            (".5", "1.5"),
            ("5.", "6"),
            ("+1.5", "2.5"),
            ("-1", "0"),
        ] {
            run(&mut k, "g", set(stored));
            assert_eq!(run(&mut k, "g", incrf("1.0")), b(want), "{stored:?}");
        }
        for bad in [
            "", " 1", "1 ", "abc", "nan", "1e40000", "1e-40000", "0x10", "1,5",
        ] {
            run(&mut k, "x", set(bad));
            assert_eq!(
                run(&mut k, "x", incrf("1.0")),
                OpResult::Err(OpError::NotFloat),
                "{bad:?}"
            );
        }
        for inf in ["inf", "-Infinity"] {
            run(&mut k, "x", set(inf));
            assert_eq!(
                run(&mut k, "x", incrf("1.0")),
                OpResult::Err(OpError::NanOrInf)
            );
        }
        run(&mut k, "x", set("1e4932"));
        assert_eq!(
            run(&mut k, "x", incrf("9e4932")),
            OpResult::Err(OpError::NanOrInf)
        );
        run(&mut k, "p", set("0.1"));
        assert_eq!(run(&mut k, "p", incrf("0.2")), b("0.3"));
        assert_eq!(run(&mut k, "new", KeyOp::Exists), OpResult::Int(0));
        check_accounting(&k);
    }

    #[test]
    fn append_strlen_getrange_setrange() {
        let mut k = ks(1, 1);
        let app = |v: &str, max_len: usize| KeyOp::Append {
            value: Bytes::copy_from_slice(v.as_bytes()),
            max_len,
        };
        assert_eq!(run(&mut k, "s", app("hello", 100)), OpResult::Int(5));
        assert_eq!(run(&mut k, "s", app(" world", 100)), OpResult::Int(11));
        assert_eq!(
            run(&mut k, "s", app("!", 11)),
            OpResult::Err(OpError::TooLarge)
        );
        assert_eq!(run(&mut k, "s", app("", 11)), OpResult::Int(11));
        assert_eq!(
            run(&mut k, "big", app("123", 2)),
            OpResult::Err(OpError::TooLarge)
        );
        assert_eq!(run(&mut k, "big", KeyOp::Exists), OpResult::Int(0));
        assert_eq!(run(&mut k, "s", KeyOp::StrLen), OpResult::Int(11));
        assert_eq!(run(&mut k, "none", KeyOp::StrLen), OpResult::Int(0));
        let gr = |start, end| KeyOp::GetRange { start, end };
        run(&mut k, "r", set("This is a string"));
        for (s, e, want) in [
            (0, 3, "This"),
            (-3, -1, "ing"),
            (0, -1, "This is a string"),
            (10, 100, "string"),
            (5, 3, ""),
            (-1, -5, ""),
            (-100, 3, "This"),
            (100, 200, ""),
            (0, 0, "T"),
            (-1, -1, "g"),
            (i64::MIN, i64::MAX, "This is a string"),
            (i64::MAX, i64::MIN, ""),
        ] {
            assert_eq!(run(&mut k, "r", gr(s, e)), b(want), "{s} {e}");
        }
        assert_eq!(run(&mut k, "none", gr(0, -1)), b(""));
        run(&mut k, "empty", set(""));
        assert_eq!(run(&mut k, "empty", gr(0, -1)), b(""));
        let sr = |offset: usize, v: &str, max_len: usize| KeyOp::SetRange {
            offset,
            value: Bytes::copy_from_slice(v.as_bytes()),
            max_len,
        };
        run(&mut k, "k", set("Hello World"));
        run(
            &mut k,
            "k",
            KeyOp::Expire {
                at_ms: NOW + 50,
                cond: ExpireCond::Always,
            },
        );
        assert_eq!(run(&mut k, "k", sr(6, "Redis", 100)), OpResult::Int(11));
        assert_eq!(run(&mut k, "k", KeyOp::Get), b("Hello Redis"));
        assert_eq!(pttl(&mut k, "k"), OpResult::Int(50));
        assert_eq!(run(&mut k, "k", sr(11, "!!", 100)), OpResult::Int(13));
        assert_eq!(run(&mut k, "k", sr(15, "x", 100)), OpResult::Int(16));
        assert_eq!(run(&mut k, "k", KeyOp::Get), b("Hello Redis!!\0\0x"));
        assert_eq!(run(&mut k, "k", sr(0, "", 100)), OpResult::Int(16));
        assert_eq!(
            run(&mut k, "k", sr(100, "x", 100)),
            OpResult::Err(OpError::TooLarge)
        );
        assert_eq!(
            run(&mut k, "k", sr(usize::MAX, "x", usize::MAX)),
            OpResult::Err(OpError::TooLarge)
        );
        assert_eq!(run(&mut k, "new", sr(5, "", 100)), OpResult::Int(0));
        assert_eq!(run(&mut k, "new", KeyOp::Exists), OpResult::Int(0));
        assert_eq!(run(&mut k, "new", sr(3, "ab", 100)), OpResult::Int(5));
        assert_eq!(run(&mut k, "new", KeyOp::Get), b("\0\0\0ab"));
        assert_eq!(
            run(&mut k, "new2", sr(3, "ab", 4)),
            OpResult::Err(OpError::TooLarge)
        );
        assert_eq!(run(&mut k, "new2", KeyOp::Exists), OpResult::Int(0));
        check_accounting(&k);
    }

    #[test]
    fn expire_conditions() {
        let mut k = ks(1, 1);
        let exp = |at_ms, cond| KeyOp::Expire { at_ms, cond };
        assert_eq!(
            run(&mut k, "m", exp(NOW + 5, ExpireCond::Always)),
            OpResult::Int(0)
        );
        run(&mut k, "a", set("v"));
        // No deadline: GT never, LT always, XX/XxLt never, NX yes.
        assert_eq!(
            run(&mut k, "a", exp(NOW + 100, ExpireCond::Gt)),
            OpResult::Int(0)
        );
        assert_eq!(
            run(&mut k, "a", exp(NOW + 100, ExpireCond::Xx)),
            OpResult::Int(0)
        );
        assert_eq!(
            run(&mut k, "a", exp(NOW + 100, ExpireCond::XxLt)),
            OpResult::Int(0)
        );
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(-1));
        assert_eq!(
            run(&mut k, "a", exp(NOW + 100, ExpireCond::Lt)),
            OpResult::Int(1)
        );
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(100));
        assert_eq!(
            run(&mut k, "a", exp(NOW + 200, ExpireCond::Nx)),
            OpResult::Int(0)
        );
        assert_eq!(
            run(&mut k, "a", exp(NOW + 200, ExpireCond::Lt)),
            OpResult::Int(0)
        );
        assert_eq!(
            run(&mut k, "a", exp(NOW + 200, ExpireCond::Gt)),
            OpResult::Int(1)
        );
        assert_eq!(
            run(&mut k, "a", exp(NOW + 200, ExpireCond::Gt)),
            OpResult::Int(0)
        );
        assert_eq!(
            run(&mut k, "a", exp(NOW + 50, ExpireCond::XxLt)),
            OpResult::Int(1)
        );
        assert_eq!(
            run(&mut k, "a", exp(NOW + 60, ExpireCond::Xx)),
            OpResult::Int(1)
        );
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(60));
        assert_eq!(
            run(&mut k, "a", KeyOp::PexpireTime),
            OpResult::Int((NOW + 60) as i64)
        );
        assert_eq!(run(&mut k, "a", KeyOp::Persist), OpResult::Int(1));
        assert_eq!(run(&mut k, "a", KeyOp::Persist), OpResult::Int(0));
        assert_eq!(run(&mut k, "a", KeyOp::PexpireTime), OpResult::Int(-1));
        assert_eq!(run(&mut k, "zz", KeyOp::PexpireTime), OpResult::Int(-2));
        assert_eq!(run(&mut k, "zz", KeyOp::Persist), OpResult::Int(0));
        // A past deadline deletes only when the condition holds.
        assert_eq!(
            run(&mut k, "a", exp(NOW - 1, ExpireCond::Xx)),
            OpResult::Int(0)
        );
        assert_eq!(run(&mut k, "a", KeyOp::Exists), OpResult::Int(1));
        assert_eq!(
            run(&mut k, "a", exp(NOW, ExpireCond::Always)),
            OpResult::Int(1)
        );
        assert_eq!(run(&mut k, "a", KeyOp::Exists), OpResult::Int(0));
        run(&mut k, "b", set("v"));
        assert_eq!(run(&mut k, "b", exp(0, ExpireCond::Lt)), OpResult::Int(1));
        assert_eq!(run(&mut k, "b", KeyOp::Exists), OpResult::Int(0));
        assert_eq!(k.len(), 0);
        check_accounting(&k);
    }

    #[test]
    fn del_exists_type_getdel_getex() {
        let mut k = ks(1, 2);
        run(&mut k, "a", set("1"));
        assert_eq!(run(&mut k, "a", KeyOp::Type), OpResult::Status("string"));
        assert_eq!(run(&mut k, "b", KeyOp::Type), OpResult::Status("none"));
        assert_eq!(run(&mut k, "a", KeyOp::Exists), OpResult::Int(1));
        assert_eq!(run(&mut k, "a", KeyOp::Del), OpResult::Int(1));
        assert_eq!(run(&mut k, "a", KeyOp::Del), OpResult::Int(0));
        run(&mut k, "a", set("1"));
        assert_eq!(run(&mut k, "a", KeyOp::GetDel), b("1"));
        assert_eq!(run(&mut k, "a", KeyOp::GetDel), OpResult::Nil);
        run(&mut k, "a", set("1"));
        let getex = |ttl| KeyOp::GetEx { ttl };
        assert_eq!(run(&mut k, "a", getex(GetExTtl::At(NOW + 30))), b("1"));
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(30));
        assert_eq!(run(&mut k, "a", getex(GetExTtl::Keep)), b("1"));
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(30));
        assert_eq!(run(&mut k, "a", getex(GetExTtl::Persist)), b("1"));
        assert_eq!(pttl(&mut k, "a"), OpResult::Int(-1));
        assert_eq!(run(&mut k, "a", getex(GetExTtl::At(NOW))), b("1"));
        assert_eq!(run(&mut k, "a", KeyOp::Exists), OpResult::Int(0));
        for ttl in [
            GetExTtl::Keep,
            GetExTtl::Persist,
            GetExTtl::At(NOW + 1),
            GetExTtl::At(1),
        ] {
            assert_eq!(run(&mut k, "missing", getex(ttl)), OpResult::Nil);
        }
        assert!(k.is_empty());
        check_accounting(&k);
    }

    #[test]
    fn take_put_and_rename() {
        let mut k = ks(1, 4);
        run(
            &mut k,
            "a",
            set_with("va", SetCond::Always, SetTtl::At(NOW + 70), false),
        );
        assert_eq!(
            run(&mut k, "a", KeyOp::Take),
            OpResult::Taken(Some((Bytes::from("va"), Some(NOW + 70))))
        );
        assert_eq!(run(&mut k, "a", KeyOp::Take), OpResult::Taken(None));
        let put = |v: &str, deadline, only_if_absent| KeyOp::Put {
            value: Bytes::copy_from_slice(v.as_bytes()),
            deadline,
            only_if_absent,
        };
        assert_eq!(
            run(&mut k, "b", put("x", Some(NOW + 5), false)),
            OpResult::Int(1)
        );
        assert_eq!(pttl(&mut k, "b"), OpResult::Int(5));
        assert_eq!(run(&mut k, "b", put("y", None, true)), OpResult::Int(0));
        assert_eq!(run(&mut k, "b", put("y", None, false)), OpResult::Int(1));
        assert_eq!(run(&mut k, "b", KeyOp::Get), b("y"));
        assert_eq!(pttl(&mut k, "b"), OpResult::Int(-1));
        assert_eq!(
            run(&mut k, "b", put("z", Some(NOW), false)),
            OpResult::Int(1)
        );
        assert_eq!(run(&mut k, "b", KeyOp::Exists), OpResult::Int(0));

        let rename = |src: &str, dst: &str, nx| CoreOp::Rename {
            src: Bytes::copy_from_slice(src.as_bytes()),
            dst: Bytes::copy_from_slice(dst.as_bytes()),
            nx,
        };
        assert_eq!(
            core(&mut k, rename("nope", "x", false)),
            OpResult::Err(OpError::NoSuchKey)
        );
        assert_eq!(
            core(&mut k, rename("nope", "nope", true)),
            OpResult::Err(OpError::NoSuchKey)
        );
        run(
            &mut k,
            "s",
            set_with("sv", SetCond::Always, SetTtl::At(NOW + 40), false),
        );
        assert_eq!(core(&mut k, rename("s", "s", false)), OpResult::Ok);
        assert_eq!(core(&mut k, rename("s", "s", true)), OpResult::Int(0));
        run(
            &mut k,
            "d",
            set_with("dv", SetCond::Always, SetTtl::At(NOW + 90), false),
        );
        assert_eq!(core(&mut k, rename("s", "d", true)), OpResult::Int(0));
        assert_eq!(core(&mut k, rename("s", "d", false)), OpResult::Ok);
        assert_eq!(run(&mut k, "s", KeyOp::Exists), OpResult::Int(0));
        assert_eq!(run(&mut k, "d", KeyOp::Get), b("sv"));
        assert_eq!(pttl(&mut k, "d"), OpResult::Int(40));
        assert_eq!(core(&mut k, rename("d", "e", true)), OpResult::Int(1));
        assert_eq!(run(&mut k, "e", KeyOp::Get), b("sv"));
        assert_eq!(pttl(&mut k, "e"), OpResult::Int(40));
        run(&mut k, "p", set("pv"));
        run(
            &mut k,
            "q",
            set_with("qv", SetCond::Always, SetTtl::At(NOW + 90), false),
        );
        assert_eq!(core(&mut k, rename("p", "q", false)), OpResult::Ok);
        assert_eq!(pttl(&mut k, "q"), OpResult::Int(-1));
        assert_eq!(k.len(), 2);
        check_accounting(&k);
    }

    #[test]
    fn core_ops() {
        let mut k = ks(1, 8);
        for i in 0..100 {
            run(&mut k, &format!("key:{i}"), set("v"));
        }
        run(&mut k, "other", set("v"));
        assert_eq!(core(&mut k, CoreOp::DbSize), OpResult::Int(101));
        let OpResult::Keys(mut keys) = core(
            &mut k,
            CoreOp::Keys {
                pattern: Bytes::from("key:1*"),
            },
        ) else {
            panic!("keys")
        };
        keys.sort();
        let mut want: Vec<Bytes> = (0..100)
            .map(|i| format!("key:{i}"))
            .filter(|s| s.starts_with("key:1"))
            .map(Bytes::from)
            .collect();
        want.sort();
        assert_eq!(keys, want);
        let OpResult::Keys(all) = core(
            &mut k,
            CoreOp::Keys {
                pattern: Bytes::from("*"),
            },
        ) else {
            panic!("keys")
        };
        assert_eq!(all.len(), 101);
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let OpResult::Keys(r) = core(&mut k, CoreOp::RandomKey) else {
                panic!("randomkey")
            };
            assert_eq!(r.len(), 1);
            seen.insert(r[0].clone());
        }
        assert!(seen.len() > 60, "randomkey covers few keys: {}", seen.len());
        let OpResult::Stats(stats) = core(&mut k, CoreOp::ShardStats) else {
            panic!("stats")
        };
        assert_eq!(stats.len(), 8);
        assert_eq!(stats.iter().map(|s| s.keys).sum::<usize>(), 101);
        assert_eq!(stats.iter().map(|s| s.bytes).sum::<usize>(), k.bytes());
        assert!(stats.iter().all(|s| s.core == 0 && s.state == "stable"));
        assert_eq!(core(&mut k, CoreOp::Flush), OpResult::Ok);
        assert_eq!(core(&mut k, CoreOp::DbSize), OpResult::Int(0));
        assert_eq!(k.bytes(), 0);
        assert_eq!(core(&mut k, CoreOp::RandomKey), OpResult::Keys(vec![]));
        // The empty key is matched by KEYS *.
        run(&mut k, "", set("v"));
        let r = core(
            &mut k,
            CoreOp::Keys {
                pattern: Bytes::from("*"),
            },
        );
        assert_eq!(r, OpResult::Keys(vec![Bytes::new()]));
    }

    #[test]
    fn msetnx() {
        let mut k = ks(1, 4);
        let pairs = |ks: &[&str]| CoreOp::MSetNx {
            pairs: ks
                .iter()
                .map(|s| (Bytes::copy_from_slice(s.as_bytes()), Bytes::from("v")))
                .collect(),
        };
        assert_eq!(core(&mut k, pairs(&["a", "b", "c"])), OpResult::Int(1));
        assert_eq!(core(&mut k, pairs(&["d", "c"])), OpResult::Int(0));
        assert_eq!(run(&mut k, "d", KeyOp::Exists), OpResult::Int(0));
        run(
            &mut k,
            "e",
            set_with("v", SetCond::Always, SetTtl::At(NOW), false),
        );
        assert_eq!(core(&mut k, pairs(&["e", "f", "f"])), OpResult::Int(1));
        assert_eq!(k.len(), 5);
    }

    #[test]
    fn foreign_shards() {
        // Core 0 of two: shards 1 and 3 belong to core 1.
        let table = RoutingTable::new(2, 4);
        let mut k = Keyspace::new(0, table.clone());
        assert_eq!(k.stats().len(), 2);
        let foreign = (0..)
            .map(|i| format!("k{i}"))
            .find(|s| !k.owns_hash(key_hash(s.as_bytes())))
            .unwrap_or_default();
        assert_eq!(run(&mut k, &foreign, set("v")), OpResult::Nil);
        assert_eq!(run(&mut k, &foreign, KeyOp::Get), OpResult::Nil);
        assert_eq!(run(&mut k, &foreign, KeyOp::Exists), OpResult::Int(0));
        assert_eq!(run(&mut k, &foreign, KeyOp::Pttl), OpResult::Int(-2));
        assert_eq!(run(&mut k, &foreign, KeyOp::Take), OpResult::Taken(None));
        assert!(k.is_empty());
        // A newer table giving this core shard 3 creates it; older tables are ignored.
        let mut t2 = table.clone();
        t2.owners[3] = 0;
        t2.epoch = 5;
        k.set_table(t2.clone());
        assert_eq!(k.stats().len(), 3);
        let mut t3 = table;
        t3.owners[1] = 0;
        t3.epoch = 4;
        k.set_table(t3);
        assert_eq!(k.table(), &t2);
        assert_eq!(k.stats().len(), 3);
    }

    /// Drive a scan to completion across the given cores, as the command layer does.
    fn full_scan(cores: &mut [Keyspace], count: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut cursor = 0u64;
        for _ in 0..1_000_000 {
            let t = cores[0].table().clone();
            let owner = t.owner(t.shard_of_pos(cursor));
            let r = cores[owner].execute(
                Op::Core(CoreOp::Scan {
                    cursor,
                    count,
                    pattern: None,
                    type_name: None,
                }),
                NOW,
            );
            let OpResult::Scan { next, keys } = r else {
                panic!("scan answered {r:?}")
            };
            out.extend(keys);
            if next == 0 {
                return out;
            }
            assert!(next > cursor, "cursor went back");
            cursor = next;
        }
        panic!("scan did not finish");
    }

    fn assert_exactly_once(got: Vec<Bytes>, want: &HashSet<Bytes>) {
        let mut seen = HashSet::new();
        for k in got {
            assert!(seen.insert(k.clone()), "{k:?} returned twice");
        }
        assert_eq!(&seen, want);
    }

    #[test]
    fn scan_returns_every_key_once() {
        for shards in [1, 4, 16] {
            let mut cores = vec![ks(1, shards)];
            let mut want = HashSet::new();
            for i in 0..1500 {
                let key = format!("key:{i}");
                run(&mut cores[0], &key, set("v"));
                want.insert(Bytes::from(key));
            }
            for count in [1, 7, 100, 10_000] {
                assert_exactly_once(full_scan(&mut cores, count), &want);
            }
        }
    }

    #[test]
    fn scan_across_cores() {
        let table = RoutingTable::new(3, 8);
        let mut cores: Vec<Keyspace> = (0..3).map(|c| Keyspace::new(c, table.clone())).collect();
        let mut want = HashSet::new();
        for i in 0..2000 {
            let key = format!("k{i}");
            let owner = table.core_of(key_hash(key.as_bytes()));
            run(&mut cores[owner], &key, set("v"));
            want.insert(Bytes::from(key));
        }
        for count in [1, 10, 5000] {
            assert_exactly_once(full_scan(&mut cores, count), &want);
        }
        // A cursor in another core's shard returns itself, empty.
        let pos = table.interval(1).0;
        let r = core(
            &mut cores[0],
            CoreOp::Scan {
                cursor: pos,
                count: 10,
                pattern: None,
                type_name: None,
            },
        );
        assert_eq!(
            r,
            OpResult::Scan {
                next: pos,
                keys: vec![]
            }
        );
        // A scan never crosses into another core's shard: it stops at its start.
        let r = core(
            &mut cores[0],
            CoreOp::Scan {
                cursor: 0,
                count: 100_000,
                pattern: None,
                type_name: None,
            },
        );
        let OpResult::Scan { next, .. } = r else {
            panic!()
        };
        assert_eq!(next, table.interval(table.shard_of_pos(next)).0);
        assert_ne!(table.owner(table.shard_of_pos(next)), 0);
    }

    #[test]
    fn scan_never_cuts_a_run() {
        let mut k = ks(1, 2);
        for i in 0..20 {
            run(&mut k, &format!("{{same}}{i}"), set("v"));
        }
        for i in 0..20 {
            run(&mut k, &format!("x{i}"), set("v"));
        }
        let pos = scan_pos(key_hash(b"same"));
        let r = core(
            &mut k,
            CoreOp::Scan {
                cursor: pos,
                count: 1,
                pattern: None,
                type_name: None,
            },
        );
        let OpResult::Scan { next, keys } = r else {
            panic!()
        };
        assert_eq!(keys.len(), 20);
        assert!(keys.iter().all(|k| k.starts_with(b"{same}")));
        assert_eq!(next, pos.wrapping_add(1));
    }

    #[test]
    fn scan_filters() {
        let mut k = ks(1, 4);
        for i in 0..200 {
            run(&mut k, &format!("user:{i}"), set("v"));
            run(&mut k, &format!("item:{i}"), set("v"));
        }
        let scan = |k: &mut Keyspace, pattern: Option<&str>, type_name: Option<&str>| {
            let mut cursor = 0;
            let mut out = Vec::new();
            loop {
                let r = core(
                    k,
                    CoreOp::Scan {
                        cursor,
                        count: 10,
                        pattern: pattern.map(|p| Bytes::copy_from_slice(p.as_bytes())),
                        type_name: type_name.map(|p| Bytes::copy_from_slice(p.as_bytes())),
                    },
                );
                let OpResult::Scan { next, keys } = r else {
                    panic!()
                };
                out.extend(keys);
                if next == 0 {
                    return out;
                }
                cursor = next;
            }
        };
        let users = scan(&mut k, Some("user:*"), None);
        assert_eq!(users.len(), 200);
        assert!(users.iter().all(|k| k.starts_with(b"user:")));
        assert_eq!(scan(&mut k, Some("*"), Some("STRING")).len(), 400);
        assert_eq!(scan(&mut k, None, Some("list")).len(), 0);
        assert_eq!(scan(&mut k, Some("nomatch"), None).len(), 0);
        // Filters apply after counting: a call can answer no keys yet move on.
        let r = core(
            &mut k,
            CoreOp::Scan {
                cursor: 0,
                count: 5,
                pattern: Some(Bytes::from("zzz")),
                type_name: None,
            },
        );
        let OpResult::Scan { next, keys } = r else {
            panic!()
        };
        assert!(keys.is_empty() && next != 0);
    }

    #[test]
    fn scan_survives_splits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut k = ks(1, 2);
        let mut want = HashSet::new();
        for i in 0..5000 {
            let key = format!("key:{i}");
            run(&mut k, &key, set("v"));
            want.insert(Bytes::from(key));
        }
        let mut got = Vec::new();
        let mut cursor = 0u64;
        loop {
            // Split now and then, sometimes leaving the split half done across calls.
            if rng.gen_bool(0.2) {
                if !k.split_in_progress() {
                    k.begin_split();
                }
                k.fill_step(rng.gen_range(1..200), NOW, &mut Vec::new());
            }
            let r = core(
                &mut k,
                CoreOp::Scan {
                    cursor,
                    count: rng.gen_range(1..40),
                    pattern: None,
                    type_name: None,
                },
            );
            let OpResult::Scan { next, keys } = r else {
                panic!()
            };
            got.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!(k.table().num_shards() > 4);
        assert_exactly_once(got, &want);
    }

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

    #[test]
    fn too_long_keys_are_refused() {
        // Exercised through the helper directly: building a 4 GiB key is not an option.
        assert_eq!(
            unplaceable(set("v"), NOW, OpResult::Err(OpError::TooLarge)),
            OpResult::Err(OpError::TooLarge)
        );
        assert_eq!(unplaceable(KeyOp::Get, NOW, OpResult::Nil), OpResult::Nil);
        assert_eq!(
            unplaceable(KeyOp::Del, NOW, OpResult::Nil),
            OpResult::Int(0)
        );
        assert_eq!(
            unplaceable(KeyOp::Type, NOW, OpResult::Nil),
            OpResult::Status("none")
        );
        assert_eq!(
            unplaceable(KeyOp::GetRange { start: 0, end: -1 }, NOW, OpResult::Nil),
            OpResult::Bulk(Bytes::new())
        );
    }

    #[test]
    fn getrange_index_rules() {
        assert_eq!(range(0, 0, -1), None);
        assert_eq!(range(5, 0, -1), Some((0, 4)));
        assert_eq!(range(5, -2, -1), Some((3, 4)));
        assert_eq!(range(5, 3, 1), None);
        assert_eq!(range(5, -1, -3), None);
        assert_eq!(range(5, 4, 100), Some((4, 4)));
        assert_eq!(range(5, 5, 100), None);
        assert_eq!(range(5, -10, -9), Some((0, 0)));
    }

    /// Random ops with random clocks on a multi-shard keyspace with splits: the
    /// accounting of every shard stays exact.
    #[test]
    fn randomized_accounting() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut k = ks(1, 2);
        let mut now = NOW;
        for step in 0..20_000 {
            let key = format!("k{}", rng.gen_range(0..500));
            let op = match rng.gen_range(0..12) {
                0 => set("value"),
                1 => set_with(
                    "xx",
                    SetCond::Always,
                    SetTtl::At(now + rng.gen_range(0..100)),
                    false,
                ),
                2 => KeyOp::IncrBy(1),
                3 => KeyOp::Append {
                    value: Bytes::from("ab"),
                    max_len: 1000,
                },
                4 => KeyOp::SetRange {
                    offset: rng.gen_range(0..20),
                    value: Bytes::from("zz"),
                    max_len: 1000,
                },
                5 => KeyOp::Expire {
                    at_ms: now + rng.gen_range(0..100),
                    cond: ExpireCond::Always,
                },
                6 => KeyOp::Persist,
                7 => KeyOp::Del,
                8 => KeyOp::GetEx {
                    ttl: GetExTtl::At(now + rng.gen_range(0..50)),
                },
                9 => incrf("0.5"),
                10 => KeyOp::Take,
                _ => KeyOp::Get,
            };
            run_at(&mut k, &key, op, now);
            now += rng.gen_range(0..3);
            if step % 1000 == 0 && !k.split_in_progress() {
                k.begin_split();
            }
            k.fill_step(5, now, &mut Vec::new());
            if step % 50 == 0 {
                let mut out = Vec::new();
                k.expire_due(now, 10, &mut out);
                check_accounting(&k);
            }
        }
        check_accounting(&k);
    }
}
