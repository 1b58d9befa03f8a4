//! Listing keys: SCAN over the shards held here, KEYS and DBSIZE with or
//! without the shards being handed to another core, and [`take_page`], the
//! page cut that SCAN by position and a migration's SCAN
//! ([`crate::storage::migration`]) share. Reads only: it never changes a shard.
//!
//! SCAN walks shards in position order and each shard's table bucket by
//! bucket from where the cursor left it ([`crate::storage::cursor`]), so a
//! call costs what it lists, however many keys the shard holds. A shard that
//! is being filled (a split's new half, a merge's survivor) is walked by
//! position instead, because entries arriving from the source land in
//! buckets the walk may have passed; such a shard costs a pass over it per
//! call, for as long as the fill lasts.

use super::Keyspace;
use crate::storage::cursor::{bucket_step, layout_tag, pos52, tag_matches, Cursor};
use crate::storage::entry::Entry;
use crate::storage::glob::glob_match;
use crate::storage::hash::key_hash;
use crate::storage::ops::{CoreOp, OpResult};
use crate::storage::shard::Shard;
use crate::storage::staircase::{scan_pos, ShardId};
use bytes::Bytes;

/// Buckets a call may look at per key COUNT asks for: a call ends when it
/// has looked at COUNT keys or this many times COUNT buckets, whichever
/// comes first (Redis's own bound on a sparse table).
pub const BUCKETS_PER_KEY: usize = 10;

/// SCAN's MATCH and TYPE, applied after counting (as Redis does).
#[derive(Clone)]
pub(in crate::storage) struct ScanFilter<'a> {
    pattern: Option<&'a [u8]>,
    /// TYPE's name, lower-cased (Redis compares it case-insensitively).
    type_name: Option<Vec<u8>>,
}

impl<'a> ScanFilter<'a> {
    pub(in crate::storage) fn new(pattern: Option<&'a [u8]>, type_name: Option<&[u8]>) -> Self {
        ScanFilter {
            pattern: pattern.filter(|p| *p != b"*"),
            type_name: type_name.map(|t| t.to_ascii_lowercase()),
        }
    }
    /// Whether a key of type `kind` passes MATCH and TYPE.
    pub(in crate::storage) fn accepts(&self, key: &[u8], kind: &str) -> bool {
        self.type_name
            .as_deref()
            .is_none_or(|t| t == kind.as_bytes())
            && self.pattern.is_none_or(|p| glob_match(p, key))
    }
}

/// One SCAN call's keys so far (matching or not: COUNT counts before the
/// filters) and the buckets it looked at.
struct Page {
    keys: Vec<Bytes>,
    seen: usize,
    buckets: usize,
    count: usize,
}

impl Page {
    fn full(&self) -> bool {
        self.seen >= self.count || self.buckets >= self.count * BUCKETS_PER_KEY
    }
    /// Keys the rest of the page takes (at least one).
    fn keys_left(&self) -> usize {
        self.count.saturating_sub(self.seen).max(1)
    }
    /// How much of COUNT the call used, in keys: all of it when either bound was reached.
    fn used(&self) -> usize {
        self.seen.max(self.buckets / BUCKETS_PER_KEY)
    }
    fn answer(self, next: u64) -> OpResult {
        OpResult::Scan {
            next,
            used: self.used(),
            keys: self.keys,
        }
    }
}

impl Keyspace {
    /// DBSIZE or KEYS over this core's shards: every held shard but the outgoing
    /// ones, or (`outgoing`) only those. A migration's target counts the source's
    /// part at the moment the source's answer reaches it, in order with the
    /// batches, so every key is counted once — when the cores' answers carry the
    /// same table epoch (see `core::migrate` and the DBSIZE command).
    pub fn count_part(&self, op: &CoreOp, outgoing: bool, now: u64) -> OpResult {
        let shards = self
            .held()
            .filter(|(id, _)| self.outgoing.iter().any(|o| o.shard == *id) == outgoing);
        match op {
            CoreOp::Keys { pattern } => {
                // Redis's KEYS treats a lone `*` as "everything", the empty key included.
                let all = &pattern[..] == b"*";
                let keys = shards
                    .flat_map(|(_, s)| s.iter())
                    .filter(|e| !e.is_expired(now) && (all || glob_match(pattern, e.key())))
                    .map(|e| Bytes::copy_from_slice(e.key()))
                    .collect();
                OpResult::Keys(keys)
            }
            _ => OpResult::Int(shards.map(|(_, s)| s.len()).sum::<usize>() as i64),
        }
    }

    /// SCAN from `cursor` (see [`CoreOp::Scan`]) through the shards this core
    /// owns, in position order, until `count` is spent or the next shard is
    /// another core's (or still arriving: `core::migrate` merges its source's
    /// keys in). Answers the cursor to go on from, 0 at the end of the space.
    pub(super) fn scan(
        &self,
        cursor: u64,
        count: usize,
        filter: &ScanFilter,
        now: u64,
    ) -> OpResult {
        let mut page = Page {
            keys: Vec::new(),
            seen: 0,
            buckets: 0,
            count: count.max(1),
        };
        let mut at = Cursor::read(cursor);
        let mut first = true;
        loop {
            let pos = at.position();
            let id = self.table.shard_of_pos(pos);
            if self.table.owner(id) != self.core || (!first && self.table.source_of(id).is_some()) {
                return page.answer(at.encode());
            }
            first = false;
            let (start, end) = self.table.interval(id);
            let filling = self.fill.as_ref().is_some_and(|f| f.target == id);
            let cut = if filling {
                self.scan_by_position(id, pos52(pos.max(start)), &mut page, filter, now)
            } else {
                self.scan_by_bucket(id, at, &mut page, filter, now)
            };
            if let Some(c) = cut {
                return page.answer(c.encode());
            }
            // The shard is done: on to the next, if there is one.
            let Some(end) = end else {
                return page.answer(0);
            };
            at = Cursor::At(pos52(end));
            if page.full() {
                return page.answer(at.encode());
            }
        }
    }

    /// Walk shard `id`'s buckets, from where `at` left it when `at` names this
    /// table in its present layout, else from its first bucket. Returns where
    /// to go on when the budget ran out inside the shard.
    fn scan_by_bucket(
        &self,
        id: ShardId,
        at: Cursor,
        page: &mut Page,
        filter: &ScanFilter,
        now: u64,
    ) -> Option<Cursor> {
        let shard = self.shard(id)?;
        let level = self.table.shard_level(id);
        let (start, end) = self.table.interval(id);
        let buckets = shard.num_buckets();
        let log2_buckets = buckets.trailing_zeros();
        let layout = shard.layout_epoch();
        let from = match at {
            Cursor::Bucket {
                level: l,
                start: s,
                log2_buckets: lb,
                bucket,
                tag,
                // The same table in the same layout. A split since (the shard is
                // deeper now, same start) kept its table and moved keys out to a
                // later interval only, so its walk goes on; after a merge (the
                // shard is shallower) keys of the other half may sit in buckets
                // already walked, so it starts over.
            } if l <= level
                && (s, lb) == (start, log2_buckets)
                && bucket < buckets
                && tag_matches(l, lb, tag, layout) =>
            {
                bucket
            }
            _ => 0,
        };
        // A split's source still holds keys of its new half: they are listed
        // with the new half (which is walked by position meanwhile).
        let splitting = self
            .fill
            .as_ref()
            .is_some_and(|f| f.source == id && !f.merge);
        let inside = |e: &Entry| {
            let p = scan_pos(key_hash(e.key()));
            p >= start && end.is_none_or(|end| p < end)
        };
        let step = bucket_step(level, log2_buckets);
        for index in from..buckets {
            if page.full() && index % step == 0 {
                return Some(Cursor::Bucket {
                    level,
                    start,
                    log2_buckets,
                    bucket: index,
                    tag: layout_tag(layout),
                });
            }
            shard.load_ahead(index);
            page.buckets += 1;
            let Some(e) = shard.entry_at(index) else {
                continue;
            };
            page.seen += 1;
            if !e.is_expired(now)
                && filter.accepts(e.key(), e.type_name())
                && (!splitting || inside(e))
            {
                page.keys.push(Bytes::copy_from_slice(e.key()));
            }
        }
        None
    }

    /// List shard `id` (being filled) by position from `from` (52-bit), its
    /// keys still in the fill's source included. Returns where to go on when
    /// the budget ran out inside the shard.
    fn scan_by_position(
        &self,
        id: ShardId,
        from: u64,
        page: &mut Page,
        filter: &ScanFilter,
        now: u64,
    ) -> Option<Cursor> {
        let (start, end) = self.table.interval(id);
        let (start, end) = (pos52(start), end.map(pos52));
        let pending = self
            .fill
            .as_ref()
            .filter(|f| f.target == id)
            .and_then(|f| self.shard(f.source));
        let shards = self.shard(id).into_iter().chain(pending);
        let mut cands = live_from(shards, from, (start, end), now);
        let cut = take_page(&mut cands, page.keys_left());
        page.seen += cands.len();
        page.keys.extend(
            cands
                .iter()
                .filter(|(_, e)| filter.accepts(e.key(), e.type_name()))
                .map(|(_, e)| Bytes::copy_from_slice(e.key())),
        );
        match cut {
            // Past the last position a cursor can hold: the shard is done.
            Some(Some(next)) if next < 1 << 52 => Some(Cursor::At(next)),
            _ => None,
        }
    }
}

/// The live entries of `shards` at 52-bit positions ([`pos52`]) from `from`
/// on and inside `[start, end)`, with their positions: what a SCAN by position
/// chooses its page from.
pub(in crate::storage) fn live_from<'a>(
    shards: impl Iterator<Item = &'a Shard>,
    from: u64,
    (start, end): (u64, Option<u64>),
    now: u64,
) -> Vec<(u64, &'a Entry)> {
    shards
        .flat_map(|s| s.iter())
        .filter(|e| !e.is_expired(now))
        .map(|e| (pos52(scan_pos(key_hash(e.key()))), e))
        .filter(|&(p, _)| p >= from && p >= start && end.is_none_or(|end| p < end))
        .collect()
}

/// Keep the `want` smallest positions of `cands` (plus any keys sharing the last
/// kept position), sorted. Returns `Some(last + 1)` when something was cut off.
pub(in crate::storage) fn take_page<T>(
    cands: &mut Vec<(u64, T)>,
    want: usize,
) -> Option<Option<u64>> {
    let cut = if cands.len() > want {
        cands.select_nth_unstable_by_key(want - 1, |c| c.0);
        let last = cands[want - 1].0;
        cands.retain(|c| c.0 <= last);
        Some(last.checked_add(1))
    } else {
        None
    };
    cands.sort_unstable_by_key(|c| c.0);
    cut
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::storage::cursor::LIMIT;

    fn scan_at(k: &mut Keyspace, cursor: u64, count: usize) -> (u64, Vec<Bytes>, usize) {
        let r = core(
            k,
            CoreOp::Scan {
                cursor,
                count,
                pattern: None,
                type_name: None,
            },
        );
        let OpResult::Scan { next, keys, used } = r else {
            panic!("scan answered {r:?}")
        };
        assert!(next < LIMIT, "cursor {next} is not below 2^53");
        (next, keys, used)
    }

    /// Drive a scan to completion across the given cores, as the command layer
    /// does, calling `between` before every call (to change the keyspace).
    fn full_scan_with(
        cores: &mut [Keyspace],
        count: usize,
        mut between: impl FnMut(&mut [Keyspace]),
    ) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut cursor = 0u64;
        for _ in 0..100_000 {
            between(cores);
            let t = cores[0].table().clone();
            let pos = Cursor::decode(cursor).expect("a cursor").position();
            let owner = t.owner(t.shard_of_pos(pos));
            let (next, keys, _) = scan_at(&mut cores[owner], cursor, count);
            out.extend(keys);
            if next == 0 {
                return out;
            }
            cursor = next;
        }
        panic!("scan did not finish");
    }

    fn full_scan(cores: &mut [Keyspace], count: usize) -> Vec<Bytes> {
        full_scan_with(cores, count, |_| {})
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

    /// A page is filled across shard boundaries: three keys over sixteen
    /// shards come back in one call.
    #[test]
    fn a_page_fills_count_across_shards() {
        let mut k = ks(1, 16);
        for key in ["a", "b", "c"] {
            run(&mut k, key, set("v"));
        }
        let (next, mut keys, _) = scan_at(&mut k, 0, 10);
        keys.sort();
        assert_eq!((next, keys), (0, vec!["a".into(), "b".into(), "c".into()]));
    }

    /// A call resumes inside a shard at the bucket it stopped at: with one
    /// big shard, every call of COUNT 10 lists at most 10 keys and looks at
    /// a bounded number of buckets, and the pages never overlap.
    #[test]
    fn a_call_resumes_inside_a_shard() {
        let mut k = ks(1, 1);
        for i in 0..50_000 {
            run(&mut k, &format!("big:{i}"), set("v"));
        }
        let (mut cursor, mut seen, mut calls) = (0, HashSet::new(), 0);
        loop {
            let (next, keys, used) = scan_at(&mut k, cursor, 10);
            // The last bucket looked at may be a full one past the budget's end.
            assert!(
                keys.len() <= 10 && used <= 11,
                "{} keys, {used} used",
                keys.len()
            );
            for key in keys {
                assert!(seen.insert(key), "a page overlapped an earlier one");
            }
            calls += 1;
            if next == 0 {
                break;
            }
            assert!(matches!(Cursor::decode(next), Some(Cursor::Bucket { .. })));
            cursor = next;
        }
        assert_eq!(seen.len(), 50_000);
        assert!(calls >= 5_000, "{calls} calls");
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
        // A cursor at another core's shard returns itself, empty.
        let at = Cursor::At(pos52(table.interval(1).0)).encode();
        assert_eq!(scan_at(&mut cores[0], at, 10), (at, vec![], 0));
        // A scan never crosses into another core's shard: it stops at its start.
        let (next, _, _) = scan_at(&mut cores[0], 0, 100_000);
        let pos = Cursor::decode(next).expect("a cursor").position();
        assert_eq!(pos, table.interval(table.shard_of_pos(pos)).0);
        assert_ne!(table.owner(table.shard_of_pos(pos)), 0);
    }

    /// Keys sharing a hash tag share a position, but not a bucket: they are
    /// paged like any others.
    #[test]
    fn tagged_keys_are_paged_by_bucket() {
        let mut k = ks(1, 2);
        for i in 0..20 {
            run(&mut k, &format!("{{same}}{i}"), set("v"));
        }
        let (mut cursor, mut seen) = (0, HashSet::new());
        loop {
            let (next, keys, _) = scan_at(&mut k, cursor, 1);
            assert!(keys.len() <= 1);
            seen.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 20);
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
                let OpResult::Scan { next, keys, .. } = r else {
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
        let OpResult::Scan { next, keys, used } = r else {
            panic!()
        };
        assert!(keys.is_empty() && next != 0 && used >= 5);
    }

    /// A table rehashed in place (same bucket count, entries in other
    /// buckets) under a bucket walk: the cursor's layout tag no longer
    /// matches and the shard is walked again, so no key is missed.
    #[test]
    fn a_rehash_in_place_starts_the_shard_over() {
        let mut k = ks(1, 1);
        let mut want = HashSet::new();
        for i in 0..3000 {
            let key = format!("keep:{i}");
            run(&mut k, &key, set("v"));
            if i % 3 == 0 {
                want.insert(Bytes::from(key));
            }
        }
        // A third left in a table grown for all: a rebuild keeps its size.
        for i in 0..3000 {
            if i % 3 != 0 {
                run(&mut k, &format!("keep:{i}"), KeyOp::Del);
            }
        }
        let mut got = HashSet::new();
        let mut cursor = 0;
        for _ in 0..30 {
            let (next, keys, _) = scan_at(&mut k, cursor, 10);
            got.extend(keys);
            cursor = next;
        }
        let shard = |k: &Keyspace| {
            let s = k.shard(0).expect("shard 0");
            (s.num_buckets(), s.layout_epoch())
        };
        let (buckets, layout) = shard(&k);
        // Keys that come and go leave tombstones until the table rehashes in place.
        let mut i = 0;
        while shard(&k).1 == layout {
            i += 1;
            run(&mut k, &format!("brief:{i}"), set("v"));
            run(&mut k, &format!("brief:{i}"), KeyOp::Del);
            assert!(i < 1_000_000, "the table never rehashed");
        }
        assert_eq!(shard(&k).0, buckets, "rehashed in place, not grown");
        loop {
            let (next, keys, _) = scan_at(&mut k, cursor, 10);
            got.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(got, want);
    }

    /// Every key present for the whole scan is listed at least once, and
    /// nothing else, while the staircase splits and merges (some steps left
    /// half done across calls) and other keys come and go in numbers that
    /// grow, rebuild and shrink the tables under the walk.
    #[test]
    fn scan_survives_splits_merges_and_rebuilds() {
        for seed in 0..6u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut cores = vec![ks(1, 2)];
            let mut want = HashSet::new();
            for i in 0..5000 {
                let key = format!("key:{i}");
                run(&mut cores[0], &key, set("v"));
                want.insert(Bytes::from(key));
            }
            let mut churn = 0u64;
            let count = rng.gen_range(1..60);
            let got = full_scan_with(&mut cores, count, |cores| {
                let k = &mut cores[0];
                if rng.gen_bool(0.2) {
                    if !k.split_in_progress() {
                        if rng.gen_bool(0.6) {
                            k.begin_split();
                        } else {
                            k.begin_merge();
                        }
                    }
                    k.fill_step(rng.gen_range(1..200), NOW, &mut Vec::new());
                }
                // Keys that come and go: the tables grow, rebuild and compact.
                for _ in 0..rng.gen_range(0..12) {
                    churn += 1;
                    run(k, &format!("churn:{churn}"), set("v"));
                }
                for _ in 0..rng.gen_range(0..12) {
                    let gone = rng.gen_range(0..=churn);
                    run(k, &format!("churn:{gone}"), KeyOp::Del);
                }
                if rng.gen_bool(0.1) {
                    k.compact();
                }
            });
            let got: HashSet<Bytes> = got
                .into_iter()
                .filter(|k| !k.starts_with(b"churn:"))
                .collect();
            assert_eq!(got, want, "seed {seed}, COUNT {count}");
        }
    }
}
