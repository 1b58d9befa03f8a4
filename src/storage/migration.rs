//! A shard moving between cores, as each end's keyspace sees it (the seed's
//! dual engine, per shard). The source core A walks its copy and hands entries
//! over in batches ([`Keyspace::migration_take`]); the new owner B installs them
//! unless it already has the key ([`Keyspace::install`]); and before B runs an op
//! on a key it does not have, it pulls that key from A ([`Keyspace::give`]).
//!
//! The invariant that makes this correct: a key is in exactly one place — in A's
//! copy, in a message from A to B, or in B's shard. A removes a key before it
//! sends it, B only touches a key it holds (or one A has answered for), and
//! messages from A to B arrive in order, so an answer "A does not have it"
//! reaches B after any batch that carried the key. No tombstones are needed.
//!
//! This module only decides and moves entries; it never awaits and never sends
//! a message (the core layer, `core::world`, drives the protocol). It sits
//! above [`super::keyspace`]: the keyspace keeps the outgoing shards' state
//! ([`super::keyspace::Outgoing`]) and lists keys (SCAN's page cut, KEYS and
//! DBSIZE in `keyspace::scan`) without ever importing this file.

use super::cursor::{pos52, Cursor, POS_SHIFT};
use super::entry::Entry;
use super::hash::hashes;
use super::keyspace::scan::{live_from, take_page, ScanFilter};
use super::keyspace::{Keyspace, Outgoing};
use super::ops::{CoreOp, Op, OpResult};
use super::shard::Walk;
use super::staircase::{scan_pos, ShardId};
use bytes::Bytes;

/// Where an op must run, as this core's table sees it.
#[derive(Debug, PartialEq)]
pub enum Placement {
    Here,
    /// Another core owns the op's shard: send the op there.
    Forward(usize),
    /// Owned here but still arriving: pull these keys from their source cores first.
    Pull(Vec<(usize, Bytes)>),
    /// A SCAN of a shard still arriving: merge the source's remaining keys in.
    ScanMerge(usize),
    /// A multi-key op whose keys now live on several cores.
    CrossCore,
    /// DBSIZE or KEYS while a shard arrives from this core: add the source's
    /// part of it, counted when its answer arrives.
    CountWith(usize),
}

impl Keyspace {
    /// Start handing `shard` to core `to`: the table gives it to `to` from now on
    /// (epoch + 1, the caller broadcasts). Refused when the shard is not held and
    /// settled here, or a split or merge involves it.
    pub fn begin_migration(&mut self, shard: ShardId, to: usize) -> Result<(), String> {
        if shard as usize >= self.table.num_shards() {
            return Err(format!("no such shard {shard}"));
        }
        if self.table.owner(shard) != self.core {
            return Err(format!("shard {shard} is not on core {}", self.core));
        }
        if to == self.core {
            return Err(format!("shard {shard} is already on core {to}"));
        }
        if self.table.source_of(shard).is_some()
            || self
                .fill
                .as_ref()
                .is_some_and(|f| f.source == shard || f.target == shard)
        {
            return Err(format!(
                "shard {shard} is busy (a split, merge or migration)"
            ));
        }
        let walk = match self.shard(shard) {
            Some(s) => Walk::new(s),
            None => return Err(format!("shard {shard} is not held on core {}", self.core)),
        };
        self.table.begin_migration(shard, to);
        self.outgoing.push(Outgoing { shard, to, walk });
        Ok(())
    }

    /// Take up to `max` entries of an outgoing shard off this core, walking its
    /// buckets. Expired entries are dropped (their keys pushed onto `expired`).
    /// Returns the entries and whether the shard is now empty.
    pub fn migration_take(
        &mut self,
        shard: ShardId,
        max: usize,
        now: u64,
        expired: &mut Vec<Bytes>,
    ) -> (Vec<Entry>, bool) {
        let Some(out) = self.outgoing.iter_mut().find(|o| o.shard == shard) else {
            return (Vec::new(), true);
        };
        let Some(src) = self.shards.get_mut(shard as usize).and_then(Option::as_mut) else {
            return (Vec::new(), true);
        };
        let mut taken = Vec::with_capacity(max.max(1).min(src.len()));
        let walked = src.take_walking(
            &mut out.walk,
            max,
            |_| true,
            |e| {
                if e.is_expired(now) {
                    expired.push(Bytes::copy_from_slice(e.key()));
                    // Only entries handed over count toward the batch.
                    false
                } else {
                    taken.push(e);
                    true
                }
            },
        );
        if walked && !src.is_empty() {
            // Nothing adds to an outgoing shard; walk again rather than leave keys behind.
            out.walk.restart();
        }
        (taken, src.is_empty())
    }

    /// Entries of an outgoing shard still here.
    pub fn outgoing_len(&self, shard: ShardId) -> usize {
        self.shard(shard).map_or(0, |s| s.len())
    }

    /// B's side, before a batch: room for `remaining` more entries of `shard`.
    pub fn prepare_incoming(&mut self, shard: ShardId, remaining: usize) {
        if self.table.owner(shard) == self.core {
            if let Some(s) = self.shard_mut(shard) {
                s.reserve(remaining);
            }
        }
    }

    /// The outgoing shard is empty and its new owner has everything: drop the copy.
    pub fn end_outgoing(&mut self, shard: ShardId) {
        self.outgoing.retain(|o| o.shard != shard);
        if self.table.owner(shard) != self.core {
            if let Some(slot) = self.shards.get_mut(shard as usize) {
                *slot = None;
            }
        }
        // The walk kept its table from shrinking (when the shard stays here).
        self.compact_shard(shard);
    }

    /// Where each outgoing shard is going.
    pub fn outgoing_targets(&self) -> Vec<usize> {
        self.outgoing.iter().map(|o| o.to).collect()
    }

    /// Cores that shards owned here are still arriving from.
    pub fn incoming_sources(&self) -> Vec<usize> {
        self.table
            .moving
            .iter()
            .filter(|(s, _)| self.table.owner(*s) == self.core)
            .map(|&(_, c)| c as usize)
            .collect()
    }

    /// FLUSHALLs run on this core so far; a core stamps what it hands over with it.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }

    /// B's side of a batch (or a pull's answer) from core `from`, sent after
    /// `flushes` FLUSHALLs there: store each entry unless a newer one is already
    /// here. Entries sent before a FLUSHALL this core has already run are
    /// dropped. Expired entries are dropped and their keys pushed onto
    /// `expired`. Returns how many were stored and the earliest deadline among them.
    pub fn install(
        &mut self,
        from: usize,
        entries: Vec<Entry>,
        flushes: u64,
        now: u64,
        expired: &mut Vec<Bytes>,
    ) -> (usize, Option<u64>) {
        self.install_with(from, entries, flushes, now, expired, &mut |_, _| {})
    }

    /// As [`Self::install`], telling `stored` of each entry it stores (and its
    /// shard) just before: the core logs those as imports.
    pub fn install_with(
        &mut self,
        from: usize,
        entries: Vec<Entry>,
        flushes: u64,
        now: u64,
        expired: &mut Vec<Bytes>,
        stored_hook: &mut dyn FnMut(ShardId, &Entry),
    ) -> (usize, Option<u64>) {
        if flushes < self.flushes {
            return (0, None);
        }
        let (mut stored, mut earliest) = (0, None::<u64>);
        for e in entries {
            if e.is_expired(now) {
                expired.push(Bytes::copy_from_slice(e.key()));
                continue;
            }
            let (route, thash) = hashes(e.key());
            let id = self.table.shard_of(route);
            let Some(shard) = self.shard_mut(id) else {
                tracing::error!(shard = id, from, "migrated entry for a shard not held here");
                continue;
            };
            if !shard.contains(thash, e.key()) {
                if let Some(d) = e.deadline() {
                    earliest = Some(earliest.map_or(d, |x: u64| x.min(d)));
                }
                stored_hook(id, &e);
                shard.insert(thash, e);
                stored += 1;
            }
        }
        (stored, earliest)
    }

    /// A's side of a pull: remove the keys this core still holds for shards it is
    /// handing over, and return the live ones (expired keys go onto `expired`).
    pub fn give(&mut self, keys: &[Bytes], now: u64, expired: &mut Vec<Bytes>) -> Vec<Entry> {
        let mut out = Vec::new();
        for key in keys {
            let (route, thash) = hashes(key);
            let id = self.table.shard_of(route);
            if !self.outgoing.iter().any(|o| o.shard == id) {
                continue;
            }
            if let Some(e) = self.shard_mut(id).and_then(|s| s.remove(thash, key)) {
                if e.is_expired(now) {
                    expired.push(Bytes::copy_from_slice(e.key()));
                } else {
                    out.push(e);
                }
            }
        }
        out
    }

    /// B has everything of `shard`: epoch e+2, the table forgets the source.
    /// False when `shard` was not arriving here.
    pub fn finish_incoming(&mut self, shard: ShardId) -> bool {
        if self.table.source_of(shard).is_none() || self.table.owner(shard) != self.core {
            return false;
        }
        self.table.finish_migration(shard);
        true
    }

    /// While set, a key missing from a shard still arriving is taken as absent
    /// (its keys were just pulled).
    pub fn set_settled(&mut self, settled: bool) {
        self.settled = settled;
    }

    /// Where `op` must run (see [`Placement`]).
    pub fn placement(&self, op: &Op) -> Placement {
        match op {
            Op::Key { key, .. } => match self.key_place(key) {
                Err(owner) => Placement::Forward(owner),
                Ok(Some(from)) => Placement::Pull(vec![(from, key.clone())]),
                Ok(None) => Placement::Here,
            },
            Op::Core(CoreOp::Scan { cursor, .. }) => {
                let pos = Cursor::read(*cursor).position();
                let id = self.table.shard_of_pos(pos);
                let owner = self.table.owner(id);
                if owner != self.core {
                    Placement::Forward(owner)
                } else if let Some(from) = self.table.source_of(id) {
                    Placement::ScanMerge(from)
                } else {
                    Placement::Here
                }
            }
            Op::Core(CoreOp::DbSize | CoreOp::Keys { .. }) => {
                match self.incoming_sources().first() {
                    Some(&from) => Placement::CountWith(from),
                    None => Placement::Here,
                }
            }
            Op::Core(CoreOp::MSetNx { pairs }) => self.keys_place(pairs.iter().map(|(k, _)| k)),
            Op::Core(CoreOp::Rename { src, dst, .. } | CoreOp::Copy { src, dst, .. }) => {
                self.keys_place([src, dst].into_iter())
            }
            Op::Core(_) => Placement::Here,
        }
    }

    /// Ok(None): run here; Ok(Some(a)): pull from core `a` first; Err(c): core `c` owns it.
    fn key_place(&self, key: &[u8]) -> Result<Option<usize>, usize> {
        let (route, thash) = hashes(key);
        let id = self.table.shard_of(route);
        let owner = self.table.owner(id);
        if owner != self.core {
            return Err(owner);
        }
        if self.settled {
            return Ok(None);
        }
        match self.table.source_of(id) {
            Some(from) if !self.shard(id).is_some_and(|s| s.contains(thash, key)) => Ok(Some(from)),
            _ => Ok(None),
        }
    }

    fn keys_place<'a>(&self, keys: impl Iterator<Item = &'a Bytes>) -> Placement {
        let (mut pulls, mut elsewhere) = (Vec::new(), None);
        let mut here = false;
        for key in keys {
            match self.key_place(key) {
                Ok(pull) => {
                    here = true;
                    if let Some(from) = pull {
                        pulls.push((from, key.clone()));
                    }
                }
                Err(owner) if elsewhere.is_none_or(|o| o == owner) => elsewhere = Some(owner),
                Err(_) => return Placement::CrossCore,
            }
        }
        match (here, elsewhere) {
            (true, Some(_)) => Placement::CrossCore,
            (false, Some(owner)) => Placement::Forward(owner),
            _ if pulls.is_empty() => Placement::Here,
            _ => Placement::Pull(pulls),
        }
    }

    /// A's side of a SCAN of a shard it is handing over: the live keys it still
    /// holds at 52-bit positions `>= from` ([`crate::storage::cursor`]), at most
    /// `count` positions' worth (a run of keys at one position is never cut).
    pub fn scan_part(
        &self,
        shard: ShardId,
        from: u64,
        count: usize,
        now: u64,
    ) -> Vec<(Bytes, &'static str)> {
        let Some(s) = self.shard(shard) else {
            return Vec::new();
        };
        let mut cands = live_from(std::iter::once(s), from, (0, None), now);
        take_page(&mut cands, count.max(1));
        cands
            .into_iter()
            .map(|(_, e)| (Bytes::copy_from_slice(e.key()), e.type_name()))
            .collect()
    }

    /// B's side of a SCAN of a shard still arriving: this core's keys of the shard
    /// holding `cursor` merged with `theirs` (the source's [`Keyspace::scan_part`]
    /// from the cursor's position, answered after every batch it sent, so every key
    /// that existed throughout is in one or the other). Covers that one shard
    /// only, by position: a bucket cursor of it goes on from the shard's start.
    pub fn scan_merged(
        &self,
        scan: (u64, usize, Option<&[u8]>, Option<&[u8]>),
        theirs: &[(Bytes, &'static str)],
        now: u64,
    ) -> OpResult {
        let (cursor, count, pattern, type_name) = scan;
        let from = pos52(Cursor::read(cursor).position());
        let id = self.table.shard_of_pos(from << POS_SHIFT);
        let (start, end) = self.table.interval(id);
        let (start, end) = (pos52(start), end.map(pos52));
        let inside = |p: u64| p >= from && p >= start && end.is_none_or(|e| p < e);
        let mine = self.shard(id);
        let mut cands: Vec<(u64, (&[u8], &str))> =
            live_from(mine.into_iter(), from, (start, end), now)
                .into_iter()
                .map(|(p, e)| (p, (e.key(), e.type_name())))
                .collect();
        let count = count.max(1);
        let mut last_theirs = None;
        for (k, kind) in theirs {
            let (route, thash) = hashes(k);
            let p = pos52(scan_pos(route));
            if !inside(p) {
                continue;
            }
            last_theirs = last_theirs.max(Some(p));
            // A key handed over since the source answered is here now: list it once.
            if !mine.is_some_and(|s| s.contains(thash, k)) {
                cands.push((p, (k, kind)));
            }
        }
        // A full page from the source may have been cut after its last position:
        // the source's keys beyond it are unseen, so this page must stop there too
        // (ours beyond it come on the next call), or the cursor would jump them.
        let bound = match last_theirs {
            Some(last) if theirs.len() >= count => Some(last + 1),
            _ => None,
        };
        if let Some(bound) = bound {
            cands.retain(|(p, _)| *p < bound);
        }
        let cut = take_page(&mut cands, count).flatten();
        let filter = ScanFilter::new(pattern, type_name);
        let keys = cands
            .iter()
            .filter(|(_, (k, kind))| filter.accepts(k, kind))
            .map(|(_, (k, _))| Bytes::copy_from_slice(k))
            .collect();
        let next = match cut.or(bound) {
            Some(after) if after < 1 << 52 => Cursor::At(after).encode(),
            Some(_) => 0,
            None => end.map_or(0, |e| Cursor::At(e).encode()),
        };
        OpResult::Scan {
            next,
            keys,
            used: cands.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ops::{KeyOp, SetCond, SetTtl};
    use crate::storage::staircase::RoutingTable;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    const NOW: u64 = 1_000_000;

    fn key_op(key: &str, op: KeyOp) -> Op {
        Op::Key {
            key: Bytes::copy_from_slice(key.as_bytes()),
            op,
        }
    }

    fn set(v: &str) -> KeyOp {
        KeyOp::Set {
            value: Bytes::copy_from_slice(v.as_bytes()),
            cond: SetCond::Always,
            ttl: SetTtl::Clear,
            get: false,
        }
    }

    /// Run `op` the way `core::migrate` does: forward to the owner, pull first
    /// when the owner needs the source's copy, then run it settled.
    fn serve(cores: &mut [Keyspace], at: usize, op: Op) -> OpResult {
        match cores[at].placement(&op) {
            Placement::Forward(c) => serve(cores, c, op),
            Placement::Pull(keys) => {
                for (from, key) in keys {
                    let mut expired = Vec::new();
                    let es = cores[from].give(&[key], NOW, &mut expired);
                    let stamp = cores[from].flushes();
                    cores[at].install(from, es, stamp, NOW, &mut expired);
                }
                cores[at].set_settled(true);
                let r = cores[at].execute(op, NOW);
                cores[at].set_settled(false);
                r
            }
            Placement::Here => cores[at].execute(op, NOW),
            other => panic!("unexpected placement {other:?}"),
        }
    }

    /// Random ops arriving at either core while a shard moves from core 0 to core
    /// 1 in random-sized batches (some held "in flight" for a while) always agree
    /// with a plain map, and afterwards core 0 holds nothing of the shard.
    #[test]
    fn migration_keeps_every_key_exactly_once() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for round in 0..20 {
            let table = RoutingTable::new(2, 4);
            let mut cores = vec![Keyspace::new(0, table.clone()), Keyspace::new(1, table)];
            let mut model: HashMap<String, String> = HashMap::new();
            for i in 0..400 {
                let k = format!("k{i}");
                let v = format!("v{i}");
                serve(&mut cores, i % 2, key_op(&k, set(&v)));
                model.insert(k, v);
            }
            let shard = 0;
            cores[0].begin_migration(shard, 1).expect("begin");
            let moved_table = cores[0].table().clone();
            cores[1].set_table(moved_table);
            let mut in_flight: Vec<Vec<Entry>> = Vec::new();
            let mut done = false;
            let mut steps = 0;
            while !(done && in_flight.is_empty()) {
                steps += 1;
                assert!(steps < 100_000, "round {round}: migration never finished");
                match rng.gen_range(0..10) {
                    0..=1 if !done => {
                        let mut expired = Vec::new();
                        let (batch, d) =
                            cores[0].migration_take(shard, rng.gen_range(1..40), NOW, &mut expired);
                        in_flight.push(batch);
                        done = d;
                    }
                    2 if !in_flight.is_empty() => {
                        let batch = in_flight.remove(0);
                        cores[1].install(0, batch, 0, NOW, &mut Vec::new());
                    }
                    _ => {
                        // A pull overtaking a batch in flight is impossible: messages
                        // from core 0 arrive in order, so deliver those first.
                        let k = format!("k{}", rng.gen_range(0..500));
                        let at = rng.gen_range(0..2);
                        let op = match rng.gen_range(0..4) {
                            0 => key_op(&k, KeyOp::Get),
                            1 => key_op(&k, KeyOp::Del),
                            2 => key_op(&k, KeyOp::IncrBy(1)),
                            _ => key_op(&k, set(&format!("w{steps}"))),
                        };
                        if matches!(cores[at].placement(&op), Placement::Pull(_))
                            || matches!(cores[at].placement(&op), Placement::Forward(1))
                        {
                            for b in in_flight.drain(..) {
                                cores[1].install(0, b, 0, NOW, &mut Vec::new());
                            }
                        }
                        let want = match &op {
                            Op::Key { op: KeyOp::Get, .. } => match model.get(&k) {
                                Some(v) => OpResult::Bulk(Bytes::copy_from_slice(v.as_bytes())),
                                None => OpResult::Nil,
                            },
                            Op::Key { op: KeyOp::Del, .. } => {
                                OpResult::Int(model.remove(&k).is_some() as i64)
                            }
                            Op::Key {
                                op: KeyOp::IncrBy(_),
                                ..
                            } => match model.get(&k).map(|v| v.parse::<i64>()) {
                                Some(Err(_)) => {
                                    OpResult::Err(crate::storage::ops::OpError::NotInteger)
                                }
                                Some(Ok(n)) => {
                                    model.insert(k.clone(), (n + 1).to_string());
                                    OpResult::Int(n + 1)
                                }
                                None => {
                                    model.insert(k.clone(), "1".into());
                                    OpResult::Int(1)
                                }
                            },
                            _ => {
                                model.insert(k.clone(), format!("w{steps}"));
                                OpResult::Ok
                            }
                        };
                        assert_eq!(serve(&mut cores, at, op), want, "round {round}, key {k}");
                    }
                }
            }
            cores[0].end_outgoing(shard);
            assert!(cores[1].finish_incoming(shard));
            assert!(
                cores[0].shard(shard).is_none(),
                "the source dropped its copy"
            );
            for (k, v) in &model {
                let got = serve(&mut cores, 0, key_op(k, KeyOp::Get));
                assert_eq!(got, OpResult::Bulk(Bytes::copy_from_slice(v.as_bytes())));
            }
            let total: usize = cores.iter().map(|c| c.len()).sum();
            assert_eq!(total, model.len(), "no key lost or duplicated");
        }
    }

    /// One SCAN call the way `core::migrate` serves it: forwarded to the owner,
    /// merged with the source's remaining keys while the shard is arriving.
    fn scan_call(
        cores: &mut [Keyspace],
        at: usize,
        cursor: u64,
        count: usize,
    ) -> (u64, Vec<Bytes>) {
        let op = Op::Core(CoreOp::Scan {
            cursor,
            count,
            pattern: None,
            type_name: None,
        });
        let r = match cores[at].placement(&op) {
            Placement::Forward(c) => return scan_call(cores, c, cursor, count),
            Placement::ScanMerge(from) => {
                let pos = Cursor::decode(cursor).expect("a cursor").position();
                let shard = cores[at].table().shard_of_pos(pos);
                let theirs = cores[from].scan_part(shard, pos52(pos), count, NOW);
                cores[at].scan_merged((cursor, count, None, None), &theirs, NOW)
            }
            Placement::Here => cores[at].execute(op, NOW),
            other => panic!("unexpected placement {other:?}"),
        };
        let OpResult::Scan { next, keys, .. } = r else {
            panic!("scan answered {r:?}")
        };
        assert!(next < crate::storage::cursor::LIMIT);
        (next, keys)
    }

    /// A full SCAN while a shard is part-way over lists every key exactly once,
    /// whatever the page size and however much has moved — in particular when
    /// the source answers a full page and the target holds nothing beyond it.
    #[test]
    fn scan_mid_migration_lists_every_key_once() {
        for moved_batches in [0usize, 1, 3, 10, 40] {
            for count in [1usize, 3, 10, 100, 1000] {
                let table = RoutingTable::new(2, 4);
                let mut cores = vec![Keyspace::new(0, table.clone()), Keyspace::new(1, table)];
                let keys: Vec<String> = (0..600).map(|i| format!("s{i}")).collect();
                for (i, k) in keys.iter().enumerate() {
                    serve(&mut cores, i % 2, key_op(k, set("v")));
                }
                cores[0].begin_migration(0, 1).expect("begin");
                let t = cores[0].table().clone();
                cores[1].set_table(t);
                for _ in 0..moved_batches {
                    let (batch, _) = cores[0].migration_take(0, 5, NOW, &mut Vec::new());
                    cores[1].install(0, batch, 0, NOW, &mut Vec::new());
                }
                let (mut cursor, mut seen, mut calls) = (0u64, Vec::new(), 0);
                loop {
                    let (next, page) = scan_call(&mut cores, 0, cursor, count);
                    seen.extend(page);
                    calls += 1;
                    assert!(calls < 10_000, "scan never finished");
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                let mut got: Vec<String> = seen
                    .iter()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect();
                got.sort();
                let mut want = keys.clone();
                want.sort();
                assert_eq!(
                    got, want,
                    "COUNT {count} after {moved_batches} batches: every key exactly once"
                );
            }
        }
    }

    #[test]
    fn expired_entries_are_dropped_on_the_way() {
        let table = RoutingTable::new(2, 2);
        let mut a = Keyspace::new(0, table.clone());
        let mut b = Keyspace::new(1, table);
        let mut n = 0;
        for i in 0..200 {
            let key = format!("x{i}");
            if a.placement(&key_op(&key, KeyOp::Get)) != Placement::Here {
                continue;
            }
            let ttl = if i % 2 == 0 {
                SetTtl::At(NOW + 10)
            } else {
                SetTtl::Clear
            };
            let op = KeyOp::Set {
                value: Bytes::from_static(b"v"),
                cond: SetCond::Always,
                ttl,
                get: false,
            };
            a.execute(key_op(&key, op), NOW);
            n += 1;
        }
        a.begin_migration(0, 1).expect("begin");
        b.set_table(a.table().clone());
        let (mut expired, mut moved) = (Vec::new(), 0);
        loop {
            let (batch, done) = a.migration_take(0, 7, NOW + 10, &mut expired);
            moved += b.install(0, batch, 0, NOW + 10, &mut expired).0;
            if done {
                break;
            }
        }
        assert_eq!(moved + expired.len(), n);
        assert!(!expired.is_empty() && moved > 0);
        assert_eq!(b.len(), moved);
    }

    #[test]
    fn batches_sent_before_a_flush_this_core_ran_are_dropped() {
        let table = RoutingTable::new(2, 2);
        let mut a = Keyspace::new(0, table.clone());
        let mut b = Keyspace::new(1, table);
        for i in 0..100 {
            let key = format!("f{i}");
            if a.placement(&key_op(&key, KeyOp::Get)) == Placement::Here {
                a.execute(key_op(&key, set("v")), NOW);
            }
        }
        a.begin_migration(0, 1).expect("begin");
        b.set_table(a.table().clone());
        let (batch, _) = a.migration_take(0, 10, NOW, &mut Vec::new());
        assert!(!batch.is_empty());
        let stamp = a.flushes();
        // A FLUSHALL reaches B before the batch does (and A after it sent it).
        b.execute(Op::Core(CoreOp::Flush), NOW);
        assert_eq!(b.install(0, batch, stamp, NOW, &mut Vec::new()).0, 0);
        a.execute(Op::Core(CoreOp::Flush), NOW);
        b.set_table(a.table().clone());
        a.execute(key_op("after", set("v")), NOW);
        let keep = Entry::new(b"after", b"v", None);
        assert_eq!(
            b.install(0, vec![keep], a.flushes(), NOW, &mut Vec::new())
                .0,
            1
        );
    }

    #[test]
    fn begin_migration_refusals() {
        let table = RoutingTable::new(2, 4);
        let mut a = Keyspace::new(0, table);
        assert!(a
            .begin_migration(9, 1)
            .unwrap_err()
            .contains("no such shard"));
        assert!(a
            .begin_migration(1, 0)
            .unwrap_err()
            .contains("not on core 0"));
        assert!(a
            .begin_migration(0, 0)
            .unwrap_err()
            .contains("already on core"));
        a.begin_migration(0, 1).expect("begin");
        assert!(a.begin_migration(2, 1).is_ok());
        assert_eq!(a.table().owner(0), 1);
        assert_eq!(a.table().source_of(0), Some(0));
    }
}
