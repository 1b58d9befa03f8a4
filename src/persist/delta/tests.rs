use super::*;
use crate::persist::log::Cmd;
use crate::persist::replay::{change_of, Edit};
use crate::storage::object::ListLimit;
use crate::storage::ops::{BitsOp, ZsetOp};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The record `op` (with reply `r`, deadline after `deadline`) writes,
/// read back as the log reader does.
fn logged(op: KeyOp, r: OpResult, deadline: Option<u64>) -> Delta {
    logged_on(op, r, None, deadline)
}

/// As [`logged`], the op having left the key's value as `now`.
fn logged_on(op: KeyOp, r: OpResult, now: Option<&Object>, deadline: Option<u64>) -> Delta {
    assert!(loggable(&op), "{op:?}");
    let now = now.map(Object::as_ref);
    let change = with_record(b"k", &op, &r, now, deadline, |args| {
        change_of(Cmd::Args(args))
    })
    .expect("a record")
    .expect("reads back");
    assert_eq!(&change.key[..], b"k");
    match change.edit {
        Edit::Delta(d) => d,
        other => panic!("not a delta: {other:?}"),
    }
}

fn hash(pairs: &[(&str, &str)]) -> Object {
    let mut h = Hash::default();
    for (f, v) in pairs {
        h.set(f.as_bytes(), v.as_bytes(), &Limits::default());
    }
    Object::Hash(h)
}

fn set(members: &[&str]) -> Object {
    let lim = Limits::default();
    let mut s = Set::for_first(members[0].as_bytes(), &lim);
    for m in members {
        s.add(m.as_bytes(), &lim);
    }
    Object::Set(s)
}

fn obj(o: Object, d: Option<u64>) -> Option<(Stored, Option<u64>)> {
    Some((Stored::Obj(Box::new(o)), d))
}

fn string(v: &[u8], d: Option<u64>) -> Option<(Stored, Option<u64>)> {
    Some((Stored::Str(Bytes::copy_from_slice(v)), d))
}

#[test]
fn hash_changes_replay_to_what_the_core_held() {
    let base = obj(hash(&[("a", "1"), ("b", "2")]), Some(99));
    let deltas = [
        logged(
            KeyOp::OnHash(HashOp::Set {
                pairs: vec![(b("c"), b("3")), (b("a"), b("x")), (b("a"), b("y"))],
                nx: false,
            }),
            OpResult::Int(1),
            Some(99),
        ),
        logged(
            KeyOp::OnHash(HashOp::Del(vec![b("b"), b("nope")])),
            OpResult::Int(1),
            Some(99),
        ),
        // The reply is the new value: the record is absolute.
        logged(
            KeyOp::OnHash(HashOp::IncrBy(b("n"), 5)),
            OpResult::Int(12),
            Some(99),
        ),
        logged(
            KeyOp::OnHash(HashOp::IncrByFloat(
                b("f"),
                crate::storage::decimal::Decimal::zero(),
            )),
            OpResult::Bulk(b("1.5")),
            Some(99),
        ),
    ];
    let (state, misfits) = apply_all(base, deltas);
    assert_eq!(misfits, 0);
    assert_eq!(
        state,
        obj(
            hash(&[("a", "y"), ("c", "3"), ("n", "12"), ("f", "1.5")]),
            Some(99)
        )
    );
    // Deleting the last field deletes the key.
    let base = obj(hash(&[("a", "1")]), None);
    let del = logged(
        KeyOp::OnHash(HashOp::Del(vec![b("a")])),
        OpResult::Int(1),
        None,
    );
    assert_eq!(apply_all(base, [del]).0, None);
}

#[test]
fn set_changes_and_pops_replay_as_members() {
    let base = obj(set(&["1", "2", "3"]), None);
    let deltas = [
        logged(
            KeyOp::OnSet(SetOp::Add(vec![b("x"), b("4")])),
            OpResult::Int(2),
            None,
        ),
        logged(
            KeyOp::OnSet(SetOp::Rem(vec![b("1")])),
            OpResult::Int(1),
            None,
        ),
        // An SPOP's record names what it took, whatever the next pick is.
        logged(KeyOp::OnSet(SetOp::Pop(None)), OpResult::Bulk(b("2")), None),
        logged(
            KeyOp::OnSet(SetOp::Pop(Some(2))),
            OpResult::Members(vec![b("3"), b("x")]),
            None,
        ),
    ];
    let (state, misfits) = apply_all(base, deltas);
    assert_eq!(misfits, 0);
    assert_eq!(state, obj(set(&["4"]), None));
}

#[test]
fn string_changes_and_deadlines_replay_in_place() {
    let base = string(b"ab", Some(5));
    let deltas = [
        logged(
            KeyOp::Append {
                value: b("cd"),
                max_len: 100,
            },
            OpResult::Int(4),
            Some(5),
        ),
        logged(
            KeyOp::SetRange {
                offset: 6,
                value: b("Z"),
                max_len: 100,
            },
            OpResult::Int(7),
            Some(5),
        ),
        logged(
            KeyOp::Bits(BitsOp::SetBit {
                offset: 7,
                on: true,
            }),
            OpResult::Int(1),
            Some(5),
        ),
        logged(
            KeyOp::Bits(BitsOp::SetBit {
                offset: 8 * 9 + 1,
                on: true,
            }),
            OpResult::Int(0),
            Some(5),
        ),
        logged(
            KeyOp::Expire {
                at_ms: 1234,
                cond: crate::storage::ops::ExpireCond::Always,
            },
            OpResult::Int(1),
            Some(1234),
        ),
    ];
    let (state, misfits) = apply_all(base, deltas);
    assert_eq!(misfits, 0);
    // 'a' is 0x61: its lowest bit (offset 7) is already set.
    assert_eq!(state, string(b"abcd\0\0Z\0\0\x40", Some(1234)));
    // An empty SETRANGE is answered (and logged) but pads nothing.
    let empty = logged(
        KeyOp::SetRange {
            offset: 100,
            value: Bytes::new(),
            max_len: 1000,
        },
        OpResult::Int(2),
        None,
    );
    assert_eq!(
        apply_all(string(b"ab", None), [empty]).0,
        string(b"ab", None)
    );
    let persist = logged(KeyOp::Persist, OpResult::Int(1), None);
    assert_eq!(
        apply_all(string(b"v", Some(1)), [persist]).0,
        string(b"v", None)
    );
}

#[test]
fn hll_additions_replay_to_the_same_bytes() {
    let (max, elements) = (3000, vec![b("a"), b("b"), b("c")]);
    let mut live = crate::storage::hll::new_empty();
    crate::storage::hll::add(&mut live, &[b"z"], max).expect("hll");
    let base = string(&live, None);
    let d = logged(
        KeyOp::Hll(HllOp::Add {
            elements: elements.clone(),
            sparse_max: max,
        }),
        OpResult::Int(1),
        None,
    );
    let refs: Vec<&[u8]> = elements.iter().map(|e| &e[..]).collect();
    crate::storage::hll::add(&mut live, &refs, max).expect("hll");
    assert_eq!(apply_all(base, [d]).0, string(&live, None));
}

#[test]
fn a_delta_that_does_not_fit_is_skipped_and_counted() {
    let sadd = Delta::SAdd(vec![b("m")]);
    let hset = Delta::HSet(vec![(b("f"), b("v"))]);
    let (state, misfits) = apply_all(string(b"v", None), [sadd.clone(), hset]);
    assert_eq!((state, misfits), (string(b"v", None), 2));
    // On no key, a delta that makes one makes it without a deadline; one
    // that removes or times does nothing.
    let (state, misfits) = apply_all(None, [Delta::SRem(vec![b("m")]), Delta::PExpireAt(5), sadd]);
    assert_eq!((state, misfits), (obj(set(&["m"]), None), 0));
}

fn list(elements: &[&str], lim: ListLimit) -> Object {
    Object::List(List::from_elements(
        elements.iter().map(|e| e.as_bytes()),
        lim,
    ))
}

#[test]
fn list_changes_replay_in_place_through_both_encodings() {
    // A node of three elements: the list is a quicklist most of the way.
    let lim = ListLimit(3);
    let words = |s: &str| s.split(' ').map(b).collect::<Vec<_>>();
    let ops = [
        (
            KeyOp::OnList(ListOp::Push {
                front: true,
                values: words("x y"),
                xx: false,
            }),
            OpResult::Int(5),
        ),
        (
            KeyOp::OnList(ListOp::Push {
                front: false,
                values: words("a b c d"),
                xx: true,
            }),
            OpResult::Int(9),
        ),
        (
            KeyOp::OnList(ListOp::Pop {
                front: true,
                count: None,
            }),
            OpResult::Bulk(b("y")),
        ),
        (
            KeyOp::OnList(ListOp::Pop {
                front: false,
                count: Some(2),
            }),
            OpResult::Bulks(vec![Some(b("d")), Some(b("c"))]),
        ),
        (
            KeyOp::OnList(ListOp::Set {
                index: -1,
                value: b("B"),
            }),
            OpResult::Ok,
        ),
        (
            KeyOp::OnList(ListOp::Insert {
                before: true,
                pivot: b("2"),
                value: b("i"),
            }),
            OpResult::Int(7),
        ),
        (
            KeyOp::OnList(ListOp::Rem {
                count: -1,
                value: b("x"),
            }),
            OpResult::Int(1),
        ),
        (
            KeyOp::OnList(ListOp::Trim { start: 1, stop: -2 }),
            OpResult::Ok,
        ),
    ];
    let deltas: Vec<Delta> = ops.into_iter().map(|(op, r)| logged(op, r, None)).collect();
    // Replay uses the default node size: the encodings differ, the
    // elements do not.
    let (state, misfits) = apply_all(obj(list(&["1", "2", "3"], lim), None), deltas.clone());
    assert_eq!(misfits, 0);
    assert_eq!(state, obj(list(&["i", "2", "3", "a"], lim), None));
    // Popping, removing or trimming the last element leaves no key.
    let gone = [
        logged(
            KeyOp::OnList(ListOp::Pop {
                front: true,
                count: Some(1),
            }),
            OpResult::Bulks(vec![Some(b("1"))]),
            None,
        ),
        logged(
            KeyOp::OnList(ListOp::Trim { start: 5, stop: 9 }),
            OpResult::Ok,
            None,
        ),
    ];
    assert_eq!(
        apply_all(obj(list(&["1"], lim), None), [gone[0].clone()]).0,
        None
    );
    assert_eq!(
        apply_all(obj(list(&["1", "2"], lim), None), [gone[1].clone()]).0,
        None
    );
    // A record parsed with a damaged number is refused, not applied.
    assert!(Delta::parse(b"LTRIM", &[b"1", b"x"]).is_some_and(|r| r.is_err()));
    assert!(Delta::parse(b"LINSERT", &[b"MIDDLE", b"a", b"b"]).is_some_and(|r| r.is_err()));
}

#[test]
fn ops_without_a_per_element_record_are_logged_whole() {
    assert!(!loggable(&KeyOp::OnSet(SetOp::Store {
        members: vec![b("a")],
        event: "sinterstore",
    })));
    assert!(!loggable(&KeyOp::IncrBy(1)));
    assert!(!loggable(&KeyOp::OnHash(HashOp::Get(b("f")))));
}

fn zset(pairs: &[(f64, &str)], lim: &Limits) -> Object {
    Object::Zset(Zset::from_pairs(
        pairs.iter().map(|(s, m)| (m.as_bytes(), *s)).collect(),
        lim,
    ))
}

/// Every sorted set write, applied here and logged, replays to what the
/// set became — its scores to the bit (`%.17g` in the record), through
/// both encodings (the live set big past 4 members, the replayed one with
/// Redis's defaults), ranges by rank, score (exclusive ends, infinities)
/// and lex, and the last member's removal leaving no key.
#[test]
fn sorted_set_changes_replay_to_what_the_core_held() {
    use crate::storage::object::zset::{AddFlags, LexBound, LexRange, ScoreRange, ZRange};
    let lim = Limits {
        zset_entries: 4,
        ..Limits::default()
    };
    let start = [(1.0, "a"), (2.0, "b"), (3.0, "c")];
    let mut live = zset(&start, &lim);
    let base = obj(zset(&start, &Limits::default()), Some(7));
    let add = |pairs: &[(f64, &str)], flags: AddFlags| {
        KeyOp::OnZset(ZsetOp::Add {
            pairs: pairs.iter().map(|(s, m)| (*s, b(m))).collect(),
            flags,
        })
    };
    let incr = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    let xx = AddFlags {
        xx: true,
        ..AddFlags::default()
    };
    let ops = [
        add(
            &[(0.1, "d"), (1e20, "e"), (f64::NEG_INFINITY, "f")],
            AddFlags::default(),
        ),
        // XX refuses the new member: the record names only the old one.
        add(&[(5.0, "a"), (9.0, "nope")], xx),
        add(&[(0.2, "d")], incr),
        KeyOp::OnZset(ZsetOp::Rem(vec![b("b"), b("zz")])),
        KeyOp::OnZset(ZsetOp::Pop {
            max: true,
            count: 1,
        }),
        KeyOp::OnZset(ZsetOp::RemRange(ZRange::Score(ScoreRange {
            min: f64::NEG_INFINITY,
            min_ex: false,
            max: 0.30000000000000004,
            max_ex: true,
        }))),
        // Lex ranges are for sets whose scores are all equal.
        add(&[(0.0, "a"), (0.0, "c"), (0.0, "d")], AddFlags::default()),
        add(&[(0.0, "x"), (0.0, "y"), (0.0, "z")], AddFlags::default()),
        KeyOp::OnZset(ZsetOp::RemRange(ZRange::Lex(LexRange {
            min: LexBound::Excl(b("x")),
            max: LexBound::Excl(b("z")),
        }))),
        KeyOp::OnZset(ZsetOp::RemRange(ZRange::Rank { start: 0, stop: 0 })),
    ];
    let mut deltas = Vec::new();
    for op in ops {
        let KeyOp::OnZset(z) = &op else {
            unreachable!()
        };
        let r = match z {
            ZsetOp::Add { pairs, flags } => {
                for (s, m) in pairs {
                    let Object::Zset(zs) = &mut live else {
                        unreachable!()
                    };
                    zs.add(m, *s, *flags, &lim).expect("not NaN");
                }
                OpResult::Int(1)
            }
            ZsetOp::Rem(ms) => {
                let Object::Zset(zs) = &mut live else {
                    unreachable!()
                };
                OpResult::Int(ms.iter().filter(|m| zs.remove(m)).count() as i64)
            }
            ZsetOp::Pop { max, count } => {
                let Object::Zset(zs) = &mut live else {
                    unreachable!()
                };
                OpResult::Scored(zs.pop(*max, *count))
            }
            ZsetOp::RemRange(range) => {
                let Object::Zset(zs) = &mut live else {
                    unreachable!()
                };
                let mut all = Vec::new();
                zs.as_ref().for_each(|s, m| all.push((s, m.to_vec())));
                let (a, b) = zs
                    .as_ref()
                    .span(range, false)
                    .unwrap_or_else(|| panic!("{range:?} covers nothing of {all:?}"));
                OpResult::Int(zs.remove_ranks(a, b) as i64)
            }
            _ => unreachable!(),
        };
        deltas.push(logged_on(op, r, Some(&live), Some(7)));
    }
    let (state, misfits) = apply_all(base, deltas);
    assert_eq!(misfits, 0);
    assert_eq!(state, obj(live.clone(), Some(7)));
    let Some((Stored::Obj(o), _)) = &state else {
        panic!("a sorted set")
    };
    let Object::Zset(z) = &**o else {
        panic!("a sorted set")
    };
    // b, e (popped), f (-inf), y (the lex range) and a (rank 0) gone.
    let mut left = Vec::new();
    z.as_ref()
        .for_each(|s, m| left.push((s, String::from_utf8_lossy(m).into_owned())));
    let names = |v: &[&str]| v.iter().map(|m| (0.0, m.to_string())).collect::<Vec<_>>();
    assert_eq!(left, names(&["c", "d", "x", "z"]));
    // The last member removed leaves no key.
    let gone = logged_on(
        KeyOp::OnZset(ZsetOp::Rem(vec![b("m")])),
        OpResult::Int(1),
        None,
        None,
    );
    assert_eq!(
        apply_all(obj(zset(&[(1.0, "m")], &lim), None), [gone]).0,
        None
    );
    // On no key, a ZADD record makes one; a damaged score is refused.
    let made = apply_all(None, [Delta::ZAdd(vec![(2.5, b("q"))])]).0;
    assert_eq!(made, obj(zset(&[(2.5, "q")], &lim), None));
    for bad in [&[&b"nan"[..], b"m"][..], &[b"x", b"m"], &[b"1"]] {
        assert!(
            matches!(Delta::parse(b"ZADD", bad), Some(Err(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Delta::parse(b"ZREMRANGEBYSCORE", &[b"((1", b"2"]),
        Some(Err(_))
    ));
    assert!(matches!(
        Delta::parse(b"ZREMRANGEBYLEX", &[b"a", b"+"]),
        Some(Err(_))
    ));
}
