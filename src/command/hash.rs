//! The hash family: HSET, HGET, HDEL, HINCRBY, HRANDFIELD, HSCAN and the
//! rest. Handlers parse arguments into hash ops; the ops' semantics live in
//! `storage`. It stands on `context` and never imports another family or
//! `dispatch`.

use super::args::{int_arg, is, rand_count, scan_args, NOT_FLOAT, SYNTAX};
use super::context::{wrong_arity, Ctx, Step};
use super::frame::Frame;
use super::whole::{whole, Whole};
use crate::protocol::reply::Proto;
use crate::storage::decimal::{self, Number};
use crate::storage::ops::{HashOp, KeyOp, OpError, OpResult};
use bytes::Bytes;

fn one(ctx: &mut Ctx, key: &Bytes, op: HashOp) -> Step {
    Step::One(ctx.batch.key(key.clone(), KeyOp::OnHash(op)), Frame::from)
}

/// Field-value pairs from `a[2..]`, or the arity error when one is odd.
fn pairs(ctx: &Ctx, a: &[Bytes]) -> Result<Vec<(Bytes, Bytes)>, Frame> {
    if a.len() < 4 || !a.len().is_multiple_of(2) {
        return Err(wrong_arity(ctx.spec.name));
    }
    Ok(a[2..]
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect())
}

pub fn hset(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match pairs(ctx, a) {
        Ok(pairs) => one(ctx, &a[1], HashOp::Set { pairs, nx: false }),
        Err(f) => Step::Done(f),
    }
}

pub fn hmset(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match pairs(ctx, a) {
        Ok(pairs) => Step::One(
            ctx.batch.key(
                a[1].clone(),
                KeyOp::OnHash(HashOp::Set { pairs, nx: false }),
            ),
            |r| match r {
                OpResult::Int(_) => Frame::Ok,
                r => Frame::from(r),
            },
        ),
        Err(f) => Step::Done(f),
    }
}

pub fn hsetnx(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let pairs = vec![(a[2].clone(), a[3].clone())];
    one(ctx, &a[1], HashOp::Set { pairs, nx: true })
}

pub fn hget(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], HashOp::Get(a[2].clone()))
}

pub fn hmget(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], HashOp::MGet(a[2..].to_vec()))
}

pub fn hgetall(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    whole(ctx, &a[1], Whole::Pairs)
}

pub fn hkeys(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    whole(ctx, &a[1], Whole::Fields)
}

pub fn hvals(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    whole(ctx, &a[1], Whole::Values)
}

pub fn hlen(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], HashOp::Len)
}

pub fn hexists(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], HashOp::Exists(a[2].clone()))
}

pub fn hstrlen(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], HashOp::StrLen(a[2].clone()))
}

pub fn hdel(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], HashOp::Del(a[2..].to_vec()))
}

pub fn hincrby(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match int_arg(&a[3]) {
        Ok(by) => one(ctx, &a[1], HashOp::IncrBy(a[2].clone(), by)),
        Err(f) => Step::Done(f),
    }
}

pub fn hincrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match decimal::parse(&a[3]) {
        Some(Number::Finite(by)) => one(ctx, &a[1], HashOp::IncrByFloat(a[2].clone(), by)),
        Some(Number::Infinite) => Step::Done(Frame::err(OpError::NanOrInf.to_string())),
        None => Step::Done(Frame::err(NOT_FLOAT)),
    }
}

pub fn hrandfield(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let count = match a.get(2).map(|c| rand_count(c)).transpose() {
        Ok(c) => c,
        Err(f) => return Step::Done(f),
    };
    let values = match a.get(3) {
        None => false,
        Some(w) if is(w, "WITHVALUES") && a.len() == 4 => true,
        Some(_) => return Step::Done(Frame::err(SYNTAX)),
    };
    let op = KeyOp::OnHash(HashOp::RandField { count, values });
    let ticket = ctx.batch.key(a[1].clone(), op);
    // RESP3 answers each field and value as a pair; RESP2 flat.
    match ctx.client.proto {
        Proto::Resp3 => Step::One(ticket, |r| match r {
            OpResult::Pairs(p) => Frame::Array(
                p.into_iter()
                    .map(|(f, v)| Frame::Array(vec![Frame::Bulk(f), Frame::Bulk(v)]))
                    .collect(),
            ),
            r => Frame::from(r),
        }),
        _ => Step::One(ticket, |r| match r {
            OpResult::Pairs(p) => Frame::Array(
                p.into_iter()
                    .flat_map(|(f, v)| [Frame::Bulk(f), Frame::Bulk(v)])
                    .collect(),
            ),
            r => Frame::from(r),
        }),
    }
}

pub fn hscan(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match scan_args(a, true) {
        Ok(s) => one(
            ctx,
            &a[1],
            HashOp::Scan {
                cursor: s.cursor,
                count: s.count,
                pattern: s.pattern,
                novalues: s.novalues,
            },
        ),
        Err(f) => Step::Done(f),
    }
}
