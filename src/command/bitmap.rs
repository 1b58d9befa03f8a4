//! The bitmap family: SETBIT, GETBIT, BITCOUNT, BITPOS, BITFIELD,
//! BITFIELD_RO and BITOP, over strings. Handlers parse arguments (the bit
//! rules are `storage::bits`'s) into bitmap ops; BITOP reads its sources and
//! writes its destination as one step, wherever they live (`atomic`). It
//! stands on `context`, `args` and `atomic`, and never imports another
//! family or `dispatch`.

use super::args::{int_arg, SYNTAX};
use super::atomic::{atomically, string_values};
use super::context::{Ctx, Step};
use super::frame::Frame;
use crate::storage::bits::{self, BitOp, Unit};
use crate::storage::ops::{BitsOp, KeyOp, OpResult, SetCond, SetTtl};
use bytes::Bytes;

fn one(ctx: &mut Ctx, key: &Bytes, op: BitsOp) -> Step {
    Step::One(ctx.batch.key(key.clone(), KeyOp::Bits(op)), Frame::from)
}

fn max_bytes(ctx: &Ctx) -> u64 {
    ctx.world.config.borrow().proto_max_bulk_len
}

pub fn setbit(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let offset = match bits::parse_bit_offset(&a[2], max_bytes(ctx)) {
        Ok(o) => o,
        Err(e) => return Step::Done(Frame::err(e)),
    };
    match bits::parse_bit_value(&a[3]) {
        Ok(on) => one(ctx, &a[1], BitsOp::SetBit { offset, on }),
        Err(e) => Step::Done(Frame::err(e)),
    }
}

pub fn getbit(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match bits::parse_bit_offset(&a[2], max_bytes(ctx)) {
        Ok(o) => one(ctx, &a[1], BitsOp::GetBit(o)),
        Err(e) => Step::Done(Frame::err(e)),
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
pub fn bitcount(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (range, unit) = match a.len() {
        2 => (None, Unit::Byte),
        4 | 5 => {
            let (s, e) = match (int_arg(&a[2]), int_arg(&a[3])) {
                (Ok(s), Ok(e)) => (s, e),
                (Err(f), _) | (_, Err(f)) => return Step::Done(f),
            };
            let unit = match a.get(4).map(|u| Unit::parse(u)).transpose() {
                Ok(u) => u.unwrap_or(Unit::Byte),
                Err(e) => return Step::Done(Frame::err(e)),
            };
            (Some((s, e)), unit)
        }
        _ => return Step::Done(Frame::err(SYNTAX)),
    };
    one(ctx, &a[1], BitsOp::Count { range, unit })
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
pub fn bitpos(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let bit = match bits::parse_bit_value(&a[2]) {
        Ok(b) => b,
        Err(_) => return Step::Done(Frame::err("ERR The bit argument must be 1 or 0.")),
    };
    if a.len() > 6 {
        return Step::Done(Frame::err(SYNTAX));
    }
    let num = |i: usize| a.get(i).map(|v| int_arg(v)).transpose();
    let (start, end) = match (num(3), num(4)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(f), _) | (_, Err(f)) => return Step::Done(f),
    };
    let unit = match a.get(5).map(|u| Unit::parse(u)).transpose() {
        Ok(u) => u.unwrap_or(Unit::Byte),
        Err(e) => return Step::Done(Frame::err(e)),
    };
    one(
        ctx,
        &a[1],
        BitsOp::Pos {
            bit,
            start,
            end,
            unit,
        },
    )
}

fn bitfield_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) -> Step {
    let args: Vec<&[u8]> = a[2..].iter().map(|b| &b[..]).collect();
    match bits::parse_bitfield(&args, read_only, max_bytes(ctx)) {
        Ok(ops) => one(ctx, &a[1], BitsOp::Field(ops)),
        Err(e) => Step::Done(Frame::err(e)),
    }
}

pub fn bitfield(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    bitfield_generic(ctx, a, false)
}

pub fn bitfield_ro(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    bitfield_generic(ctx, a, true)
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
pub fn bitop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let op = match BitOp::parse(&a[1]) {
        Ok(op) => op,
        Err(e) => return Step::Done(Frame::err(e)),
    };
    if op == BitOp::Not && a.len() != 4 {
        return Step::Done(Frame::err(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let dst = a[2].clone();
    let srcs = a[3..].to_vec();
    let mut keys = srcs.clone();
    keys.push(dst.clone());
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(atomically(seed, keys, true, move |s| {
        Box::pin(async move {
            let values = match string_values(&s, &srcs).await {
                Ok(v) => v,
                Err(f) => return f,
            };
            // A missing source is all zeros, as an empty string is.
            let refs: Vec<&[u8]> = values.iter().map(|v| v.as_deref().unwrap_or(b"")).collect();
            let out = bits::bitop(op, &refs);
            let len = out.len() as i64;
            let store = if out.is_empty() {
                KeyOp::Del
            } else {
                KeyOp::Set {
                    value: Bytes::from(out),
                    cond: SetCond::Always,
                    ttl: SetTtl::Clear,
                    get: false,
                }
            };
            match s.run_key(dst, store).await {
                OpResult::Err(e) => Frame::err(e.to_string()),
                _ => Frame::Int(len),
            }
        })
    })))
}
