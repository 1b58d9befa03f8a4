//! The stepwise resize against a plain model: every element findable and
//! counted at every step, no write moving more than `MOVES` elements, and a
//! bucket walk that misses nothing while the table grows under it.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

/// Short names live inline in a member, long ones on the heap: both kinds,
/// so the heap accounting is exercised.
fn name(i: u32) -> Vec<u8> {
    if i.is_multiple_of(3) {
        format!("a-long-member-name-{i:08}").into_bytes()
    } else {
        format!("m{i}").into_bytes()
    }
}

fn old_len(t: &Table<Member>) -> usize {
    t.old.as_ref().map_or(0, |o| o.table.len())
}

/// Length, lookups, iteration and byte accounting all agree with `model`.
fn check(t: &Table<Member>, model: &HashMap<Vec<u8>, ()>) {
    assert_eq!(t.len(), model.len());
    for k in model.keys() {
        assert_eq!(t.get(k).map(|m| &**m), Some(&k[..]), "missing {k:?}");
    }
    let mut seen: Vec<&[u8]> = t.iter().map(|m| &**m).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), model.len(), "iter repeats or misses elements");
    let heap: usize = t.iter().map(|m| m.heap_size()).sum();
    assert_eq!(t.heap, heap);
    let full = t.buckets().filter(|&i| t.at(i).is_some()).count();
    assert_eq!(full, model.len(), "bucket walk disagrees with len");
}

#[test]
fn growth_past_step_from_happens_in_small_steps() {
    let mut t: Table<Member> = Table::default();
    let mut model = HashMap::new();
    let mut resizes = 0;
    for i in 0..(STEP_FROM as u32 * 8) {
        let before = (t.resizing(), old_len(&t));
        assert!(t.insert(Member::new(&name(i))).is_none());
        model.insert(name(i), ());
        match (before, t.resizing()) {
            ((false, _), true) => {
                resizes += 1;
                assert!(t.len() > STEP_FROM, "small tables grow in one step");
            }
            ((true, was), _) => assert!(was - old_len(&t) <= MOVES, "moved too many"),
            _ => {}
        }
        if i.is_multiple_of(997) || t.resizing() != before.0 {
            check(&t, &model);
        }
    }
    assert!(resizes >= 2, "only {resizes} stepwise resizes");
    check(&t, &model);

    // And shrinking after removals, also in steps.
    for i in 0..(STEP_FROM as u32 * 7) {
        let was = (t.resizing(), old_len(&t));
        assert!(t.remove(&name(i)).is_some());
        model.remove(&name(i));
        t.maybe_shrink();
        if was.0 {
            // The moves, and the removed element itself if it was still old.
            assert!(was.1 - old_len(&t) <= MOVES + 1);
        }
    }
    while t.resizing() {
        t.remove(b"not there");
    }
    check(&t, &model);
    assert!(t.table.capacity() < STEP_FROM * 4, "did not shrink");
}

#[test]
fn a_bucket_walk_misses_nothing_while_the_table_grows_under_it() {
    let mut t: Table<Member> = Table::default();
    let first = STEP_FROM as u32 * 3;
    for i in 0..first {
        t.insert(Member::new(&name(i)));
    }
    // Walk a few buckets at a time, as SSCAN pages do, writing in between:
    // new elements (which trigger a resize and its moves) and removals of
    // only those, so every first element is present all along.
    let (mut i, mut layout, mut seen) = (0, t.layout(), HashMap::new());
    let mut next = first;
    let (mut restarts, mut resizes, mut was) = (0, 0, t.resizing());
    loop {
        if t.resizing() && !was {
            resizes += 1;
        }
        was = t.resizing();
        if t.layout() != layout {
            (i, layout) = (0, t.layout());
            restarts += 1;
        }
        i = i.max(t.buckets().start);
        for _ in 0..5 {
            if i >= t.buckets().end {
                break;
            }
            if let Some(m) = t.at(i) {
                seen.insert(m.to_vec(), ());
            }
            i += 1;
        }
        if i >= t.buckets().end {
            break;
        }
        // Fewer writes than buckets walked (as in any SCAN that ends: one
        // that walks slower than the table grows never catches its end).
        for _ in 0..3 {
            if next < first * 4 {
                t.insert(Member::new(&name(next)));
                next += 1;
            }
        }
        if (next / 3).is_multiple_of(2) {
            t.remove(&name(next - 2));
        }
    }
    assert_eq!(restarts, 0, "a stepwise resize made the walk start over");
    assert!(resizes >= 2, "only {resizes} resizes under the walk");
    assert_eq!(next, first * 4, "the walk ended before the writes did");
    for k in 0..first {
        assert!(seen.contains_key(&name(k)), "walk missed {k}");
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u32),
    Upsert(u32),
    Update(u32),
    Remove(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u32..12_000;
    prop_oneof![
        4 => k.clone().prop_map(Op::Insert),
        2 => k.clone().prop_map(Op::Upsert),
        1 => k.clone().prop_map(Op::Update),
        3 => k.prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn matches_a_model_through_resizes(ops in prop::collection::vec(op(), 20_000..40_000)) {
        let mut t: Table<Member> = Table::default();
        let mut model = HashMap::new();
        for (n, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert(k) => {
                    let had = t.insert(Member::new(&name(k))).is_some();
                    prop_assert_eq!(had, model.insert(name(k), ()).is_some());
                }
                Op::Upsert(k) => {
                    let made = t.upsert(&name(k), || Member::new(&name(k)), |_| {});
                    prop_assert_eq!(made, model.insert(name(k), ()).is_none());
                }
                Op::Update(k) => {
                    let found = t.update(&name(k), |m| m.len()).is_some();
                    prop_assert_eq!(found, model.contains_key(&name(k)));
                }
                Op::Remove(k) => {
                    let had = t.remove(&name(k)).is_some();
                    prop_assert_eq!(had, model.remove(&name(k)).is_some());
                    t.maybe_shrink();
                }
            }
            if n % 4999 == 0 {
                check(&t, &model);
            }
        }
        check(&t, &model);
    }
}

/// Prefetching, at every stage, for present and absent keys, with and
/// without a resize under way, reads nothing wrong and changes nothing.
#[test]
fn prefetching_changes_nothing() {
    let mut t: Table<Member> = Table::default();
    let mut model = HashMap::new();
    let mut resizing_seen = false;
    for i in 0..20_000u32 {
        let k = name(i);
        t.insert(Member::new(&k));
        model.insert(k, ());
        if i % 997 == 0 || t.resizing() {
            resizing_seen |= t.resizing();
            for probe in [name(i), name(i / 2), name(1_000_000 + i)] {
                let h = member_hash(&probe);
                for stage in [Stage::Group, Stage::Slots, Stage::Keys] {
                    t.prefetch(h, stage);
                }
            }
        }
    }
    assert!(resizing_seen, "no prefetch ran during a resize");
    check(&t, &model);
    Table::<Member>::default().prefetch(member_hash(b"x"), Stage::Slots);
}
