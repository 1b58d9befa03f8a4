//! The sorted set ranges: ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES),
//! its older forms ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//! ZRANGEBYLEX, ZREVRANGEBYLEX, and ZRANGESTORE, whose two keys may live on
//! two cores (run through `atomic`: nobody sees the destination half
//! written). One parser reads them all, as Redis's `zrangeGenericCommand`
//! does, with its errors in its order. The read forms are whole replies
//! (`whole`): encoded where the set lives, read in pages under the key's
//! intent lock when long, so a huge range never pauses its core. It stands
//! on `context`, `args`, `atomic` and `whole`, and never imports another
//! family or `dispatch`.

use super::args::{int_arg, is, lex_range, score_range, SYNTAX};
use super::atomic::atomically;
use super::context::{Ctx, Step};
use super::frame::Frame;
use super::whole::{whole, Whole};
use crate::protocol::reply::Proto;
use crate::storage::object::zset::ZRange;
use crate::storage::ops::{KeyOp, OpResult, ZsetOp};
use bytes::Bytes;

/// How a form reads its range: by rank, score or lex (ZRANGE: by its
/// options).
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// What a range command asks for: what `range` covers (counted from the
/// highest when `rev`), `offset` of it skipped, at most `count` taken.
struct Query {
    range: ZRange,
    rev: bool,
    offset: usize,
    count: Option<usize>,
    withscores: bool,
}

impl Query {
    /// The op reading it all at once.
    fn op(self) -> ZsetOp {
        ZsetOp::Range {
            range: self.range,
            rev: self.rev,
            offset: self.offset,
            count: self.count,
        }
    }
}

/// Redis's `zrangeGenericCommand` reading of `a[at..]` (`key min max
/// options...`): `by` and `rev` as the form fixes them (`None`: ZRANGE's
/// options choose), `store` for ZRANGESTORE (no WITHSCORES).
fn parse(
    a: &[Bytes],
    at: usize,
    mut by: By,
    rev: Option<bool>,
    store: bool,
) -> Result<Query, Frame> {
    let mut reverse = rev;
    let (mut withscores, mut limit) = (false, None);
    let mut j = at + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let w = &a[j];
        if !store && is(w, "withscores") {
            withscores = true;
        } else if is(w, "limit") && left >= 2 {
            limit = Some((int_arg(&a[j + 1])?, int_arg(&a[j + 2])?));
            j += 2;
        } else if rev.is_none() && is(w, "rev") {
            reverse = Some(true);
        } else if by == By::Auto && is(w, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(w, "byscore") {
            by = By::Score;
        } else {
            return Err(Frame::err(SYNTAX));
        }
        j += 1;
    }
    let rev = reverse.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit.is_some() && by == By::Rank {
        return Err(Frame::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Frame::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges are given max first.
    let (min, max) = if rev && by != By::Rank {
        (&a[at + 2], &a[at + 1])
    } else {
        (&a[at + 1], &a[at + 2])
    };
    let range = match by {
        By::Score => score_range(min, max)?,
        By::Lex => lex_range(min, max)?,
        _ => ZRange::Rank {
            start: int_arg(min)?,
            stop: int_arg(max)?,
        },
    };
    // LIMIT: a negative offset takes nothing, a negative count everything.
    let (offset, count) = match limit {
        None => (0, None),
        Some((o, _)) if o < 0 => (0, Some(0)),
        Some((o, c)) => (o as usize, usize::try_from(c).ok()),
    };
    Ok(Query {
        range,
        rev,
        offset,
        count,
        withscores,
    })
}

fn reply(ctx: &mut Ctx, a: &[Bytes], by: By, rev: Option<bool>) -> Step {
    match parse(a, 1, by, rev, false) {
        Ok(q) => {
            let what = Whole::ZsetRange {
                range: q.range,
                rev: q.rev,
                offset: q.offset,
                count: q.count,
                withscores: q.withscores,
                resp3: ctx.client.proto == Proto::Resp3,
            };
            whole(ctx, &a[1], what)
        }
        Err(f) => Step::Done(f),
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    reply(ctx, a, By::Auto, None)
}

pub fn zrevrange(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    reply(ctx, a, By::Rank, Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    reply(ctx, a, By::Score, Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    reply(ctx, a, By::Score, Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    reply(ctx, a, By::Lex, Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    reply(ctx, a, By::Lex, Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]:
/// the range read and the destination written as one step.
pub fn zrangestore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let q = match parse(a, 2, By::Auto, None, true) {
        Ok(q) => q,
        Err(f) => return Step::Done(f),
    };
    let (dst, src) = (a[1].clone(), a[2].clone());
    let seed = ctx.batch.seed();
    let keys = vec![dst.clone(), src.clone()];
    Step::Async(Box::pin(atomically(seed, keys, true, move |s| {
        Box::pin(async move {
            let pairs = match s.run_key(src, KeyOp::OnZset(q.op())).await {
                OpResult::Scored(v) => v,
                other => return Frame::from(other),
            };
            let store = ZsetOp::Store {
                pairs,
                event: "zrangestore",
            };
            Frame::from(s.run_key(dst, KeyOp::OnZset(store)).await)
        })
    })))
}
