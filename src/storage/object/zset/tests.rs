//! Both encodings against a plain model — a `BTreeMap` of member → score,
//! sorted by (score, member) when asked — through random ZADD (every flag),
//! ZREM, pops, range removals and every read, with small limits so that
//! sets cross from packed to big and back (a whole rebuild) often; the
//! encoding each step should leave, and the tree's invariants, are checked
//! after every step.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The model's elements in the set's order.
fn sorted(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|(a, sa), (b, sb)| order(*sa, a, *sb, b));
    v
}

fn elements(z: &Zset) -> Vec<(Vec<u8>, f64)> {
    let mut v = Vec::new();
    z.as_ref().for_each(|s, m| v.push((m.to_vec(), s)));
    v
}

fn check(z: &Zset, model: &BTreeMap<Vec<u8>, f64>, lim: &Limits, was_big: bool) {
    let want = sorted(model);
    assert_eq!(elements(z), want);
    let r = z.as_ref();
    assert_eq!(r.len(), want.len());
    match z {
        Zset::Big(b) => {
            b.tree().check();
            assert_eq!(b.index().len(), want.len());
        }
        Zset::Packed(p) => {
            assert!(!was_big, "a big set went back to packed");
            assert!(want.len() <= lim.zset_entries);
            assert!(want.iter().all(|(m, _)| m.len() <= lim.zset_value));
            assert_eq!(packed::valid_len(p), p.len());
        }
    }
    for (i, (m, s)) in want.iter().enumerate() {
        assert_eq!(r.score(m), Some(*s));
        assert_eq!(r.rank(m), Some((i, *s)));
        let (gs, gm) = r.get(i).expect("rank in range");
        assert_eq!((gs, &gm[..]), (*s, &m[..]));
    }
}

#[derive(Clone, Debug)]
enum Step {
    Add(Vec<(u8, i8)>, AddFlags),
    Rem(Vec<u8>),
    Pop(bool, u8),
    RemRank(i8, i8),
    RemScore(i8, i8, bool, bool),
    RemLex(u8, u8, bool, bool),
    Read(i8, i8, bool, u8, u8),
}

/// A member: short, or past the inline 15 bytes, or past the packed limit.
fn member(i: u8) -> Vec<u8> {
    match i % 8 {
        0 => format!("a-long-member-held-on-the-heap-{i}").into_bytes(),
        _ => format!("m{:02}", i % 40).into_bytes(),
    }
}

fn score_of(k: i8) -> f64 {
    match k {
        i8::MIN => f64::NEG_INFINITY,
        i8::MAX => f64::INFINITY,
        k if k % 5 == 0 => f64::from(k) / 4.0,
        k => f64::from(k % 7),
    }
}

fn flags() -> impl Strategy<Value = AddFlags> {
    (0u8..10, any::<bool>(), any::<bool>()).prop_map(|(which, ch, incr)| {
        let mut f = AddFlags {
            incr,
            ..AddFlags::default()
        };
        let _ = ch;
        match which {
            0 => f.nx = true,
            1 => f.xx = true,
            2 => f.gt = true,
            3 => f.lt = true,
            4 => {
                f.xx = true;
                f.gt = true
            }
            _ => {}
        }
        f
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (prop::collection::vec((any::<u8>(), any::<i8>()), 1..12), flags())
            .prop_map(|(p, f)| Step::Add(p, f)),
        2 => any::<u8>().prop_map(|i| Step::Rem(member(i))),
        1 => (any::<bool>(), 0u8..20).prop_map(|(m, n)| Step::Pop(m, n)),
        1 => (any::<i8>(), any::<i8>()).prop_map(|(a, b)| Step::RemRank(a, b)),
        1 => (any::<i8>(), any::<i8>(), any::<bool>(), any::<bool>())
            .prop_map(|(a, b, x, y)| Step::RemScore(a, b, x, y)),
        1 => (any::<u8>(), any::<u8>(), any::<bool>(), any::<bool>())
            .prop_map(|(a, b, x, y)| Step::RemLex(a, b, x, y)),
        3 => (any::<i8>(), any::<i8>(), any::<bool>(), any::<u8>(), 0u8..30)
            .prop_map(|(a, b, r, o, c)| Step::Read(a, b, r, o, c)),
    ]
}

fn lex_bound(i: u8, ex: bool) -> LexBound {
    match i % 20 {
        0 => LexBound::NegInf,
        1 => LexBound::PosInf,
        _ => {
            let b = Bytes::from(member(i));
            if ex {
                LexBound::Excl(b)
            } else {
                LexBound::Incl(b)
            }
        }
    }
}

/// The model's reading of a range: the (forward) places it covers.
fn model_span(want: &[(Vec<u8>, f64)], range: &ZRange, rev: bool) -> Vec<usize> {
    let n = want.len();
    match range {
        ZRange::Rank { start, stop } => match clamp(*start, *stop, n) {
            None => Vec::new(),
            Some((a, b)) if rev => (n - 1 - b..n - a).collect(),
            Some((a, b)) => (a..=b).collect(),
        },
        ZRange::Score(r) => (0..n)
            .filter(|&i| !r.below(want[i].1) && r.within_max(want[i].1))
            .collect(),
        ZRange::Lex(r) => (0..n)
            .filter(|&i| !r.below(&want[i].0) && r.within_max(&want[i].0))
            .collect(),
    }
}

fn run(steps: Vec<Step>, lim: Limits, flat: bool) {
    // With `flat`, every score is 0: lex ranges are defined only then.
    let score_of = |k: i8| if flat { 0.0 } else { score_of(k) };
    let mut z = Zset::default();
    let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
    let mut was_big = false;
    for st in steps {
        match st {
            Step::Add(pairs, f) => {
                let pairs = if f.incr { &pairs[..1] } else { &pairs[..] };
                for &(i, k) in pairs {
                    let (m, s) = (member(i), score_of(k));
                    let cur = model.get(&m).copied();
                    let got = z.add(&m, s, f, &lim);
                    // The model: Redis's zsetAdd.
                    let want = match cur {
                        None if f.xx => Ok((Added::Skipped, normal(s))),
                        None => {
                            model.insert(m.clone(), normal(s));
                            Ok((Added::Added, normal(s)))
                        }
                        Some(c) if f.nx => Ok((Added::Skipped, c)),
                        Some(c) => {
                            let new = if f.incr { c + s } else { s };
                            if new.is_nan() {
                                Err(NanScore)
                            } else if (f.lt && new >= c) || (f.gt && new <= c) {
                                Ok((Added::Skipped, c))
                            } else if new == c {
                                Ok((Added::Same, c))
                            } else {
                                model.insert(m.clone(), normal(new));
                                Ok((Added::Updated, normal(new)))
                            }
                        }
                    };
                    assert_eq!(got, want, "{m:?} {s} {f:?}");
                }
            }
            Step::Rem(m) => assert_eq!(z.remove(&m), model.remove(&m).is_some()),
            Step::Pop(max, n) => {
                let mut want = sorted(&model);
                if max {
                    want.reverse();
                }
                want.truncate(usize::from(n));
                let got: Vec<(Vec<u8>, f64)> = z
                    .pop(max, usize::from(n))
                    .into_iter()
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                assert_eq!(got, want);
                for (m, _) in &want {
                    model.remove(m);
                }
            }
            Step::RemLex(..) if !flat => {}
            Step::RemRank(_, _) | Step::RemScore(..) | Step::RemLex(..) => {
                let range = match st {
                    Step::RemRank(a, b) => ZRange::Rank {
                        start: i64::from(a),
                        stop: i64::from(b),
                    },
                    Step::RemScore(a, b, x, y) => ZRange::Score(ScoreRange {
                        min: score_of(a),
                        min_ex: x,
                        max: score_of(b),
                        max_ex: y,
                    }),
                    Step::RemLex(a, b, x, y) => ZRange::Lex(LexRange {
                        min: lex_bound(a, x),
                        max: lex_bound(b, y),
                    }),
                    _ => unreachable!(),
                };
                let want = sorted(&model);
                let places = model_span(&want, &range, false);
                let got = match z.as_ref().span(&range, false) {
                    Some((a, b)) => {
                        assert_eq!((a..b).collect::<Vec<_>>(), places);
                        z.remove_ranks(a, b)
                    }
                    None => {
                        assert!(places.is_empty());
                        0
                    }
                };
                assert_eq!(got, places.len());
                for i in places {
                    model.remove(&want[i].0);
                }
            }
            Step::Read(a, b, rev, offset, count) => {
                let want = sorted(&model);
                let ranges = [
                    ZRange::Rank {
                        start: i64::from(a),
                        stop: i64::from(b),
                    },
                    ZRange::Score(ScoreRange {
                        min: score_of(a),
                        min_ex: offset % 2 == 0,
                        max: score_of(b),
                        max_ex: offset % 3 == 0,
                    }),
                    ZRange::Lex(LexRange {
                        min: lex_bound(a as u8, offset % 2 == 0),
                        max: lex_bound(b as u8, offset % 3 == 0),
                    }),
                ];
                for range in &ranges[..if flat { 3 } else { 2 }] {
                    let mut places = model_span(&want, range, rev);
                    if rev {
                        places.reverse();
                    }
                    let (off, cnt) = (usize::from(offset % 8), usize::from(count));
                    let cnt = (count < 25).then_some(cnt);
                    let expect: Vec<(Vec<u8>, f64)> = places
                        .iter()
                        .skip(off)
                        .take(cnt.unwrap_or(usize::MAX))
                        .map(|&i| want[i].clone())
                        .collect();
                    let got: Vec<(Vec<u8>, f64)> = z
                        .as_ref()
                        .range(range, rev, off, cnt)
                        .into_iter()
                        .map(|(m, s)| (m.to_vec(), s))
                        .collect();
                    assert_eq!(got, expect, "{range:?} rev {rev} {off} {cnt:?}");
                }
            }
        }
        was_big |= matches!(z, Zset::Big(_));
        if model.is_empty() {
            // The keyspace deletes an empty set; a new one starts packed.
            z = Zset::default();
            was_big = false;
        }
        check(&z, &model, &lim, was_big);
    }
    // A whole rebuild takes the encoding the size calls for.
    let pairs: Vec<(Vec<u8>, f64)> = elements(&z);
    let rebuilt = Zset::from_pairs(pairs.clone(), &lim);
    assert_eq!(elements(&rebuilt), pairs);
    let fits =
        pairs.len() <= lim.zset_entries && pairs.iter().all(|(m, _)| m.len() <= lim.zset_value);
    assert_eq!(matches!(rebuilt, Zset::Packed(_)), fits);
    let mut loaded = Zset::default();
    for (m, s) in pairs.iter().rev() {
        assert!(loaded.load(*s, m));
    }
    assert!(pairs.first().is_none_or(|(m, s)| !loaded.load(*s, m)));
    loaded.loaded(&lim);
    assert_eq!(elements(&loaded), pairs);
    assert_eq!(matches!(loaded, Zset::Packed(_)), fits);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn encodings_agree_with_the_model(steps in prop::collection::vec(step(), 1..120)) {
        let lim = Limits {
            zset_entries: 12,
            zset_value: 20,
            ..Limits::default()
        };
        run(steps.clone(), lim, false);
        run(steps, lim, true);
    }

    #[test]
    fn big_sets_agree_with_the_model(steps in prop::collection::vec(step(), 1..120)) {
        // Packed never: every set is big from its first member.
        let lim = Limits {
            zset_entries: 0,
            ..Limits::default()
        };
        run(steps.clone(), lim, false);
        run(steps, lim, true);
    }
}

/// The B+ tree through many splits and merges: thousands of members in
/// order, in reverse and at random, removed at random and by rank, the
/// invariants checked along the way.
#[test]
fn the_tree_stays_whole_through_splits_and_merges() {
    let lim = Limits {
        zset_entries: 0,
        ..Limits::default()
    };
    let mut z = Zset::default();
    let mut model = BTreeMap::new();
    let n = 20_000u32;
    for i in 0..n {
        let m = format!("k{i:06}").into_bytes();
        let s = f64::from(i);
        z.add(&m, s, AddFlags::default(), &lim).expect("not NaN");
        model.insert(m, s);
    }
    for i in 0..n {
        let m = format!("r{i:06}").into_bytes();
        let s = -f64::from(i);
        z.add(&m, s, AddFlags::default(), &lim).expect("not NaN");
        model.insert(m, s);
    }
    let Zset::Big(b) = &z else { panic!("big") };
    b.tree().check();
    let mut r = 0x1234_5678_9abc_def1u64;
    for round in 0..30_000 {
        crate::storage::xorshift64(&mut r);
        let len = z.as_ref().len();
        if round % 3 == 0 && len > 0 {
            let at = (r % len as u64) as usize;
            let (_, m) = z.as_ref().get(at).expect("in range");
            let m = m.into_owned();
            assert!(z.remove(&m));
            model.remove(&m);
        } else if round % 3 == 1 {
            let m = format!("x{}", r % 5000).into_bytes();
            let s = ((r >> 16) % 1000) as f64;
            z.add(&m, s, AddFlags::default(), &lim).expect("not NaN");
            model.insert(m, s);
        } else {
            let got = z.pop(round % 2 == 0, 3);
            for (m, _) in got {
                model.remove(&m[..]);
            }
        }
        if round % 1000 == 0 {
            let Zset::Big(b) = &z else { panic!("big") };
            b.tree().check();
            assert_eq!(elements(&z), sorted(&model));
        }
    }
    // Down to nothing by ranges: the root shrinks back to one leaf.
    while !z.as_ref().is_empty() {
        let len = z.as_ref().len();
        z.remove_ranks(len / 3, len / 3 + 1000);
        let Zset::Big(b) = &z else { panic!("big") };
        b.tree().check();
    }
    let Zset::Big(b) = &z else { panic!("big") };
    assert!(b.is_empty());
    assert_eq!(b.tree().mem_size(), tree::Tree::default().mem_size());
}

#[test]
fn limits_convert_at_their_exact_thresholds() {
    let lim = Limits::default();
    let mut z = Zset::default();
    for i in 0..128 {
        z.add(
            format!("m{i}").as_bytes(),
            f64::from(i),
            AddFlags::default(),
            &lim,
        )
        .expect("not NaN");
    }
    assert_eq!(z.as_ref().encoding(), "listpack");
    z.add(b"m129", 1.0, AddFlags::default(), &lim)
        .expect("not NaN");
    assert_eq!(z.as_ref().encoding(), "btree");
    let mut z = Zset::default();
    z.add(&[b'v'; 64], 1.0, AddFlags::default(), &lim)
        .expect("not NaN");
    assert_eq!(z.as_ref().encoding(), "listpack");
    z.add(&[b'v'; 65], 1.0, AddFlags::default(), &lim)
        .expect("not NaN");
    assert_eq!(z.as_ref().encoding(), "btree");
    // -0 is kept as 0, and +inf plus -inf is refused.
    let mut z = Zset::default();
    z.add(b"a", -0.0, AddFlags::default(), &lim)
        .expect("not NaN");
    assert_eq!(
        z.as_ref().score(b"a").map(f64::to_bits),
        Some(0.0f64.to_bits())
    );
    z.add(b"i", f64::INFINITY, AddFlags::default(), &lim)
        .expect("not NaN");
    let incr = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    assert_eq!(z.add(b"i", f64::NEG_INFINITY, incr, &lim), Err(NanScore));
    assert_eq!(z.as_ref().score(b"i"), Some(f64::INFINITY));
}
