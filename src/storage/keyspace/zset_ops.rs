//! The sorted set ops ([`ZsetOp`]: ZADD, ZREM, ZRANGE, ZPOPMIN, ZSCAN, ...)
//! on the shard holding the key, with Redis's semantics. It knows one shard
//! and one key, as `shard_ops` does; the encodings and ZADD's rules are
//! [`crate::storage::object::zset`]'s.

use super::collection::{b, distinct, edit, rand_picks, read, scan_table, PageOut, Rand};
use crate::protocol::ascii::format_score;
use crate::storage::entry::Entry;
use crate::storage::glob::glob_match;
use crate::storage::object::zset::{Added, ZRange, Zset, ZsetRef};
use crate::storage::object::{Limits, ObjRef, Object};
use crate::storage::ops::{OpError, OpResult, ZsetOp, PAGE};
use crate::storage::shard::Shard;

const KIND: &str = "zset";

fn zset_of(o: ObjRef<'_>) -> Option<ZsetRef<'_>> {
    match o {
        ObjRef::Zset(z) => Some(z),
        _ => None,
    }
}

fn with_zset<R>(o: &mut Object, f: impl FnOnce(&mut Zset) -> R) -> Option<R> {
    match o {
        Object::Zset(z) => Some(f(z)),
        _ => None,
    }
}

pub(super) fn zset_op(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    op: ZsetOp,
    now: u64,
    lim: &Limits,
    seed: u64,
) -> OpResult {
    let mut rand = Rand(seed | 1);
    let r = match op {
        ZsetOp::Add { pairs, flags } => {
            let make = || Object::Zset(Zset::default());
            edit(shard, thash, key, now, KIND, Some(&make), |o| {
                with_zset(o, |z| {
                    let (mut added, mut updated, mut score) = (0, 0, None);
                    for (s, m) in &pairs {
                        match z.add(m, *s, flags, lim) {
                            Ok((what, after)) => {
                                added += i64::from(what == Added::Added);
                                updated += i64::from(what == Added::Updated);
                                score = (what != Added::Skipped).then_some(after);
                            }
                            // What was added before stays, as in Redis.
                            Err(_) => return Err(OpError::NanScore),
                        }
                    }
                    Ok(OpResult::Zadd {
                        added,
                        updated,
                        score,
                    })
                })
            })
            .and_then(|r| match r.flatten() {
                Some(r) => r,
                // XX on no key: nothing to do.
                None => Ok(OpResult::Zadd {
                    added: 0,
                    updated: 0,
                    score: None,
                }),
            })
        }
        ZsetOp::Rem(members) => edit(shard, thash, key, now, KIND, None, |o| {
            with_zset(o, |z| members.iter().filter(|m| z.remove(m)).count() as i64)
        })
        .map(|r| OpResult::Int(r.flatten().unwrap_or(0))),
        ZsetOp::Score(members) => read(shard, thash, key, now, KIND, |o| {
            let z = zset_of(o);
            members.iter().map(|m| z.and_then(|z| z.score(m))).collect()
        })
        .map(|r| OpResult::Scores(r.unwrap_or_else(|| vec![None; members.len()]))),
        ZsetOp::Card => read(shard, thash, key, now, KIND, |o| o.len() as i64)
            .map(|r| OpResult::Int(r.unwrap_or(0))),
        ZsetOp::Count(range) => read(shard, thash, key, now, KIND, |o| {
            zset_of(o)
                .and_then(|z| z.span(&range, false))
                .map_or(0, |(a, b)| (b - a) as i64)
        })
        .map(|r| OpResult::Int(r.unwrap_or(0))),
        ZsetOp::Range {
            range,
            rev,
            offset,
            count,
        } => read(shard, thash, key, now, KIND, |o| {
            zset_of(o).map_or_else(Vec::new, |z| z.range(&range, rev, offset, count))
        })
        .map(|r| OpResult::Scored(r.unwrap_or_default())),
        ZsetOp::RangePage {
            range,
            rev,
            offset,
            count,
            withscores,
            resp3,
            cursor,
        } => read(shard, thash, key, now, KIND, |o| {
            let ranks =
                zset_of(o).and_then(|z| Some((z, z.range_ranks(&range, rev, offset, count)?)));
            let Some((z, (from, to))) = ranks else {
                return PageOut::new().result(0, 0);
            };
            range_page(z, from, to, rev, withscores, resp3, cursor)
        })
        .map(|r| r.unwrap_or_else(|| PageOut::new().result(0, 0))),
        ZsetOp::Rank { member, rev } => read(shard, thash, key, now, KIND, |o| {
            let z = zset_of(o)?;
            let (r, s) = z.rank(&member)?;
            let r = if rev { z.len() - 1 - r } else { r };
            Some(OpResult::Rank(r as i64, s))
        })
        .map(|r| r.flatten().unwrap_or(OpResult::Nil)),
        ZsetOp::Pop { max, count } => pop(shard, thash, key, now, max, count),
        ZsetOp::RandMember(count) => read(shard, thash, key, now, KIND, |o| {
            zset_of(o).map(|z| rand_member(z, count, &mut rand))
        })
        .map(|r| r.flatten().unwrap_or(OpResult::Nil)),
        ZsetOp::RemRange(range) => rem_range(shard, thash, key, now, &range),
        ZsetOp::Scan {
            cursor,
            count,
            pattern,
        } => read(shard, thash, key, now, KIND, |o| {
            let mut out = Vec::new();
            let mut emit = |m: &[u8], s: f64| {
                let mut buf = [0u8; 32];
                out.push(b(m));
                out.push(b(format_score(s, &mut buf)));
            };
            let next = match zset_of(o) {
                Some(ZsetRef::Big(big)) => {
                    scan_table(big.index(), cursor, count, pattern.as_deref(), |slot| {
                        emit(slot.member(), slot.score())
                    })
                }
                Some(z) => {
                    z.for_each(|s, m| {
                        if pattern.as_deref().is_none_or(|p| glob_match(p, m)) {
                            emit(m, s)
                        }
                    });
                    0
                }
                None => 0,
            };
            (next, out)
        })
        .map(|r| {
            let (next, keys) = r.unwrap_or_default();
            OpResult::Scan {
                next,
                keys,
                used: 0,
            }
        }),
        ZsetOp::Members => match shard.get(thash, key, now) {
            None => Ok(OpResult::Scored(Vec::new())),
            Some(e) => match e.object() {
                Some(ObjRef::Zset(z)) => {
                    let mut v = Vec::with_capacity(z.len());
                    z.for_each(|s, m| v.push((b(m), s)));
                    Ok(OpResult::Scored(v))
                }
                // A set's members all score 1, as Redis reads them.
                Some(ObjRef::Set(s)) => {
                    let mut v = Vec::with_capacity(s.len());
                    s.for_each(|m| v.push((b(&m), 1.0)));
                    Ok(OpResult::Scored(v))
                }
                _ => Err(OpError::WrongType),
            },
        },
        ZsetOp::Store { pairs, .. } => {
            shard.remove(thash, key);
            let n = pairs.len();
            if n > 0 {
                let z = Zset::from_pairs(pairs, lim);
                shard.insert(thash, Entry::with_object(key, Object::Zset(z), None));
            }
            Ok(OpResult::Int(n as i64))
        }
    };
    r.unwrap_or_else(OpResult::Err)
}

/// One page of a range whose ranks are `from..to` (from `to` down when
/// `rev`): its elements from the `cursor`-th, at most [`PAGE`] of them,
/// encoded. The range is found again for every page: a reply read in
/// pages holds the key, so the ranks cannot move between them.
fn range_page(
    z: ZsetRef<'_>,
    from: usize,
    to: usize,
    rev: bool,
    withscores: bool,
    resp3: bool,
    cursor: u64,
) -> OpResult {
    let mut page = PageOut::new();
    let n = to - from;
    let first = usize::try_from(cursor).unwrap_or(usize::MAX).min(n);
    let last = n.min(first.saturating_add(PAGE));
    let (a, b) = if rev {
        (to - last, to - first)
    } else {
        (from + first, from + last)
    };
    z.walk(a, b, rev, |s, m| {
        if withscores {
            page.push_scored(m, s, resp3);
        } else {
            page.push(m);
        }
        true
    });
    let len = if withscores && !resp3 { 2 * n } else { n };
    let next = if last < n { last as u64 } else { 0 };
    page.result(len, next)
}

/// ZPOPMIN / ZPOPMAX: the elements taken, in order. Taking them all
/// deletes the key without taking the set apart (a big one is freed in the
/// background, as every deleted key).
fn pop(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    max: bool,
    count: usize,
) -> Result<OpResult, OpError> {
    let all = read(shard, thash, key, now, KIND, |o| {
        let z = zset_of(o)?;
        (count >= z.len()).then(|| {
            let mut v = Vec::with_capacity(z.len());
            z.for_each(|s, m| v.push((b(m), s)));
            if max {
                v.reverse();
            }
            v
        })
    })?;
    if let Some(Some(v)) = all {
        shard.remove(thash, key);
        return Ok(OpResult::Scored(v));
    }
    edit(shard, thash, key, now, KIND, None, |o| {
        with_zset(o, |z| z.pop(max, count))
    })
    .map(|r| OpResult::Scored(r.flatten().unwrap_or_default()))
}

/// ZREMRANGEBY*: what the range covers goes; all of it deletes the key
/// (as [`pop`]). → Int(removed), or, for a lex range over members of
/// different scores, Scored(the members removed): which members such a
/// range covers depends on the encoding (Redis leaves it unspecified), so
/// the log must name them rather than the range.
fn rem_range(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    range: &ZRange,
) -> Result<OpResult, OpError> {
    let span = read(shard, thash, key, now, KIND, |o| {
        let z = zset_of(o)?;
        z.span(range, false).map(|s| (s, z.len()))
    })?;
    let Some(Some(((from, to), len))) = span else {
        return Ok(OpResult::Int(0));
    };
    if to - from == len {
        shard.remove(thash, key);
        return Ok(OpResult::Int(len as i64));
    }
    edit(shard, thash, key, now, KIND, None, |o| {
        with_zset(o, |z| {
            let r = z.as_ref();
            let mixed = matches!(range, ZRange::Lex(_))
                && r.get(0).map(|(s, _)| s) != r.get(len - 1).map(|(s, _)| s);
            if !mixed {
                return OpResult::Int(z.remove_ranks(from, to) as i64);
            }
            let mut gone = Vec::with_capacity(to - from);
            r.walk(from, to, false, |s, m| {
                gone.push((b(m), s));
                true
            });
            z.remove_ranks(from, to);
            OpResult::Scored(gone)
        })
    })
    .map(|r| r.flatten().unwrap_or(OpResult::Int(0)))
}

/// ZRANDMEMBER with Redis's count rules (as SRANDMEMBER's); without a
/// count, one element or nil.
fn rand_member(z: ZsetRef<'_>, count: Option<i64>, rand: &mut Rand) -> OpResult {
    let one = |r: u64| z.random(r).map(|(s, m)| (b(&m), s));
    let Some(count) = count else {
        return one(rand.next()).map_or(OpResult::Nil, |x| OpResult::Scored(vec![x]));
    };
    let n = z.len();
    if count >= 0 && (count as u64) < n as u64 {
        // Distinct ones, each found by its rank: no copy of a big set.
        let picks = distinct(n, count as usize, rand)
            .into_iter()
            .filter_map(|i| z.get(i).map(|(s, m)| (b(&m), s)))
            .collect();
        return OpResult::Scored(picks);
    }
    let all = || {
        let mut v = Vec::with_capacity(n);
        z.for_each(|s, m| v.push((b(m), s)));
        v
    };
    OpResult::Scored(rand_picks(n, count, rand, one, all))
}
