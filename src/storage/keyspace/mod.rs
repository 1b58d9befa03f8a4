//! One core's slice of the staircase, and the routing lookups every other
//! part of the keyspace stands on: the shards this core holds, its copy of the
//! routing table, the split, merge and outgoing migrations in progress (their
//! state only), locating a key's shard (pulling it out of a split's source
//! first) and prefetching lookups.
//!
//! The keyspace's work is split by purpose into the files below this one, each
//! an `impl Keyspace` block that uses only this file and the files listed
//! before it:
//! - `stats`: counters (keys, bytes, TTL keys) and per-shard stats and rates.
//! - `housekeeping`: expiry passes, the next deadline, compaction.
//! - `split`: beginning a split or merge and its batch-by-batch walk.
//! - `scan`: SCAN, KEYS and DBSIZE, and the page cut SCAN and migration share.
//! - `shard_ops`: one key op (GET, SET, INCRBY, EXPIRE, ...) on the shard
//!   holding the key; it knows shards, not the keyspace.
//! - `capture`: a point-in-time copy of this core's shards while they keep
//!   changing (BGSAVE): a shard is copied before its first change.
//! - `exec`: [`Keyspace::execute`], which routes an [`super::ops::Op`] to the above.
//!
//! Eviction ([`super::evict`]) and migration between cores
//! ([`super::migration`]) are above the keyspace: they walk its shards and
//! never are imported by it. This module never awaits, never sends anything
//! and never sees another core's shards.

mod bits_ops;
pub mod capture;
mod collection;
mod exec;
mod hash_ops;
mod housekeeping;
mod list_ops;
pub(super) mod scan;
mod set_ops;
mod shard_ops;
mod split;
mod stats;
#[cfg(test)]
mod testkit;
mod zset_ops;

use super::entry::Entry;
use super::hash::{hashes, member_hash};
use super::object::{ObjRef, Object};
use super::policy::Evictor;
use super::prefetch::Stage;
use super::shard::{Shard, Walk};
use super::staircase::{RoutingTable, ShardId};
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
    pub(super) outgoing: Vec<Outgoing>,
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
    /// Keys whose hash or set table a write left resizing in steps, for the
    /// upkeep to finish (see `housekeeping`), and when it may next.
    pub(super) resizing: Vec<bytes::Bytes>,
    pub(super) settle_at: u64,
    /// This core's share of `maxmemory` and how it evicts (see [`super::evict`]).
    pub(super) evictor: Evictor,
    /// A point-in-time copy in progress (see `capture`).
    capture: Option<Capture>,
    /// When small collections move to hash tables (Redis's settings).
    pub(super) limits: crate::storage::object::Limits,
}

/// What a capture does with the entries of a shard it copies, a step at a
/// time: each entry comes once, as it was when the capture began (see `capture`).
pub type CopyShard = Box<dyn FnMut(ShardId, &mut dyn Iterator<Item = &Entry>)>;

/// A point-in-time copy in progress: the shards not copied yet, and what copies one.
struct Capture {
    pending: Vec<bool>,
    left: usize,
    copy: CopyShard,
    /// Per pending shard, the keys requests changed before it was copied,
    /// as they were when the capture began.
    saved: std::collections::HashMap<ShardId, capture::Saved>,
    /// The shard the background step is partway through.
    partial: Option<Partial>,
}

/// Where the capture's walk through one shard is: the next bucket, and the
/// table layout its bucket indexes belong to.
#[derive(Clone, Copy)]
struct Partial {
    id: ShardId,
    next: usize,
    layout: u64,
}

/// A shard this core is handing over: `to` owns it; `walk` is where the walk
/// over its buckets is.
pub struct Outgoing {
    pub shard: ShardId,
    pub to: usize,
    pub(super) walk: Walk,
}

/// A request noted for prefetching: its key's shard and table hash, the
/// key, and the member it names, if any.
type Noted<'a> = (ShardId, u64, &'a [u8], Option<&'a [u8]>);

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
            resizing: Vec::new(),
            settle_at: 0,
            evictor: Evictor::default(),
            capture: None,
            limits: Default::default(),
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

    /// Start this table's epochs after `floor`: at start, above every epoch
    /// the logs recovered hold, so that new records order after old ones.
    pub fn raise_epoch(&mut self, floor: u64) {
        self.table.epoch = self.table.epoch.max(floor + 1);
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

    /// Access for tests and the admin layer.
    pub fn shard(&self, id: ShardId) -> Option<&Shard> {
        self.shards.get(id as usize).and_then(Option::as_ref)
    }

    /// `key`'s shard under this core's table and its entry here, if any (also
    /// while a split still holds it in the source shard), without counting an
    /// access: what the core's log records of a key after a change.
    pub fn peek(&self, key: &[u8]) -> (ShardId, Option<&Entry>) {
        let (route, thash) = hashes(key);
        let id = self.table.shard_of(route);
        let here = self.shard(id).and_then(|s| s.peek(thash, key));
        let found = match (&here, &self.fill) {
            (None, Some(fill)) if fill.target == id => {
                self.shard(fill.source).and_then(|s| s.peek(thash, key))
            }
            _ => here,
        };
        (id, found)
    }

    /// Store a key as a load read it (the start's snapshot or logs): no access
    /// counted, no event, the entry as SET would make it. False when the
    /// key's shard is not held here.
    pub fn load_entry(&mut self, key: &[u8], value: &[u8], deadline: Option<u64>) -> bool {
        let (route, thash) = hashes(key);
        let id = self.table.shard_of(route);
        match self.shard_mut(id) {
            Some(shard) => {
                shard.insert(thash, Entry::new(key, value, deadline));
                true
            }
            None => false,
        }
    }

    /// As [`Self::load_entry`], for a hash or set.
    pub fn load_object(&mut self, key: &[u8], obj: Object, deadline: Option<u64>) -> bool {
        let (route, thash) = hashes(key);
        let id = self.table.shard_of(route);
        match self.shard_mut(id) {
            Some(shard) => {
                shard.insert(thash, Entry::with_object(key, obj, deadline));
                true
            }
            None => false,
        }
    }

    /// Make room in the held shards for `keys` more, spread evenly: a load
    /// that knows its size grows each table once instead of doubling it.
    pub fn reserve_for_load(&mut self, keys: usize) {
        let held: Vec<ShardId> = self.held().map(|(id, _)| id).collect();
        let each = keys / held.len().max(1);
        for id in held {
            if let Some(s) = self.shard_mut(id) {
                s.reserve(each);
            }
        }
    }

    /// Scan-position intervals of the shards the table gives this core: what a
    /// claim in its log covers.
    pub fn owned_intervals(&self) -> Vec<(u64, Option<u64>)> {
        (0..self.table.num_shards() as ShardId)
            .filter(|&s| self.table.owner(s) == self.core)
            .map(|s| self.table.interval(s))
            .collect()
    }

    /// Every change to a shard's entries goes through here, so that a running
    /// capture copies the shard first.
    pub(super) fn shard_mut(&mut self, id: ShardId) -> Option<&mut Shard> {
        if self.capture.is_some() {
            self.capture_shard(id);
        }
        self.shards.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// The shards held here, with their ids.
    /// Every shard held here, with its id (a split's target and an incoming
    /// migration's shard included: each key is in exactly one of them).
    pub fn held(&self) -> impl Iterator<Item = (ShardId, &Shard)> + '_ {
        self.shards
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.as_ref().map(|s| (id as ShardId, s)))
    }

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

    /// Start loading what lookups of `keys` will touch, for the keys whose
    /// shard is here. A pipeline's keys are prefetched before its commands run,
    /// so that their cache misses overlap instead of following one another: a
    /// lookup makes three dependent loads (the table's control bytes, the
    /// slot, the entry), each a miss in a table bigger than the cache. A first
    /// pass starts the control bytes and slots of every key, a second (once
    /// those are arriving) the entries. Changes nothing.
    pub fn prefetch_keys<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) {
        self.prefetch_requests(keys.map(|k| (k, None)));
    }

    /// [`Self::prefetch_keys`] for requests that may also name a field or
    /// member of the collection their key holds (`(key, Some(member))`):
    /// once a chunk's entries are on their way, what the member's lookup
    /// will read in that collection's table starts loading too, in
    /// [`Stage`]s run over the chunk before the next (control bytes, slot,
    /// the member's heap bytes: three dependent loads each). So a pipeline of
    /// HSETs or SADDs into big collections overlaps its misses as one of
    /// GETs does. A run of requests on one key looks that key up once.
    /// Changes nothing; a key holding no big collection costs its lookup.
    pub fn prefetch_requests<'a>(&self, items: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>) {
        const CHUNK: usize = 32;
        let mut found: [Noted<'_>; CHUNK] = [(0, 0, &[], None); CHUNK];
        let mut members: [Option<(ObjRef<'_>, u64)>; CHUNK] = [None; CHUNK];
        let mut last: Option<(&[u8], Option<ObjRef<'_>>)> = None;
        let mut items = items.peekable();
        while items.peek().is_some() {
            let mut n = 0;
            for (key, member) in items.by_ref().take(CHUNK) {
                let (route, thash) = hashes(key);
                let id = self.table.shard_of(route);
                if let Some(s) = self.shard(id) {
                    s.prefetch_slots(thash);
                    found[n] = (id, thash, key, member);
                    n += 1;
                }
            }
            for &(id, thash, ..) in &found[..n] {
                if let Some(s) = self.shard(id) {
                    s.prefetch_entry(thash);
                }
            }
            let mut m = 0;
            for &(id, thash, key, member) in &found[..n] {
                let Some(member) = member else {
                    continue;
                };
                let obj = match last {
                    Some((k, obj)) if k == key => obj,
                    _ => {
                        let entry = self.shard(id).and_then(|s| s.peek(thash, key));
                        let obj = entry.and_then(Entry::object).filter(|o| o.is_table());
                        last = Some((key, obj));
                        obj
                    }
                };
                if let Some(obj) = obj {
                    let h = member_hash(member);
                    obj.prefetch_member(h, Stage::Group);
                    members[m] = Some((obj, h));
                    m += 1;
                }
            }
            for stage in [Stage::Slots, Stage::Keys] {
                for &(obj, h) in members[..m].iter().flatten() {
                    obj.prefetch_member(h, stage);
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

    fn next_rand(&mut self) -> u64 {
        super::xorshift64(&mut self.rng)
    }

    /// Redis's encoding settings for collections from here on.
    pub fn set_limits(&mut self, limits: crate::storage::object::Limits) {
        self.limits = limits;
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
}

#[cfg(test)]
mod tests {
    use super::testkit::*;

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
}
