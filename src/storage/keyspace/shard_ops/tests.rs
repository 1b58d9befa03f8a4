//! The unit tests of [`super`]: every key op through [`Keyspace::execute`],
//! with its replies, deadlines and shard accounting.

use super::*;
use crate::storage::keyspace::testkit::set;
use crate::storage::keyspace::testkit::*;
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
    let OpResult::Scan { next, keys, .. } = r else {
        panic!("scan answered {r:?}")
    };
    assert_eq!((next, keys), (0, vec![Bytes::from("p")]));
    // Purged by the expiry pass.
    let mut out = Vec::new();
    assert_eq!(k.expire_due(later, 10, &mut out, &|_| false), 1);
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

#[test]
fn sortable_sources_and_a_stored_list() {
    use crate::storage::ops::{HashOp, ListOp, SetOp, ZsetOp};
    let mut k = ks(1, 4);
    let bytes = |v: &[&str]| -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    };
    assert_eq!(run(&mut k, "none", KeyOp::Sortable), OpResult::Nil);
    run(&mut k, "s", set("v"));
    assert_eq!(
        run(&mut k, "s", KeyOp::Sortable),
        OpResult::Err(OpError::WrongType)
    );
    let pairs = vec![(bytes(&["f"])[0].clone(), bytes(&["v"])[0].clone())];
    run(&mut k, "h", KeyOp::OnHash(HashOp::Set { pairs, nx: false }));
    assert_eq!(
        run(&mut k, "h", KeyOp::Sortable),
        OpResult::Err(OpError::WrongType)
    );
    let push = ListOp::Push {
        front: false,
        values: bytes(&["b", "a", "b"]),
        xx: false,
    };
    run(&mut k, "l", KeyOp::OnList(push));
    assert_eq!(
        run(&mut k, "l", KeyOp::Sortable),
        OpResult::Bulks(bytes(&["b", "a", "b"]).into_iter().map(Some).collect())
    );
    run(&mut k, "set", KeyOp::OnSet(SetOp::Add(bytes(&["2", "1"]))));
    match run(&mut k, "set", KeyOp::Sortable) {
        OpResult::Members(mut m) => {
            m.sort();
            assert_eq!(m, bytes(&["1", "2"]));
        }
        other => panic!("{other:?}"),
    }
    let add = ZsetOp::Add {
        pairs: vec![
            (2.0, bytes(&["x"])[0].clone()),
            (1.0, bytes(&["y"])[0].clone()),
        ],
        flags: Default::default(),
    };
    run(&mut k, "z", KeyOp::OnZset(add));
    assert_eq!(
        run(&mut k, "z", KeyOp::Sortable),
        OpResult::Scored(vec![
            (bytes(&["y"])[0].clone(), 1.0),
            (bytes(&["x"])[0].clone(), 2.0)
        ])
    );
    // STORE replaces any type, deadline and all, and an empty result deletes.
    run(
        &mut k,
        "s",
        KeyOp::Expire {
            at_ms: NOW + 1000,
            cond: ExpireCond::Always,
        },
    );
    let store = |v: &[&str]| {
        KeyOp::OnList(ListOp::Store {
            values: bytes(v),
            event: "sortstore",
        })
    };
    assert_eq!(run(&mut k, "s", store(&["1", "", "1"])), OpResult::Int(3));
    assert_eq!(run(&mut k, "s", KeyOp::Type), OpResult::Status("list"));
    assert_eq!(pttl(&mut k, "s"), OpResult::Int(-1));
    assert_eq!(
        run(&mut k, "s", KeyOp::Sortable),
        OpResult::Bulks(bytes(&["1", "", "1"]).into_iter().map(Some).collect())
    );
    assert_eq!(run(&mut k, "s", store(&[])), OpResult::Int(0));
    assert_eq!(run(&mut k, "s", KeyOp::Exists), OpResult::Int(0));
    check_accounting(&k);
}
