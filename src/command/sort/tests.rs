//! The unit tests of [`super`]: options, patterns, LIMIT and the order
//! of elements, as Redis's `sortCommandGeneric` makes them.

use super::*;
use crate::command::keyspec::sort_forms_keys;

fn args(s: &str) -> Vec<Bytes> {
    s.split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn words(s: &str) -> Vec<Bytes> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn strs(v: &[Bytes]) -> Vec<String> {
    v.iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

#[test]
fn options_parse_as_redis_reads_them() {
    let o = parse(
        &args("SORT k BY w_* LIMIT 0 10 GET # GET o_* DESC ALPHA STORE d"),
        false,
        true,
    )
    .unwrap_or_default();
    assert_eq!(o.by.as_deref(), Some(&b"w_*"[..]));
    assert!(!o.dontsort);
    assert_eq!(o.limit, Some((0, 10)));
    assert_eq!(o.get.len(), 2);
    assert!(o.desc && o.alpha);
    assert_eq!(o.store.as_deref(), Some(&b"d"[..]));
    assert!(
        !parse(&args("SORT k DESC ASC"), false, true)
            .unwrap_or_default()
            .desc
    );
    for bad in ["SORT k STORE", "SORT k LIMIT 1", "SORT k NOPE", "SORT k BY"] {
        assert_eq!(
            parse(&args(bad), false, true),
            Err(Frame::err(SYNTAX)),
            "{bad}"
        );
    }
    assert_eq!(
        parse(&args("SORT_RO k STORE d"), true, true),
        Err(Frame::err(SYNTAX))
    );
    assert!(parse(&args("SORT k LIMIT x 1"), false, true).is_err());
    // "Do not sort" sticks once any BY lacks a `*`.
    let o = parse(&args("SORT k BY nosort BY w_*"), false, true).unwrap_or_default();
    assert!(o.dontsort && !o.forms_keys());
    // ACL: the first bad option answers; BY without `*` needs no key.
    let denied = |s: &str| parse(&args(s), false, false);
    assert!(denied("SORT k BY nosort").is_ok());
    assert!(
        matches!(denied("SORT k BY w_* NOPE"), Err(Frame::Error(e)) if e.starts_with("ERR BY option"))
    );
    assert!(
        matches!(denied("SORT k GET # NOPE"), Err(Frame::Error(e)) if e.starts_with("ERR GET option"))
    );
    assert_eq!(denied("SORT k NOPE GET #"), Err(Frame::err(SYNTAX)));
}

#[test]
fn forms_keys_agrees_with_keyspec() {
    for s in [
        "SORT k",
        "SORT k BY w_*",
        "SORT k BY nosort",
        "SORT k BY nosort BY w_*",
        "SORT k BY w_* BY nosort",
        "SORT k GET #",
        "SORT k GET #*",
        "SORT k GET nostar",
        "SORT k GET o_*->f",
        "SORT k LIMIT 0 1 BY store STORE d",
        "SORT k BY h_*->f ALPHA DESC",
    ] {
        let a = args(s);
        let o = parse(&a, false, true).unwrap_or_default();
        assert_eq!(o.forms_keys(), sort_forms_keys(&a), "{s}");
    }
}

#[test]
fn patterns_form_keys_as_redis_does() {
    let key = |k: &str| Lookup::Key(Bytes::copy_from_slice(k.as_bytes()));
    let field = |k: &str, f: &str| {
        Lookup::Field(
            Bytes::copy_from_slice(k.as_bytes()),
            Bytes::copy_from_slice(f.as_bytes()),
        )
    };
    assert_eq!(lookup(b"#", b"e"), Lookup::Itself);
    assert_eq!(lookup(b"#\0x", b"e"), Lookup::Itself);
    assert_eq!(lookup(b"#*", b"e"), key("#e"));
    assert_eq!(lookup(b"nostar", b"e"), Lookup::Nothing);
    assert_eq!(lookup(b"no\0*", b"e"), Lookup::Nothing);
    assert_eq!(lookup(b"w_*", b"e"), key("w_e"));
    assert_eq!(lookup(b"*_w*", b"e"), key("e_w*"));
    assert_eq!(lookup(b"h_*->f", b"e"), field("h_e", "f"));
    assert_eq!(lookup(b"h_*->f->g", b"e"), field("h_e", "f->g"));
    // `->` with no field after it is part of the key.
    assert_eq!(lookup(b"h_*->", b"e"), key("h_e->"));
    // Before the `*`, `->` is part of the key.
    assert_eq!(lookup(b"a->b*", b"e"), key("a->be"));
}

#[test]
fn limit_clamps_as_redis() {
    assert_eq!(range(None, 5), Some((0, 4)));
    assert_eq!(range(None, 0), None);
    assert_eq!(range(Some((-3, 2)), 5), Some((0, 1)));
    assert_eq!(range(Some((1, -7)), 5), Some((1, 4)));
    assert_eq!(range(Some((3, 100)), 5), Some((3, 4)));
    assert_eq!(range(Some((5, 1)), 5), None);
    assert_eq!(range(Some((0, 0)), 5), None);
    assert_eq!(range(Some((i64::MAX, i64::MAX)), 5), None);
    assert_eq!(range(Some((i64::MIN, i64::MAX)), 5), Some((0, 4)));
}

fn sorted(
    opts: &str,
    kind: Kind,
    elems: &str,
    weights: Option<&[Option<&str>]>,
) -> Result<Vec<String>, Frame> {
    let mut a = args("SORT k");
    a.extend(words(opts));
    let o = parse(&a, false, true).unwrap_or_default();
    let plan = Plan {
        src: Bytes::new(),
        o,
        script: false,
    };
    let w = weights.map(|w| {
        w.iter()
            .map(|x| x.map(|s| Bytes::copy_from_slice(s.as_bytes())))
            .collect()
    });
    order(&plan.o, kind, &plan.mode(kind), words(elems), w).map(|v| strs(&v))
}

#[test]
fn numeric_alpha_desc_and_ties() {
    let l = Kind::List;
    assert_eq!(
        sorted("", l, "3 1 2 10", None),
        Ok(strs(&words("1 2 3 10")))
    );
    assert_eq!(
        sorted("DESC", l, "3 1 2 10", None),
        Ok(strs(&words("10 3 2 1")))
    );
    assert_eq!(
        sorted("ALPHA", l, "3 1 2 10", None),
        Ok(strs(&words("1 10 2 3")))
    );
    // Equal numbers: by the elements' bytes (turned round by DESC).
    assert_eq!(
        sorted("", l, "1.0 1 01 0x1", None),
        Ok(strs(&words("01 0x1 1 1.0")))
    );
    assert_eq!(
        sorted("DESC", l, "1.0 1 01", None),
        Ok(strs(&words("1.0 1 01")))
    );
    assert_eq!(
        sorted("", l, "-inf inf 1e3 -2", None),
        Ok(strs(&words("-inf -2 1e3 inf")))
    );
    assert_eq!(sorted("", l, "1 x", None), Err(Frame::err(NOT_DOUBLE)));
    assert_eq!(sorted("", l, "1 nan", None), Err(Frame::err(NOT_DOUBLE)));
    assert_eq!(sorted("", l, "1 1e999", None), Err(Frame::err(NOT_DOUBLE)));
    // The error stands even when LIMIT takes nothing.
    assert_eq!(
        sorted("LIMIT 9 1", l, "1 x", None),
        Err(Frame::err(NOT_DOUBLE))
    );
    assert_eq!(
        sorted("ALPHA LIMIT 1 2", l, "d c b a", None),
        Ok(strs(&words("b c")))
    );
}

#[test]
fn weights_and_nosort() {
    let l = Kind::List;
    let w: &[Option<&str>] = &[Some("3"), None, Some("1"), Some("x")];
    assert_eq!(
        sorted("BY w_*", l, "a b c d", Some(w)),
        Err(Frame::err(NOT_DOUBLE))
    );
    let w: &[Option<&str>] = &[Some("3"), None, Some("1"), Some("-1")];
    // Missing is 0.
    assert_eq!(
        sorted("BY w_*", l, "a b c d", Some(w)),
        Ok(strs(&words("d b c a")))
    );
    let w: &[Option<&str>] = &[Some("b"), None, Some("a"), Some("c")];
    assert_eq!(
        sorted("BY w_* ALPHA", l, "a b c d", Some(w)),
        Ok(strs(&words("b c a d")))
    );
    assert_eq!(
        sorted("BY w_* ALPHA DESC", l, "a b c d", Some(w)),
        Ok(strs(&words("d a c b")))
    );
    // No sort: the list's order, DESC turning it round, LIMIT over it.
    assert_eq!(
        sorted("BY nosort", l, "b a c", None),
        Ok(strs(&words("b a c")))
    );
    assert_eq!(
        sorted("BY nosort DESC LIMIT 1 5", l, "b a c d", None),
        Ok(strs(&words("c a b")))
    );
    assert_eq!(
        sorted("BY nosort DESC", Kind::Zset, "a b c", None),
        Ok(strs(&words("c b a")))
    );
    // A set has no order to turn round.
    assert_eq!(
        sorted("BY nosort DESC", Kind::Set, "x y", None),
        Ok(strs(&words("x y")))
    );
    // ... and is sorted ALPHA under STORE.
    assert_eq!(
        sorted("BY nosort STORE d", Kind::Set, "y x 10 9", None),
        Ok(strs(&words("10 9 x y")))
    );
}

#[test]
fn alpha_compares_as_c_does() {
    let a = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    // The three strings sorted under `cmd`'s options.
    let sort = |cmd: &str| {
        let l = Kind::List;
        let plan = Plan {
            src: Bytes::new(),
            o: parse(&args(cmd), false, true).unwrap_or_default(),
            script: false,
        };
        order(
            &plan.o,
            l,
            &plan.mode(l),
            vec![a("a\0z"), a("a\0b"), a("a")],
            None,
        )
    };
    // Collated, a NUL ends a string; stored, it does not.
    assert_eq!(sort("SORT k ALPHA").map(|v| v.len()), Ok(3));
    assert_eq!(
        sort("SORT k ALPHA STORE d"),
        Ok(vec![a("a"), a("a\0b"), a("a\0z")])
    );
}

#[test]
fn weights_read_as_strtod_does() {
    assert_eq!(sort_score(b""), Some(0.0));
    assert_eq!(sort_score(b"  12"), Some(12.0));
    assert_eq!(sort_score(b"12 "), None);
    assert_eq!(sort_score(b"0x10"), Some(16.0));
    assert_eq!(sort_score(b"7\0junk"), Some(7.0));
    assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
    assert_eq!(sort_score(b"nan"), None);
    assert_eq!(sort_score(b"1e-400"), None);
}
