//! The set family: SADD, SREM, SISMEMBER, SMEMBERS, SPOP, SRANDMEMBER,
//! SSCAN and the rest. Handlers parse arguments into set ops; the ops'
//! semantics live in `storage`. It stands on `context` and never imports
//! another family or `dispatch`.

use super::args::{int_arg, rand_count, scan_args, NOT_INTEGER};
use super::context::{Ctx, Step};
use super::frame::Frame;
use super::whole::{whole, Whole};
use crate::storage::ops::{KeyOp, SetOp};
use bytes::Bytes;

fn one(ctx: &mut Ctx, key: &Bytes, op: SetOp) -> Step {
    Step::One(ctx.batch.key(key.clone(), KeyOp::OnSet(op)), Frame::from)
}

pub fn sadd(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], SetOp::Add(a[2..].to_vec()))
}

pub fn srem(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], SetOp::Rem(a[2..].to_vec()))
}

pub fn sismember(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], SetOp::IsMember(a[2].clone()))
}

pub fn smismember(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], SetOp::MIsMember(a[2..].to_vec()))
}

pub fn smembers(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    whole(ctx, &a[1], Whole::Members)
}

pub fn scard(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], SetOp::Card)
}

pub fn spop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let count = match a.get(2) {
        None => None,
        // Redis: "value is out of range, must be positive".
        Some(c) => match int_arg(c) {
            Ok(n) if n >= 0 => Some(n as usize),
            Ok(_) => return Step::Done(Frame::err("ERR value is out of range, must be positive")),
            Err(_) => return Step::Done(Frame::err(NOT_INTEGER)),
        },
    };
    if a.len() > 3 {
        return Step::Done(Frame::err(super::args::SYNTAX));
    }
    one(ctx, &a[1], SetOp::Pop(count))
}

pub fn srandmember(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    if a.len() > 3 {
        return Step::Done(Frame::err(super::args::SYNTAX));
    }
    match a.get(2).map(|c| rand_count(c)).transpose() {
        Ok(count) => one(ctx, &a[1], SetOp::RandMember(count)),
        Err(f) => Step::Done(f),
    }
}

pub fn sscan(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match scan_args(a, false) {
        Ok(s) => one(
            ctx,
            &a[1],
            SetOp::Scan {
                cursor: s.cursor,
                count: s.count,
                pattern: s.pattern,
            },
        ),
        Err(f) => Step::Done(f),
    }
}
