//! Per-element log records: what a change did to a key that was there before
//! it and still is after — fields set or deleted in a hash, members added or
//! removed in a set, elements pushed, popped, set, inserted, removed or
//! trimmed in a list, members given a score, removed or cut by a range in a
//! sorted set, a bit, a range or a tail of a string, an HLL's new
//! elements, a new deadline — so that a change to a big collection or a long
//! string costs the change's size in the log, not the key's. The writing side
//! turns an op the keyspace just applied (and its reply) into a record
//! ([`with_record`]); the reading side parses it back ([`Delta::parse`]) and
//! applies a key's records, oldest first, to its newest whole state
//! ([`apply_all`]).
//!
//! Every record here sets elements to absolute values (a field's new value,
//! never "+1"; the members an SPOP took, never "pop one"; a sorted set
//! member's score after ZADD or ZINCRBY, read from the set, never the
//! increment; the members a ZPOPMIN took), or, for a list or a sorted
//! set's range removal, names a change whose place the value before it
//! fixes (LPUSH, LPOP of n, LSET at an index, LTRIM, ZREMRANGEBYSCORE):
//! applied to the same value, it gives the same value. So replaying one gives what the core held. This module never
//! decides whether a delta may be logged (the core logs one only for a key
//! live before and after the op, so its base is a record before it —
//! `replay`'s module doc says why the order holds) and never reads a file.

use crate::protocol::ascii::format_score;
use crate::storage::object::zset::{AddFlags, LexBound, LexRange, ScoreRange, ZRange};
use crate::storage::object::{Hash, Limits, List, ObjRef, Object, Set, Zset};
use crate::storage::ops::{HashOp, HllOp, KeyOp, ListOp, OpResult, SetOp, Stored, ZsetOp};
use bytes::Bytes;

/// The largest byte offset a record may name (1 TiB).
const MAX_OFFSET: u64 = 1 << 40;

/// A parsed per-element record.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    HSet(Vec<(Bytes, Bytes)>),
    HDel(Vec<Bytes>),
    SAdd(Vec<Bytes>),
    SRem(Vec<Bytes>),
    /// LPUSH (`front`) or RPUSH of these elements, in order.
    Push {
        front: bool,
        values: Vec<Bytes>,
    },
    /// LPOP (`front`) or RPOP of `count` elements.
    Pop {
        front: bool,
        count: u64,
    },
    LSet {
        index: i64,
        value: Bytes,
    },
    LInsert {
        before: bool,
        pivot: Bytes,
        value: Bytes,
    },
    LRem {
        count: i64,
        value: Bytes,
    },
    LTrim {
        start: i64,
        stop: i64,
    },
    SetBit {
        offset: u64,
        on: bool,
    },
    Append(Bytes),
    SetRange {
        offset: usize,
        value: Bytes,
    },
    PfAdd {
        sparse_max: usize,
        elements: Vec<Bytes>,
    },
    /// Sorted set members at these scores (absolute: ZADD's and ZINCRBY's
    /// results).
    ZAdd(Vec<(f64, Bytes)>),
    ZRem(Vec<Bytes>),
    /// ZREMRANGEBYRANK, ZREMRANGEBYSCORE or ZREMRANGEBYLEX of this range.
    ZRemRange(ZRange),
    PExpireAt(u64),
    Persist,
}

// A record's scores are never NaN (parsing refuses one), so equality is
// total.
impl Eq for Delta {}

/// Whether `op`, applied to a key that exists, is logged as a delta.
pub fn loggable(op: &KeyOp) -> bool {
    matches!(
        op,
        KeyOp::OnHash(
            HashOp::Set { .. } | HashOp::Del(_) | HashOp::IncrBy(..) | HashOp::IncrByFloat(..)
        ) | KeyOp::OnSet(SetOp::Add(_) | SetOp::Rem(_) | SetOp::Pop(_))
            | KeyOp::OnList(
                ListOp::Push { .. }
                    | ListOp::Pop { .. }
                    | ListOp::Set { .. }
                    | ListOp::Insert { .. }
                    | ListOp::Rem { .. }
                    | ListOp::Trim { .. }
            )
            | KeyOp::OnZset(
                ZsetOp::Add { .. } | ZsetOp::Rem(_) | ZsetOp::Pop { .. } | ZsetOp::RemRange(_)
            )
            | KeyOp::Bits(crate::storage::ops::BitsOp::SetBit { .. })
            | KeyOp::Hll(HllOp::Add { .. })
            | KeyOp::Append { .. }
            | KeyOp::SetRange { .. }
            | KeyOp::Expire { .. }
            | KeyOp::Persist
    )
}

/// Call `f` with the record of `op` applied to `key` (which it changed and
/// left in place, as `now` is, with `deadline` now), given the op's reply
/// `r`; `None` when the op has no per-element record (log the key whole
/// then).
pub fn with_record<R>(
    key: &[u8],
    op: &KeyOp,
    r: &OpResult,
    now: Option<ObjRef<'_>>,
    deadline: Option<u64>,
    f: impl FnOnce(&[&[u8]]) -> R,
) -> Option<R> {
    let mut args: Vec<&[u8]> = Vec::with_capacity(8);
    // Each record has one number at most, but LTRIM's two.
    let mut num = [0u8; 20];
    let text;
    let text2;
    // A sorted set's scores as text, one per member; a lex range's ends.
    let scores: Vec<([u8; 32], usize)>;
    let lex: [Vec<u8>; 2];
    let score = |s: f64| {
        let mut b = [0u8; 32];
        let n = format_score(s, &mut b).len();
        (b, n)
    };
    let fmt = crate::protocol::ascii::format_u64;
    match (op, r) {
        (KeyOp::OnHash(HashOp::Set { pairs, .. }), _) => {
            args.extend([&b"HSET"[..], key]);
            for (f, v) in pairs {
                args.extend([&f[..], &v[..]]);
            }
        }
        (KeyOp::OnHash(HashOp::Del(fields)), _) => {
            args.extend([&b"HDEL"[..], key]);
            args.extend(fields.iter().map(|f| &f[..]));
        }
        (KeyOp::OnHash(HashOp::IncrBy(field, _)), OpResult::Int(n)) => {
            text = n.to_string();
            args.extend([&b"HSET"[..], key, field, text.as_bytes()]);
        }
        (KeyOp::OnHash(HashOp::IncrByFloat(field, _)), OpResult::Bulk(v)) => {
            args.extend([&b"HSET"[..], key, field, v]);
        }
        (KeyOp::OnSet(SetOp::Add(ms)), _) => {
            args.extend([&b"SADD"[..], key]);
            args.extend(ms.iter().map(|m| &m[..]));
        }
        (KeyOp::OnSet(SetOp::Rem(ms)), _)
        | (KeyOp::OnSet(SetOp::Pop(_)), OpResult::Members(ms)) => {
            args.extend([&b"SREM"[..], key]);
            args.extend(ms.iter().map(|m| &m[..]));
        }
        (KeyOp::OnSet(SetOp::Pop(_)), OpResult::Bulk(m)) => {
            args.extend([&b"SREM"[..], key, m]);
        }
        (KeyOp::OnList(ListOp::Push { front, values, .. }), _) => {
            args.extend([if *front { &b"LPUSH"[..] } else { b"RPUSH" }, key]);
            args.extend(values.iter().map(|v| &v[..]));
        }
        (KeyOp::OnList(ListOp::Pop { front, .. }), OpResult::Bulk(_) | OpResult::Bulks(_)) => {
            let n = match r {
                OpResult::Bulks(v) => v.len() as u64,
                _ => 1,
            };
            args.extend([
                if *front { &b"LPOP"[..] } else { b"RPOP" },
                key,
                fmt(n, &mut num),
            ]);
        }
        (KeyOp::OnList(ListOp::Set { index, value }), _) => {
            text = index.to_string();
            args.extend([&b"LSET"[..], key, text.as_bytes(), value]);
        }
        (
            KeyOp::OnList(ListOp::Insert {
                before,
                pivot,
                value,
            }),
            _,
        ) => {
            let place: &[u8] = if *before { b"BEFORE" } else { b"AFTER" };
            args.extend([&b"LINSERT"[..], key, place, pivot, value]);
        }
        (KeyOp::OnList(ListOp::Rem { count, value }), _) => {
            text = count.to_string();
            args.extend([&b"LREM"[..], key, text.as_bytes(), value]);
        }
        (KeyOp::OnList(ListOp::Trim { start, stop }), _) => {
            text = start.to_string();
            text2 = stop.to_string();
            args.extend([&b"LTRIM"[..], key, text.as_bytes(), text2.as_bytes()]);
        }
        (KeyOp::Bits(crate::storage::ops::BitsOp::SetBit { offset, on }), _) => {
            let bit: &[u8] = if *on { b"1" } else { b"0" };
            args.extend([&b"SETBIT"[..], key, fmt(*offset, &mut num), bit]);
        }
        (
            KeyOp::Hll(HllOp::Add {
                elements,
                sparse_max,
            }),
            _,
        ) => {
            args.extend([&b"PFADD"[..], key, fmt(*sparse_max as u64, &mut num)]);
            args.extend(elements.iter().map(|e| &e[..]));
        }
        (KeyOp::Append { value, .. }, _) => args.extend([&b"APPEND"[..], key, value]),
        (KeyOp::SetRange { offset, value, .. }, _) => {
            args.extend([&b"SETRANGE"[..], key, fmt(*offset as u64, &mut num), value]);
        }
        // Each member's score as the set holds it now: what ZADD and
        // ZINCRBY left, whatever their flags refused.
        (KeyOp::OnZset(ZsetOp::Add { pairs, .. }), _) => {
            let Some(ObjRef::Zset(z)) = now else {
                return None;
            };
            let found: Vec<(f64, &[u8])> = pairs
                .iter()
                .filter_map(|(_, m)| z.score(m).map(|s| (s, &m[..])))
                .collect();
            if found.is_empty() {
                return None;
            }
            scores = found.iter().map(|(s, _)| score(*s)).collect();
            args.extend([&b"ZADD"[..], key]);
            for ((b, n), (_, m)) in scores.iter().zip(&found) {
                args.extend([&b[..*n], *m]);
            }
        }
        (KeyOp::OnZset(ZsetOp::Rem(ms)), _) => {
            args.extend([&b"ZREM"[..], key]);
            args.extend(ms.iter().map(|m| &m[..]));
        }
        (KeyOp::OnZset(ZsetOp::Pop { .. } | ZsetOp::RemRange(_)), OpResult::Scored(v)) => {
            args.extend([&b"ZREM"[..], key]);
            args.extend(v.iter().map(|(m, _)| &m[..]));
        }
        (KeyOp::OnZset(ZsetOp::RemRange(range)), _) => match range {
            ZRange::Rank { start, stop } => {
                text = start.to_string();
                text2 = stop.to_string();
                args.extend([
                    &b"ZREMRANGEBYRANK"[..],
                    key,
                    text.as_bytes(),
                    text2.as_bytes(),
                ]);
            }
            ZRange::Score(s) => {
                let end = |v: f64, ex: bool| {
                    let (b, n) = score(v);
                    let mut t = if ex { b"(".to_vec() } else { Vec::new() };
                    t.extend_from_slice(&b[..n]);
                    String::from_utf8_lossy(&t).into_owned()
                };
                text = end(s.min, s.min_ex);
                text2 = end(s.max, s.max_ex);
                args.extend([
                    &b"ZREMRANGEBYSCORE"[..],
                    key,
                    text.as_bytes(),
                    text2.as_bytes(),
                ]);
            }
            ZRange::Lex(l) => {
                let end = |b: &LexBound| match b {
                    LexBound::NegInf => b"-".to_vec(),
                    LexBound::PosInf => b"+".to_vec(),
                    LexBound::Incl(x) => [&b"["[..], x].concat(),
                    LexBound::Excl(x) => [&b"("[..], x].concat(),
                };
                lex = [end(&l.min), end(&l.max)];
                args.extend([&b"ZREMRANGEBYLEX"[..], key, &lex[0], &lex[1]]);
            }
        },
        (KeyOp::Expire { .. } | KeyOp::Persist, _) => match deadline {
            Some(d) => args.extend([&b"PEXPIREAT"[..], key, fmt(d, &mut num)]),
            None => args.extend([&b"PERSIST"[..], key]),
        },
        _ => return None,
    }
    Some(f(&args))
}

impl Delta {
    /// The record named `name` (upper case) with `args` after its key, as
    /// [`with_record`] wrote it; `None` when `name` is not a delta's.
    pub fn parse(name: &[u8], args: &[&[u8]]) -> Option<Result<Delta, String>> {
        let all = |a: &[&[u8]]| a.iter().map(|x| Bytes::copy_from_slice(x)).collect();
        let num = |a: &[u8]| number::<u64>(name, a);
        // No string this server writes is that long (SETBIT's and
        // SETRANGE's limits are far below): such an offset is a damaged
        // record, refused before it could make replay allocate it.
        let within = |o: u64| {
            if o <= MAX_OFFSET {
                Ok(o)
            } else {
                Err(format!(
                    "a logged {} past any string's length",
                    String::from_utf8_lossy(name)
                ))
            }
        };
        let signed = |a: &[u8]| number::<i64>(name, a);
        let bad = || {
            Err(format!(
                "a logged {} with {} arguments",
                String::from_utf8_lossy(name),
                args.len() + 1
            ))
        };
        Some(match (name, args) {
            (b"HSET", a) if !a.is_empty() && a.len() % 2 == 0 => Ok(Delta::HSet(
                a.chunks(2)
                    .map(|p| (Bytes::copy_from_slice(p[0]), Bytes::copy_from_slice(p[1])))
                    .collect(),
            )),
            (b"HDEL", a) if !a.is_empty() => Ok(Delta::HDel(all(a))),
            (b"SADD", a) if !a.is_empty() => Ok(Delta::SAdd(all(a))),
            (b"SREM", a) if !a.is_empty() => Ok(Delta::SRem(all(a))),
            (b"SETBIT", [offset, bit]) => {
                num(offset)
                    .and_then(|o| within(o / 8).map(|_| o))
                    .map(|offset| Delta::SetBit {
                        offset,
                        on: *bit == b"1",
                    })
            }
            (b"APPEND", [v]) => Ok(Delta::Append(Bytes::copy_from_slice(v))),
            (b"SETRANGE", [offset, v]) => num(offset).and_then(within).map(|o| Delta::SetRange {
                offset: o as usize,
                value: Bytes::copy_from_slice(v),
            }),
            (b"PFADD", [max, rest @ ..]) => num(max).map(|m| Delta::PfAdd {
                sparse_max: m as usize,
                elements: all(rest),
            }),
            (b"LPUSH" | b"RPUSH", a) if !a.is_empty() => Ok(Delta::Push {
                front: name == b"LPUSH",
                values: all(a),
            }),
            (b"LPOP" | b"RPOP", [n]) => num(n).map(|count| Delta::Pop {
                front: name == b"LPOP",
                count,
            }),
            (b"LSET", [i, v]) => signed(i).map(|index| Delta::LSet {
                index,
                value: Bytes::copy_from_slice(v),
            }),
            (b"LINSERT", [place, pivot, v]) if matches!(*place, b"BEFORE" | b"AFTER") => {
                Ok(Delta::LInsert {
                    before: *place == b"BEFORE",
                    pivot: Bytes::copy_from_slice(pivot),
                    value: Bytes::copy_from_slice(v),
                })
            }
            (b"LREM", [n, v]) => signed(n).map(|count| Delta::LRem {
                count,
                value: Bytes::copy_from_slice(v),
            }),
            (b"LTRIM", [a, z]) => {
                signed(a).and_then(|start| signed(z).map(|stop| Delta::LTrim { start, stop }))
            }
            (b"ZADD", a) if !a.is_empty() && a.len() % 2 == 0 => a
                .chunks(2)
                .map(|p| {
                    score_of(p[0])
                        .map(|s| (s, Bytes::copy_from_slice(p[1])))
                        .ok_or_else(|| "a logged ZADD with a bad score".to_string())
                })
                .collect::<Result<Vec<_>, String>>()
                .map(Delta::ZAdd),
            (b"ZREM", a) if !a.is_empty() => Ok(Delta::ZRem(all(a))),
            (b"ZREMRANGEBYRANK", [a, z]) => signed(a).and_then(|start| {
                signed(z).map(|stop| Delta::ZRemRange(ZRange::Rank { start, stop }))
            }),
            (b"ZREMRANGEBYSCORE", [a, z]) => match (score_end(a), score_end(z)) {
                (Some((min, min_ex)), Some((max, max_ex))) => {
                    Ok(Delta::ZRemRange(ZRange::Score(ScoreRange {
                        min,
                        min_ex,
                        max,
                        max_ex,
                    })))
                }
                _ => Err("a logged ZREMRANGEBYSCORE with a bad end".into()),
            },
            (b"ZREMRANGEBYLEX", [a, z]) => match (lex_end(a), lex_end(z)) {
                (Some(min), Some(max)) => Ok(Delta::ZRemRange(ZRange::Lex(LexRange { min, max }))),
                _ => Err("a logged ZREMRANGEBYLEX with a bad end".into()),
            },
            (b"PEXPIREAT", [at]) => num(at).map(Delta::PExpireAt),
            (b"PERSIST", []) => Ok(Delta::Persist),
            (b"HSET" | b"HDEL" | b"SADD" | b"SREM" | b"SETBIT" | b"APPEND" | b"SETRANGE", _)
            | (b"PFADD" | b"PEXPIREAT" | b"PERSIST", _)
            | (b"LPUSH" | b"RPUSH" | b"LPOP" | b"RPOP" | b"LSET" | b"LINSERT" | b"LREM", _)
            | (b"LTRIM" | b"ZADD" | b"ZREM" | b"ZREMRANGEBYRANK" | b"ZREMRANGEBYSCORE", _)
            | (b"ZREMRANGEBYLEX", _) => bad(),
            _ => return None,
        })
    }
}

/// A logged score (`%.17g`, `inf`, `-inf`); never NaN.
fn score_of(a: &[u8]) -> Option<f64> {
    std::str::from_utf8(a)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|s| !s.is_nan())
}

/// A logged score range end: `(` when exclusive, then a score.
fn score_end(a: &[u8]) -> Option<(f64, bool)> {
    match a.split_first()? {
        (b'(', rest) => score_of(rest).map(|s| (s, true)),
        _ => score_of(a).map(|s| (s, false)),
    }
}

/// A logged lex range end: `-`, `+`, `[member` or `(member`.
fn lex_end(a: &[u8]) -> Option<LexBound> {
    Some(match a.split_first()? {
        (b'-', []) => LexBound::NegInf,
        (b'+', []) => LexBound::PosInf,
        (b'[', rest) => LexBound::Incl(Bytes::copy_from_slice(rest)),
        (b'(', rest) => LexBound::Excl(Bytes::copy_from_slice(rest)),
        _ => return None,
    })
}

/// The number a record of `name` holds at `a`, or why it cannot be one.
fn number<T: std::str::FromStr>(name: &[u8], a: &[u8]) -> Result<T, String> {
    std::str::from_utf8(a)
        .ok()
        .and_then(|s| s.parse::<T>().ok())
        .ok_or_else(|| {
            format!(
                "a logged {} with a bad number",
                String::from_utf8_lossy(name)
            )
        })
}

/// A key's value while its deltas are applied: strings as growable bytes.
enum Work {
    Gone,
    Str(Vec<u8>),
    Obj(Object),
}

/// Apply `deltas` (oldest first) to `state` (a key's value and deadline, or
/// gone). A delta that does not fit the value's type (a damaged history) is
/// skipped and counted in the second result.
pub fn apply_all(
    state: Option<(Stored, Option<u64>)>,
    deltas: impl IntoIterator<Item = Delta>,
) -> (Option<(Stored, Option<u64>)>, usize) {
    let lim = Limits::default();
    let (mut work, mut deadline) = match state {
        None => (Work::Gone, None),
        Some((Stored::Str(v), d)) => (Work::Str(Vec::from(v)), d),
        Some((Stored::Obj(o), d)) => (Work::Obj(*o), d),
    };
    let mut misfits = 0;
    for d in deltas {
        if !apply(&mut work, &mut deadline, d, &lim) {
            misfits += 1;
        }
    }
    let state = match work {
        Work::Gone => None,
        Work::Str(v) => Some((Stored::Str(Bytes::from(v)), deadline)),
        Work::Obj(o) => Some((Stored::Obj(Box::new(o)), deadline)),
    };
    (state, misfits)
}

/// One delta; false when it does not fit the value's type.
fn apply(work: &mut Work, deadline: &mut Option<u64>, d: Delta, lim: &Limits) -> bool {
    // A record that makes a key (none of ours does: see the module doc, but a
    // history may start anywhere) makes it without a deadline, as the
    // command would.
    if matches!(work, Work::Gone) {
        *deadline = None;
        *work = match &d {
            Delta::HSet(_) => Work::Obj(Object::Hash(Hash::default())),
            Delta::SAdd(ms) => match ms.first() {
                Some(m) => Work::Obj(Object::Set(Set::for_first(m, lim))),
                None => return true,
            },
            Delta::SetBit { .. } | Delta::Append(_) | Delta::SetRange { .. } => {
                Work::Str(Vec::new())
            }
            Delta::PfAdd { .. } => Work::Str(crate::storage::hll::new_empty()),
            Delta::Push { .. } => Work::Obj(Object::List(List::default())),
            Delta::ZAdd(_) => Work::Obj(Object::Zset(Zset::default())),
            // Nothing to remove from or to time.
            _ => return true,
        };
    }
    match (work, d) {
        (Work::Obj(Object::Hash(h)), Delta::HSet(pairs)) => {
            pairs.iter().for_each(|(f, v)| {
                h.set(f, v, lim);
            });
        }
        (w @ Work::Obj(Object::Hash(_)), Delta::HDel(fields)) => {
            if let Work::Obj(Object::Hash(h)) = w {
                fields.iter().for_each(|f| {
                    h.remove(f);
                });
                if h.as_ref().is_empty() {
                    *w = Work::Gone;
                }
            }
        }
        (Work::Obj(Object::Set(s)), Delta::SAdd(ms)) => {
            ms.iter().for_each(|m| {
                s.add(m, lim);
            });
        }
        (w @ Work::Obj(Object::Set(_)), Delta::SRem(ms)) => {
            if let Work::Obj(Object::Set(s)) = w {
                ms.iter().for_each(|m| {
                    s.remove(m);
                });
                if s.as_ref().is_empty() {
                    *w = Work::Gone;
                }
            }
        }
        (Work::Obj(Object::List(l)), Delta::Push { front, values }) => {
            l.push(front, &values, lim.list);
        }
        (
            w @ Work::Obj(Object::List(_)),
            d @ (Delta::Pop { .. } | Delta::LRem { .. } | Delta::LTrim { .. }),
        ) => {
            if let Work::Obj(Object::List(l)) = w {
                match d {
                    Delta::Pop { front, count } => {
                        let n = usize::try_from(count).unwrap_or(usize::MAX);
                        l.pop(front, n, lim.list);
                    }
                    Delta::LRem { count, value } => {
                        l.remove(count, &value, lim.list);
                    }
                    Delta::LTrim { start, stop } => l.trim(start, stop, lim.list),
                    _ => {}
                }
                if l.as_ref().is_empty() {
                    *w = Work::Gone;
                }
            }
        }
        (Work::Obj(Object::List(l)), Delta::LSet { index, value }) => {
            return l.set(index, &value, lim.list);
        }
        (
            Work::Obj(Object::List(l)),
            Delta::LInsert {
                before,
                pivot,
                value,
            },
        ) => {
            return l.insert(before, &pivot, &value, lim.list).is_some();
        }
        (Work::Obj(Object::Zset(z)), Delta::ZAdd(pairs)) => {
            for (s, m) in &pairs {
                if z.add(m, *s, AddFlags::default(), lim).is_err() {
                    return false;
                }
            }
        }
        (w @ Work::Obj(Object::Zset(_)), d @ (Delta::ZRem(_) | Delta::ZRemRange(_))) => {
            if let Work::Obj(Object::Zset(z)) = w {
                match d {
                    Delta::ZRem(ms) => ms.iter().for_each(|m| {
                        z.remove(m);
                    }),
                    Delta::ZRemRange(range) => {
                        if let Some((a, b)) = z.as_ref().span(&range, false) {
                            z.remove_ranks(a, b);
                        }
                    }
                    _ => {}
                }
                if z.as_ref().is_empty() {
                    *w = Work::Gone;
                }
            }
        }
        (Work::Str(v), Delta::SetBit { offset, on }) => {
            let need = (offset / 8) as usize + 1;
            if v.len() < need {
                v.resize(need, 0);
            }
            crate::storage::bits::setbit(v, offset, on);
        }
        (Work::Str(v), Delta::Append(tail)) => v.extend_from_slice(&tail),
        // An empty range changes nothing (SETRANGE k off "" answers the
        // length and pads nothing, as Redis).
        (Work::Str(_), Delta::SetRange { value, .. }) if value.is_empty() => {}
        (Work::Str(v), Delta::SetRange { offset, value }) => {
            let end = offset + value.len();
            if v.len() < end {
                v.resize(end, 0);
            }
            v[offset..end].copy_from_slice(&value);
        }
        (
            Work::Str(v),
            Delta::PfAdd {
                sparse_max,
                elements,
            },
        ) => {
            let elements: Vec<&[u8]> = elements.iter().map(|e| &e[..]).collect();
            return crate::storage::hll::add(v, &elements, sparse_max).is_ok();
        }
        (Work::Str(_) | Work::Obj(_), Delta::PExpireAt(at)) => *deadline = Some(at),
        (Work::Str(_) | Work::Obj(_), Delta::Persist) => *deadline = None,
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests;
