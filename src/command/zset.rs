//! The sorted set family's one-key commands — ZADD, ZINCRBY, ZREM, ZSCORE,
//! ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK, ZPOPMIN, ZPOPMAX,
//! ZRANDMEMBER, ZREMRANGEBY*, ZSCAN — and ZMPOP, whose keys may live on
//! several cores, with its blocking forms BZPOPMIN, BZPOPMAX and BZMPOP:
//! all four pop through `blocking::first_pop` (atomic across cores, as
//! LMPOP), whose op is the one a serving core runs for a waiter (`Want`'s
//! pop, `ZsetOp::Pop` as [`pop_op`] makes it for ZPOPMIN/ZPOPMAX). The ranges (ZRANGE and its forms) are in `zset_range`,
//! the algebra (ZUNION, ZINTER, ZDIFF, ...) in `zset_algebra`. Handlers
//! parse arguments with Redis's errors into sorted set ops; the ops'
//! semantics live in `storage`. It stands on `context`, `args` and
//! `blocking`, and never imports another family or `dispatch`.

use super::args::{
    int_arg, is, lex_range, mpop_args, scan_args, score_arg, score_range, NOT_INTEGER, SYNTAX,
};
use super::blocking::{self, first_pop, keys_then_timeout, timeout_arg};
use super::context::{Ctx, Finish1, Step};
use super::frame::Frame;
use crate::core::waiters::Want;
use crate::storage::object::zset::{AddFlags, ZRange};
use crate::storage::ops::{KeyOp, OpResult, ZsetOp};
use bytes::Bytes;

fn one(ctx: &mut Ctx, key: &Bytes, op: ZsetOp) -> Step {
    one_with(ctx, key, op, Frame::from)
}

fn one_with(ctx: &mut Ctx, key: &Bytes, op: ZsetOp, finish: Finish1) -> Step {
    Step::One(ctx.batch.key(key.clone(), KeyOp::OnZset(op)), finish)
}

/// Members without their scores (ZRANGE without WITHSCORES).
pub fn members_only(r: OpResult) -> Frame {
    match r {
        OpResult::Scored(v) => Frame::Array(v.into_iter().map(|(m, _)| Frame::Bulk(m)).collect()),
        other => Frame::from(other),
    }
}

fn zadd_reply(r: OpResult) -> Frame {
    match r {
        OpResult::Zadd { added, .. } => Frame::Int(added),
        other => Frame::from(other),
    }
}

fn zadd_ch_reply(r: OpResult) -> Frame {
    match r {
        OpResult::Zadd { added, updated, .. } => Frame::Int(added + updated),
        other => Frame::from(other),
    }
}

/// ZINCRBY's and ZADD INCR's: the new score, or nil when a condition held
/// the member back.
fn zincr_reply(r: OpResult) -> Frame {
    match r {
        OpResult::Zadd { score, .. } => score.map_or(Frame::Null, Frame::Score),
        other => Frame::from(other),
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...],
/// and ZINCRBY key increment member (ZADD INCR, as Redis parses it).
fn zadd_generic(ctx: &mut Ctx, a: &[Bytes], incr: bool) -> Step {
    let mut flags = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while let Some(opt) = a.get(i) {
        if is(opt, "nx") {
            flags.nx = true;
        } else if is(opt, "xx") {
            flags.xx = true;
        } else if is(opt, "ch") {
            ch = true;
        } else if is(opt, "incr") {
            flags.incr = true;
        } else if is(opt, "gt") {
            flags.gt = true;
        } else if is(opt, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &a[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Step::Done(Frame::err(SYNTAX));
    }
    if flags.nx && flags.xx {
        return Step::Done(Frame::err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Step::Done(Frame::err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && rest.len() > 2 {
        return Step::Done(Frame::err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Every score first: a bad one changes nothing.
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        match score_arg(&p[0]) {
            Ok(s) => pairs.push((s, p[1].clone())),
            Err(f) => return Step::Done(f),
        }
    }
    let finish: Finish1 = if flags.incr {
        zincr_reply
    } else if ch {
        zadd_ch_reply
    } else {
        zadd_reply
    };
    one_with(ctx, &a[1], ZsetOp::Add { pairs, flags }, finish)
}

pub fn zadd(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    zadd_generic(ctx, a, false)
}

pub fn zincrby(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    zadd_generic(ctx, a, true)
}

pub fn zrem(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], ZsetOp::Rem(a[2..].to_vec()))
}

pub fn zscore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one_with(ctx, &a[1], ZsetOp::Score(vec![a[2].clone()]), |r| match r {
        OpResult::Scores(v) => v
            .first()
            .copied()
            .flatten()
            .map_or(Frame::Null, Frame::Score),
        other => Frame::from(other),
    })
}

pub fn zmscore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], ZsetOp::Score(a[2..].to_vec()))
}

pub fn zcard(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], ZsetOp::Card)
}

pub fn zcount(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match score_range(&a[2], &a[3]) {
        Ok(r) => one(ctx, &a[1], ZsetOp::Count(r)),
        Err(f) => Step::Done(f),
    }
}

pub fn zlexcount(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match lex_range(&a[2], &a[3]) {
        Ok(r) => one(ctx, &a[1], ZsetOp::Count(r)),
        Err(f) => Step::Done(f),
    }
}

/// ZRANK / ZREVRANK key member [WITHSCORE] (Redis 7.2's form).
fn rank(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> Step {
    if a.len() > 4 {
        return Step::Done(Frame::err(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.spec.name
        )));
    }
    let withscore = match a.get(3) {
        None => false,
        Some(w) if is(w, "withscore") => true,
        Some(_) => return Step::Done(Frame::err(SYNTAX)),
    };
    let op = ZsetOp::Rank {
        member: a[2].clone(),
        rev,
    };
    if withscore {
        one_with(ctx, &a[1], op, |r| match r {
            OpResult::Rank(r, s) => Frame::Array(vec![Frame::Int(r), Frame::Score(s)]),
            OpResult::Nil => Frame::NullArray,
            other => Frame::from(other),
        })
    } else {
        one_with(ctx, &a[1], op, |r| match r {
            OpResult::Rank(r, _) => Frame::Int(r),
            other => Frame::from(other),
        })
    }
}

pub fn zrank(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    rank(ctx, a, false)
}

pub fn zrevrank(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    rank(ctx, a, true)
}

/// The one pop of ZPOPMIN, ZPOPMAX and ZMPOP (and of the blocking pops):
/// up to `count` of the lowest (or, `max`, the highest) elements.
pub fn pop_op(max: bool, count: usize) -> KeyOp {
    KeyOp::OnZset(ZsetOp::Pop { max, count })
}

/// ZPOPMIN / ZPOPMAX key [count]: without a count a flat `[member,
/// score]`; with one, pairs (nested in RESP3); an empty array for no key.
fn zpop(ctx: &mut Ctx, a: &[Bytes], max: bool) -> Step {
    if a.len() > 3 {
        return Step::Done(Frame::err(SYNTAX));
    }
    let count = match a.get(2).map(|c| int_arg(c)) {
        None => None,
        Some(Ok(n)) if n >= 0 => Some(n as usize),
        Some(_) => {
            return Step::Done(Frame::err("ERR value is out of range, must be positive"));
        }
    };
    let ticket = ctx.batch.key(a[1].clone(), pop_op(max, count.unwrap_or(1)));
    if count.is_some() {
        return Step::One(ticket, Frame::from);
    }
    Step::One(ticket, |r| match r {
        OpResult::Scored(v) => Frame::Array(
            v.into_iter()
                .flat_map(|(m, s)| [Frame::Bulk(m), Frame::Score(s)])
                .collect(),
        ),
        other => Frame::from(other),
    })
}

pub fn zpopmin(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    zpop(ctx, a, false)
}

pub fn zpopmax(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    zpop(ctx, a, true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pop from the first of
/// the keys that holds a sorted set, as one step wherever they live.
pub fn zmpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match mpop_args(a, ["min", "max"]) {
        Ok((keys, min, count)) => {
            let want = Want::Zset {
                max: !min,
                count: Some(count),
            };
            Step::Async(first_pop(ctx.batch.seed(), keys, want, keyed_many))
        }
        Err(f) => Step::Done(f),
    }
}

/// `[key, member, score]`: BZPOPMIN's and BZPOPMAX's reply.
fn keyed_one(key: Bytes, r: OpResult) -> Frame {
    let OpResult::Scored(v) = r else {
        return Frame::from(r);
    };
    let mut out = vec![Frame::Bulk(key)];
    out.extend(
        v.into_iter()
            .flat_map(|(m, s)| [Frame::Bulk(m), Frame::Score(s)]),
    );
    Frame::Array(out)
}

/// `[key, [[member, score], ...]]`: ZMPOP's and BZMPOP's reply.
fn keyed_many(key: Bytes, r: OpResult) -> Frame {
    let OpResult::Scored(v) = r else {
        return Frame::from(r);
    };
    Frame::Array(vec![
        Frame::Bulk(key),
        Frame::Array(
            v.into_iter()
                .map(|(m, s)| Frame::Array(vec![Frame::Bulk(m), Frame::Score(s)]))
                .collect(),
        ),
    ])
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout
fn bzpop(ctx: &mut Ctx, a: &[Bytes], max: bool) -> Step {
    match keys_then_timeout(a) {
        Ok((keys, timeout)) => {
            let want = Want::Zset { max, count: None };
            blocking::run_pop(ctx, keys, want, timeout, keyed_one)
        }
        Err(f) => Step::Done(f),
    }
}

pub fn bzpopmin(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    bzpop(ctx, a, false)
}

pub fn bzpopmax(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    bzpop(ctx, a, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let timeout = match timeout_arg(&a[1]) {
        Ok(t) => t,
        Err(f) => return Step::Done(f),
    };
    let (keys, min, count) = match mpop_args(&a[1..], ["min", "max"]) {
        Ok(parsed) => parsed,
        Err(f) => return Step::Done(f),
    };
    let want = Want::Zset {
        max: !min,
        count: Some(count),
    };
    blocking::run_pop(ctx, keys, want, timeout, keyed_many)
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub fn zrandmember(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let Some(c) = a.get(2) else {
        return one_with(ctx, &a[1], ZsetOp::RandMember(None), |r| match r {
            OpResult::Scored(mut v) => v.pop().map_or(Frame::Null, |(m, _)| Frame::Bulk(m)),
            other => Frame::from(other),
        });
    };
    let count = match int_arg(c) {
        Ok(i64::MIN) => {
            return Step::Done(Frame::err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ))
        }
        Ok(n) => n,
        Err(_) => return Step::Done(Frame::err(NOT_INTEGER)),
    };
    let withscores = match a.get(3) {
        None => false,
        Some(w) if a.len() == 4 && is(w, "withscores") => true,
        Some(_) => return Step::Done(Frame::err(SYNTAX)),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Step::Done(Frame::err("ERR value is out of range"));
    }
    let op = ZsetOp::RandMember(Some(count));
    if withscores {
        one_with(ctx, &a[1], op, |r| match r {
            OpResult::Nil => Frame::Array(Vec::new()),
            other => Frame::from(other),
        })
    } else {
        one_with(ctx, &a[1], op, |r| match r {
            OpResult::Nil => Frame::Array(Vec::new()),
            other => members_only(other),
        })
    }
}

pub fn zremrangebyrank(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match (int_arg(&a[2]), int_arg(&a[3])) {
        (Ok(start), Ok(stop)) => one(ctx, &a[1], ZsetOp::RemRange(ZRange::Rank { start, stop })),
        (Err(f), _) | (_, Err(f)) => Step::Done(f),
    }
}

pub fn zremrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match score_range(&a[2], &a[3]) {
        Ok(r) => one(ctx, &a[1], ZsetOp::RemRange(r)),
        Err(f) => Step::Done(f),
    }
}

pub fn zremrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match lex_range(&a[2], &a[3]) {
        // Over members of different scores the op names what it removed.
        Ok(r) => one_with(ctx, &a[1], ZsetOp::RemRange(r), |r| match r {
            OpResult::Scored(v) => Frame::Int(v.len() as i64),
            other => Frame::from(other),
        }),
        Err(f) => Step::Done(f),
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: members and their
/// scores' text, flat.
pub fn zscan(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match scan_args(a, false) {
        Ok(s) => one(
            ctx,
            &a[1],
            ZsetOp::Scan {
                cursor: s.cursor,
                count: s.count,
                pattern: s.pattern,
            },
        ),
        Err(f) => Step::Done(f),
    }
}
