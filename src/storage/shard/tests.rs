//! Unit tests of the shard, kept beside its file so that the file itself holds one purpose.

use super::*;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

fn th(key: &[u8]) -> u64 {
    hashes(key).1
}

fn put(s: &mut Shard, key: &[u8], value: &[u8], dl: Option<u64>) -> Option<Entry> {
    s.insert(th(key), Entry::new(key, value, dl))
}

#[test]
fn table_slack_is_what_a_shrink_gives_back() {
    let empty = Shard::new();
    // Nothing allocated, nothing counted.
    assert_eq!((empty.footprint(), empty.table_slack()), (0, 0));
    for n in [1usize, 3, 4, 7, 8, 13, 100, 1000, 5000] {
        let mut s = Shard::new();
        for i in 0..n {
            put(&mut s, format!("k{i}").as_bytes(), b"v", None);
        }
        s.table.shrink_to(n, thash_of);
        assert_eq!(s.num_buckets(), buckets_for(n), "{n} entries");
        assert_eq!(s.table_slack(), 0, "{n} entries");
    }
    let mut s = Shard::new();
    for i in 0..10_000u32 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
    }
    for i in 100..10_000u32 {
        let k = format!("k{i}");
        s.remove(th(k.as_bytes()), k.as_bytes());
    }
    let before = s.footprint();
    let slack = s.table_slack();
    assert!(slack > 0);
    s.compact();
    assert_eq!(before - s.footprint(), slack);
}

#[test]
fn compact_gives_back_space_and_keeps_entries() {
    let mut s = Shard::new();
    for i in 0..10_000u32 {
        put(
            &mut s,
            format!("k{i}").as_bytes(),
            b"v",
            Some(1_000_000 + u64::from(i)),
        );
    }
    let (cap, heap_cap) = (s.table.capacity(), s.heap.capacity());
    for i in 10..10_000u32 {
        let k = format!("k{i}");
        s.remove(th(k.as_bytes()), k.as_bytes());
    }
    let layout = s.layout;
    s.compact();
    assert!(
        s.table.capacity() < cap / 8,
        "{} of {cap}",
        s.table.capacity()
    );
    assert!(s.layout > layout, "a rehash must restart bucket walks");
    check_invariants(&s);
    assert!(s.heap.capacity() < heap_cap / 8, "stale deadlines dropped");
    for i in 0..10u32 {
        let k = format!("k{i}");
        assert!(s.contains(th(k.as_bytes()), k.as_bytes()));
    }
    // The live deadlines survived the shrink.
    let mut out = Vec::new();
    s.expire_due(2_000_000, usize::MAX, &mut out, &|_| false);
    assert_eq!(out.len(), 10);
    assert_eq!(s.len(), 0);
}

/// `bytes` and `ttl_keys` equal what the entries say, and the heap is bounded.
fn check_invariants(s: &Shard) {
    let bytes: usize = s.iter().map(|e| e.mem_size()).sum();
    let ttl = s.iter().filter(|e| e.deadline().is_some()).count();
    assert_eq!(s.bytes(), bytes);
    assert_eq!(s.ttl_keys(), ttl);
    assert_eq!(s.iter().count(), s.len());
    assert!(s.heap_len() <= 2 * s.ttl_keys() + HEAP_SLACK + 1);
    // Every TTL entry has a heap item.
    for e in s.iter() {
        if let Some(d) = e.deadline() {
            assert!(s.heap.iter().any(|r| r.0 == (d, th(e.key()))));
        }
    }
    // S3-FIFO's counts are the entries in each queue, and every entry has an item.
    if let Some(f) = &s.fifo {
        let main = s.iter().filter(|e| e.in_main()).count();
        assert_eq!((f.small_len, f.main_len), (s.len() - main, main));
        for e in s.iter() {
            let q = if e.in_main() { &f.main } else { &f.small };
            assert!(q.contains(&th(e.key())), "{e:?} is in no queue");
        }
    }
}

/// A shard a split or migration has nearly emptied holds far more stale
/// queue items than entries: eviction still finds the entries left.
#[test]
fn s3fifo_evicts_from_a_shard_walked_nearly_empty() {
    std::thread::spawn(|| {
        policy::set_access(Access::S3Fifo);
        let mut s = Shard::new();
        for i in 0..5000 {
            put(&mut s, format!("k{i}").as_bytes(), b"v", None);
        }
        // Take all but ten out by bucket, as a split or migration does
        // (nothing is inserted afterwards): the newest ten stay, behind
        // the stale items of all the others.
        let stay: Vec<Vec<u8>> = (4990..5000).map(|i| format!("k{i}").into_bytes()).collect();
        let mut walk = Walk::new(&s);
        s.take_walking(
            &mut walk,
            usize::MAX,
            |e| !stay.iter().any(|k| k == e.key()),
            |_| true,
        );
        let mut left = s.len();
        assert_eq!(left, 10);
        check_invariants(&s);
        while left > 0 {
            assert!(
                s.evict_s3fifo(&|_| false).is_some(),
                "{left} entries left unevicted"
            );
            left -= 1;
        }
        assert!(s.evict_s3fifo(&|_| false).is_none());
        check_invariants(&s);
    })
    .join()
    .unwrap();
}

/// `prefetch_slots` computes table addresses from hashbrown's layout: slot
/// `i` sits `(i + 1)` slots below the control bytes. If a hashbrown
/// update changed that, prefetches would go to the wrong lines (harmless
/// but useless): this says so.
#[test]
fn prefetch_addresses_match_hashbrowns_layout() {
    let mut s = Shard::new();
    for i in 0..3000u32 {
        let k = format!("key:{i}");
        put(&mut s, k.as_bytes(), b"v", None);
    }
    let ctrl = s.ctrl_addr().expect("an occupied slot");
    let mut seen = 0;
    for i in 0..s.table.num_buckets() {
        if let Some(e) = s.table.get_bucket(i) {
            let addr = e as *const Entry as usize;
            assert_eq!(
                addr + (i + 1) * std::mem::size_of::<Entry>(),
                ctrl,
                "slot {i}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 3000);
    // Prefetching reads nothing and changes nothing.
    for i in 0..3000u32 {
        let k = format!("key:{i}");
        s.prefetch_slots(th(k.as_bytes()));
        s.prefetch_entry(th(k.as_bytes()));
    }
    s.prefetch_slots(th(b"absent"));
    s.prefetch_entry(th(b"absent"));
    assert_eq!(s.len(), 3000);
    assert!(s.get(th(b"key:7"), b"key:7", 0).is_some());
    // After a resize the cached address is learnt again.
    for i in 3000..20_000u32 {
        let k = format!("key:{i}");
        put(&mut s, k.as_bytes(), b"v", None);
    }
    let moved = s.ctrl_addr().expect("an occupied slot");
    let i = (0..s.table.num_buckets())
        .find(|&i| s.table.get_bucket(i).is_some())
        .expect("occupied");
    let e = s.table.get_bucket(i).expect("occupied");
    assert_eq!(
        e as *const Entry as usize + (i + 1) * std::mem::size_of::<Entry>(),
        moved
    );
}

#[test]
fn insert_get_remove() {
    let mut s = Shard::new();
    assert!(s.is_empty());
    assert!(put(&mut s, b"a", b"1", None).is_none());
    assert!(put(&mut s, b"b", b"2", Some(100)).is_none());
    assert_eq!(s.len(), 2);
    assert_eq!(
        s.get(th(b"a"), b"a", 0).map(|e| e.value().to_vec()),
        Some(b"1".to_vec())
    );
    assert_eq!(
        s.get(th(b"b"), b"b", 99).map(|e| e.value().to_vec()),
        Some(b"2".to_vec())
    );
    assert!(s.get(th(b"c"), b"c", 0).is_none());
    let old = put(&mut s, b"a", b"11", Some(5)).map(|e| e.value().to_vec());
    assert_eq!(old, Some(b"1".to_vec()));
    check_invariants(&s);
    // Expired on access: removed.
    assert!(s.get(th(b"b"), b"b", 100).is_none());
    assert_eq!(s.len(), 1);
    assert!(!s.contains(th(b"b"), b"b"));
    check_invariants(&s);
    assert!(s.remove(th(b"a"), b"a").is_some());
    assert!(s.remove(th(b"a"), b"a").is_none());
    assert!(s.is_empty());
    check_invariants(&s);
    assert_eq!(s.bytes(), 0);
}

#[test]
fn insert_returns_expired_previous() {
    let mut s = Shard::new();
    put(&mut s, b"k", b"old", Some(10));
    let old = put(&mut s, b"k", b"new", None);
    assert_eq!(old.map(|e| e.deadline()), Some(Some(10)));
    check_invariants(&s);
}

#[test]
fn update_accounting_and_heap() {
    let mut s = Shard::new();
    put(&mut s, b"k", b"v", None);
    let r = s.update(th(b"k"), b"k", 0, |e| {
        e.set_value(b"longer");
        e.set_deadline(Some(50));
        7
    });
    assert_eq!(r, Some(7));
    check_invariants(&s);
    assert_eq!(s.next_deadline(), Some(50));
    s.update(th(b"k"), b"k", 0, |e| e.set_deadline(None));
    check_invariants(&s);
    assert_eq!(s.next_deadline(), None);
    assert!(s.update(th(b"x"), b"x", 0, |_| ()).is_none());
    // Expired entries are removed by update.
    s.update(th(b"k"), b"k", 0, |e| e.set_deadline(Some(10)));
    assert!(s.update(th(b"k"), b"k", 10, |_| ()).is_none());
    assert!(s.is_empty());
    check_invariants(&s);
}

#[test]
fn eviction_passes_over_held_keys() {
    let mut s = Shard::new();
    for i in 0..50 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
    }
    let held = |k: &[u8]| k == b"k7" || k == b"k31";
    let mut gone = Vec::new();
    while let Some(e) = s.evict_s3fifo(&held) {
        gone.push(e.key().to_vec());
    }
    assert_eq!(gone.len(), 48, "every key but the held ones");
    assert!(!gone.iter().any(|k| held(k)));
    assert_eq!(s.len(), 2);
    assert!(s.take_random(3, false, &held).is_none());
    assert!(s.take_random(3, false, &|_| false).is_some());
    check_invariants(&s);
}

#[test]
fn expiry_keeps_held_keys_due_for_a_later_pass() {
    let mut s = Shard::new();
    for k in [&b"a"[..], b"b", b"c"] {
        put(&mut s, k, b"v", Some(1000));
    }
    let mut out = Vec::new();
    let held = |k: &[u8]| k == b"b";
    assert_eq!(s.expire_due(2000, 100, &mut out, &held), 2);
    assert!(!out.contains(&Bytes::from("b")));
    assert_eq!(s.next_deadline(), Some(1000), "b is still due");
    out.clear();
    assert_eq!(s.expire_due(2000, 100, &mut out, &|_| false), 1);
    assert_eq!(out, vec![Bytes::from("b")]);
    check_invariants(&s);
}

#[test]
fn expiry_through_heap() {
    let mut s = Shard::new();
    for i in 0..100u64 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", Some(1000 + i));
    }
    put(&mut s, b"forever", b"v", None);
    // k0's deadline moved later, k1 persisted, k2 deleted: their first items are stale.
    s.update(th(b"k0"), b"k0", 0, |e| e.set_deadline(Some(5000)));
    s.update(th(b"k1"), b"k1", 0, |e| e.set_deadline(None));
    s.remove(th(b"k2"), b"k2");
    assert_eq!(s.next_deadline(), Some(1003));
    let mut out = Vec::new();
    assert_eq!(s.expire_due(999, 100, &mut out, &|_| false), 0);
    assert_eq!(s.expire_due(1010, 3, &mut out, &|_| false), 3);
    assert_eq!(
        out,
        vec![Bytes::from("k3"), Bytes::from("k4"), Bytes::from("k5")]
    );
    assert_eq!(s.expire_due(1010, 100, &mut out, &|_| false), 5);
    check_invariants(&s);
    out.clear();
    assert_eq!(s.expire_due(u64::MAX - 1, 1000, &mut out, &|_| false), 90);
    assert!(out.contains(&Bytes::from("k0")));
    assert_eq!(s.len(), 2); // k1 and forever
    assert_eq!(s.next_deadline(), None);
    assert_eq!(s.heap_len(), 0);
    check_invariants(&s);
}

#[test]
fn same_deadline_many_keys() {
    let mut s = Shard::new();
    for i in 0..50 {
        put(&mut s, format!("{{tag}}{i}").as_bytes(), b"v", Some(7));
    }
    let mut out = Vec::new();
    assert_eq!(s.expire_due(7, usize::MAX, &mut out, &|_| false), 50);
    out.sort();
    out.dedup();
    assert_eq!(out.len(), 50);
    assert!(s.is_empty());
    check_invariants(&s);
}

#[test]
fn heap_is_compacted() {
    let mut s = Shard::new();
    put(&mut s, b"k", b"v", Some(1));
    for d in 2..10_000u64 {
        s.update(th(b"k"), b"k", 0, |e| e.set_deadline(Some(d)));
        assert!(s.heap_len() <= 2 * s.ttl_keys() + HEAP_SLACK + 1);
    }
    assert_eq!(s.next_deadline(), Some(9_999));
}

#[test]
fn buckets_and_take_at() {
    let mut s = Shard::new();
    for i in 0..1000 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
    }
    let n = s.num_buckets();
    assert!(n >= 1000);
    assert!(s.entry_at(n).is_none());
    let full = (0..n).filter(|&i| s.entry_at(i).is_some()).count();
    assert_eq!(full, 1000);
    let layout = s.layout_epoch();
    let mut taken = 0;
    for i in 0..n {
        if s.take_at(i, |e| e.key().ends_with(b"7"))
            .is_some_and(|e| e.key().ends_with(b"7"))
        {
            taken += 1;
        }
    }
    assert_eq!(taken, 100);
    assert_eq!(s.len(), 900);
    assert_eq!(s.layout_epoch(), layout);
    assert!(s.take_at(n + 5, |_| true).is_none());
    check_invariants(&s);
    s.clear();
    assert!(s.is_empty());
    assert_ne!(s.layout_epoch(), layout);
    check_invariants(&s);
}

#[test]
fn layout_epoch_changes_on_growth() {
    let mut s = Shard::new();
    let mut last = s.layout_epoch();
    let mut buckets = s.num_buckets();
    for i in 0..5000 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
        // A resize of an empty table moves nothing and calls no hasher.
        if s.num_buckets() != buckets && i > 0 {
            assert_ne!(s.layout_epoch(), last);
        }
        buckets = s.num_buckets();
        last = s.layout_epoch();
    }
}

/// Churn at a steady size leaves tombstones until an insert rehashes the table
/// in place: same bucket count, entries moved — the layout epoch must say so.
#[test]
fn layout_epoch_changes_on_rehash_in_place() {
    let mut s = Shard::new();
    for i in 0..200 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
    }
    // Down to under half the capacity, so growth rehashes in place instead of resizing.
    for i in 0..100 {
        let key = format!("k{i}");
        s.remove(th(key.as_bytes()), key.as_bytes());
    }
    let buckets = s.num_buckets();
    let mut in_place = 0;
    for i in 100..3000 {
        // Remove the oldest, add a new one: the size stays put, tombstones pile up.
        let victim = format!("k{i}");
        s.remove(th(victim.as_bytes()), victim.as_bytes());
        let before = s.layout_epoch();
        put(&mut s, format!("k{}", i + 100).as_bytes(), b"v", None);
        if s.layout_epoch() != before && s.num_buckets() == buckets {
            in_place += 1;
        }
    }
    assert_eq!(s.num_buckets(), buckets);
    assert!(in_place > 0, "no in-place rehash seen");
    check_invariants(&s);
}

/// Random operations against a model: accounting stays exact throughout.
#[test]
fn randomized_invariants() {
    randomized(false);
    // Again with S3-FIFO's queues kept and evictions among the operations
    // (a thread of its own: the policy's access mode is per thread).
    std::thread::spawn(|| randomized(true)).join().unwrap();
}

fn randomized(s3fifo: bool) {
    if s3fifo {
        policy::set_access(Access::S3Fifo);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut s = Shard::new();
    let mut model: HashMap<Vec<u8>, (Vec<u8>, Option<u64>)> = HashMap::new();
    let mut now = 1000u64;
    let mut expired = Vec::new();
    let base = memory::used();
    for step in 0..30_000 {
        let key = format!("k{}", rng.gen_range(0..300)).into_bytes();
        let h = th(&key);
        let dl = match rng.gen_range(0..3) {
            0 => None,
            _ => Some(now + rng.gen_range(0..200)),
        };
        let value = vec![b'x'; rng.gen_range(0..40)];
        match rng.gen_range(0..9) {
            0 | 1 => {
                s.insert(h, Entry::new(&key, &value, dl));
                model.insert(key, (value, dl));
            }
            2 => {
                let got = s.remove(h, &key).is_some();
                assert_eq!(got, model.remove(&key).is_some());
            }
            3 => {
                let live = s.get(h, &key, now).map(|e| e.value().to_vec());
                let want = match model.get(&key) {
                    Some((v, d)) if d.is_none_or(|d| d > now) => Some(v.clone()),
                    Some(_) => {
                        model.remove(&key);
                        None
                    }
                    None => None,
                };
                assert_eq!(live, want);
            }
            4 | 5 => {
                let r = s.update(h, &key, now, |e| {
                    e.set_deadline(dl);
                    e.set_value(&value);
                });
                match model.get(&key) {
                    Some((_, d)) if d.is_none_or(|d| d > now) => {
                        assert!(r.is_some());
                        model.insert(key, (value, dl));
                    }
                    Some(_) => {
                        assert!(r.is_none());
                        model.remove(&key);
                    }
                    None => assert!(r.is_none()),
                }
            }
            6 => {
                let i = rng.gen_range(0..s.num_buckets().max(1));
                if let Some(e) = s.take_at(i, |e| e.value().len() % 2 == 0) {
                    model.remove(e.key());
                }
            }
            7 if s3fifo && rng.gen_bool(0.3) => {
                if let Some(e) = s.evict_s3fifo(&|_| false) {
                    model.remove(e.key()).expect("evicted key was present");
                }
            }
            7 => {
                expired.clear();
                let n = s.expire_due(now, rng.gen_range(0..20), &mut expired, &|_| false);
                assert_eq!(n, expired.len());
                for k in &expired {
                    let (_, d) = model.remove(&k[..]).expect("expired key was present");
                    assert!(d.is_some_and(|d| d <= now));
                }
            }
            _ => {
                now += rng.gen_range(0..30);
                if let Some(d) = s.next_deadline() {
                    let min = model.values().filter_map(|(_, d)| *d).min();
                    assert_eq!(Some(d), min);
                } else {
                    assert!(model.values().all(|(_, d)| d.is_none()));
                }
            }
        }
        if step % 5000 == 4999 && rng.gen_bool(0.3) {
            s.clear();
            model.clear();
        }
        assert_eq!(s.len(), model.len());
        if step % 97 == 0 {
            check_invariants(&s);
            assert_eq!(
                memory::used() - base,
                s.footprint(),
                "core figure follows the shard"
            );
        }
    }
    check_invariants(&s);
    expired.clear();
    let n = s.expire_due(u64::MAX, usize::MAX, &mut expired, &|_| false);
    assert_eq!(n, model.values().filter(|(_, d)| d.is_some()).count());
    check_invariants(&s);
}

/// Growth and in-place rehashes are done by hand (`Shard::rebuild`, which
/// starts entries loading ahead of the walk): every entry survives both, the
/// table doubles as hashbrown would, and churn at a steady size never grows it.
#[test]
fn rebuilds_by_hand_keep_every_entry_and_hashbrowns_sizes() {
    let mut s = Shard::new();
    for i in 0..5000u32 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
        assert_eq!(s.num_buckets(), buckets_for(i as usize + 1).max(4), "{i}");
    }
    let buckets = s.num_buckets();
    let mut live: std::collections::VecDeque<u32> = (0..5000).collect();
    for i in 5000..40_000u32 {
        let victim = live.pop_front().expect("live key");
        let k = format!("k{victim}");
        assert!(s.remove(th(k.as_bytes()), k.as_bytes()).is_some());
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
        live.push_back(i);
    }
    assert!(s.num_buckets() <= 2 * buckets, "churn grew the table");
    for i in &live {
        let k = format!("k{i}");
        assert!(
            s.get(th(k.as_bytes()), k.as_bytes(), 0).is_some(),
            "{k} lost"
        );
    }
    let k = b"k0";
    assert!(s.get(th(k), k, 0).is_none());
    assert_eq!(s.len(), 5000);
}

/// Stale heap items count against a pass: a heap left mostly stale (by a
/// split's moves or deletes) cannot make one call pop without end.
#[test]
fn expire_due_pops_a_bounded_number_of_stale_items() {
    let mut s = Shard::new();
    for i in 0..1000u64 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", Some(1 + i));
    }
    for i in 0..1000u64 {
        if i % 100 != 99 {
            let k = format!("k{i}");
            s.remove(th(k.as_bytes()), k.as_bytes());
        }
    }
    let before = s.heap_len();
    let mut out = Vec::new();
    let n = s.expire_due(u64::MAX, 5, &mut out, &|_| false);
    assert!(n < 5, "found {n} among the stale items");
    assert!(
        before - s.heap_len() <= 5 * STALE_POPS,
        "popped {}",
        before - s.heap_len()
    );
    let mut calls = 0;
    while out.len() < 10 {
        s.expire_due(u64::MAX, 5, &mut out, &|_| false);
        calls += 1;
        assert!(calls < 1000, "the live keys were never reached");
    }
    assert!(s.is_empty());
}

/// The walk by bucket (which starts entries loading ahead) yields every
/// entry once: in an empty table, a full one, and one that removals left
/// sparse, where most buckets ahead are empty.
#[test]
fn iter_yields_every_entry_once() {
    let mut s = Shard::new();
    assert_eq!(s.iter().count(), 0);
    for i in 0..5_000u32 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
    }
    let keys = |s: &Shard| {
        let mut k: Vec<Vec<u8>> = s.iter().map(|e| e.key().to_vec()).collect();
        k.sort();
        k
    };
    let mut want: Vec<Vec<u8>> = (0..5_000u32)
        .map(|i| format!("k{i}").into_bytes())
        .collect();
    want.sort();
    assert_eq!(keys(&s), want);
    for i in (0..5_000u32).filter(|i| !i.is_multiple_of(97)) {
        let k = format!("k{i}");
        s.remove(th(k.as_bytes()), k.as_bytes());
    }
    want.retain(|k| {
        let i: u32 = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
        i.is_multiple_of(97)
    });
    assert_eq!(keys(&s), want);
}

/// A new value for a key already in a full table replaces it in its bucket:
/// the table neither grows nor moves entries (a capture's walk stopped
/// partway relies on it), and the next new key grows it.
#[test]
fn overwriting_in_a_full_table_moves_nothing() {
    let mut s = Shard::new();
    let mut i = 0;
    while !s.is_full() || s.len() < 100 {
        put(&mut s, format!("k{i}").as_bytes(), b"v", None);
        i += 1;
    }
    let (layout, buckets) = (s.layout_epoch(), s.num_buckets());
    let at = s.bucket_of(th(b"k7"), b"k7");
    for j in 0..i {
        put(&mut s, format!("k{j}").as_bytes(), b"new", None);
    }
    assert_eq!((s.layout_epoch(), s.num_buckets()), (layout, buckets));
    assert_eq!(s.bucket_of(th(b"k7"), b"k7"), at);
    assert!(s.is_full());
    put(&mut s, b"one-more", b"v", None);
    assert_ne!(s.layout_epoch(), layout);
    assert_eq!(s.len(), i + 1);
}
