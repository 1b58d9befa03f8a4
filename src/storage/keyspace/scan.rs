//! Listing keys: SCAN over the shards held here (stateless, by position in
//! the hash space, so a cursor survives splits), KEYS and DBSIZE with or
//! without the shards being handed to another core, and [`take_page`], the
//! page cut that SCAN and a migration's SCAN ([`crate::storage::migration`])
//! share. Reads only: it never changes a shard.

use super::Keyspace;
use crate::storage::entry::Entry;
use crate::storage::glob::glob_match;
use crate::storage::hash::key_hash;
use crate::storage::ops::{CoreOp, OpResult};
use crate::storage::staircase::scan_pos;
use bytes::Bytes;
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

    /// SCAN from position `cursor`: see [`CoreOp::Scan`]. Stateless: every call
    /// recomputes positions from the keys, so a cursor survives splits.
    pub(super) fn scan(
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
            let (next, cut) = match take_page(&mut cands, want) {
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
}
