//! The string family: GET, SET and its options, the INCR family, APPEND,
//! ranges, and the multi-key MGET/MSET/MSETNX. Handlers parse arguments into
//! shard ops; the ops' semantics live in `storage`.

use super::args::{int_arg, is, parse_f64, NOT_FLOAT, NOT_INTEGER, SYNTAX};
use super::exec::{Ctx, Step};
use super::frame::Frame;
use crate::storage::now_ms;
use crate::storage::ops::{CoreOp, GetExTtl, KeyOp, OpResult, SetCond, SetTtl};
use bytes::Bytes;

fn one(ctx: &mut Ctx, key: &Bytes, op: KeyOp) -> Step {
    Step::One(ctx.batch.key(key.clone(), op), Frame::from)
}

pub fn get(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], KeyOp::Get)
}

/// Relative or absolute expiry given to SET/GETEX/SETEX, to an absolute deadline.
/// Redis rejects non-positive values and anything that overflows.
fn deadline(cmd: &str, unit_ms: i64, absolute: bool, v: &[u8]) -> Result<u64, Frame> {
    let n = int_arg(v)?;
    let bad = || Frame::Error(format!("ERR invalid expire time in '{cmd}' command").into());
    if n <= 0 {
        return Err(bad());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(bad)?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(now_ms() as i64).ok_or_else(bad)?
    };
    Ok(at as u64)
}

pub fn set(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let mut cond = SetCond::Always;
    let mut ttl = SetTtl::Clear;
    let mut get = false;
    let mut i = 3;
    while i < a.len() {
        let o = &a[i];
        let next = a.get(i + 1);
        if is(o, "NX") && cond == SetCond::Always {
            cond = SetCond::IfAbsent;
        } else if is(o, "XX") && cond == SetCond::Always {
            cond = SetCond::IfPresent;
        } else if is(o, "GET") && !get {
            get = true;
        } else if is(o, "KEEPTTL") && ttl == SetTtl::Clear {
            ttl = SetTtl::Keep;
        } else if ttl == SetTtl::Clear
            && next.is_some()
            && (is(o, "EX") || is(o, "PX") || is(o, "EXAT") || is(o, "PXAT"))
        {
            let unit = if is(o, "EX") || is(o, "EXAT") {
                1000
            } else {
                1
            };
            let abs = is(o, "EXAT") || is(o, "PXAT");
            match deadline("set", unit, abs, next.map(|b| &b[..]).unwrap_or(b"")) {
                Ok(d) => ttl = SetTtl::At(d),
                Err(f) => return Step::Done(f),
            }
            i += 1;
        } else {
            return Step::Done(Frame::err(SYNTAX));
        }
        i += 1;
    }
    let value = a[2].clone();
    one(
        ctx,
        &a[1],
        KeyOp::Set {
            value,
            cond,
            ttl,
            get,
        },
    )
}

pub fn setnx(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let op = KeyOp::Set {
        value: a[2].clone(),
        cond: SetCond::IfAbsent,
        ttl: SetTtl::Clear,
        get: false,
    };
    Step::One(ctx.batch.key(a[1].clone(), op), |r| match r {
        OpResult::Ok => Frame::Int(1),
        OpResult::Nil => Frame::Int(0),
        other => Frame::from(other),
    })
}

fn setex_with(ctx: &mut Ctx, a: &[Bytes], unit: i64) -> Step {
    let name = if unit == 1000 { "setex" } else { "psetex" };
    let at = match deadline(name, unit, false, &a[2]) {
        Ok(d) => d,
        Err(f) => return Step::Done(f),
    };
    let op = KeyOp::Set {
        value: a[3].clone(),
        cond: SetCond::Always,
        ttl: SetTtl::At(at),
        get: false,
    };
    one(ctx, &a[1], op)
}

pub fn setex(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    setex_with(ctx, a, 1000)
}

pub fn psetex(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    setex_with(ctx, a, 1)
}

pub fn getset(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let op = KeyOp::Set {
        value: a[2].clone(),
        cond: SetCond::Always,
        ttl: SetTtl::Clear,
        get: true,
    };
    one(ctx, &a[1], op)
}

pub fn getdel(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], KeyOp::GetDel)
}

pub fn getex(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let mut ttl = GetExTtl::Keep;
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        if ttl != GetExTtl::Keep {
            return Step::Done(Frame::err(SYNTAX));
        }
        if is(o, "PERSIST") {
            ttl = GetExTtl::Persist;
        } else if (is(o, "EX") || is(o, "PX") || is(o, "EXAT") || is(o, "PXAT")) && i + 1 < a.len()
        {
            let unit = if is(o, "EX") || is(o, "EXAT") {
                1000
            } else {
                1
            };
            let abs = is(o, "EXAT") || is(o, "PXAT");
            match deadline("getex", unit, abs, &a[i + 1]) {
                Ok(d) => ttl = GetExTtl::At(d),
                Err(f) => return Step::Done(f),
            }
            i += 1;
        } else {
            return Step::Done(Frame::err(SYNTAX));
        }
        i += 1;
    }
    one(ctx, &a[1], KeyOp::GetEx { ttl })
}

pub fn mget(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let tickets = a[1..]
        .iter()
        .map(|k| ctx.batch.key(k.clone(), KeyOp::Get))
        .collect();
    Step::Many(tickets, |rs| {
        Frame::Array(
            rs.into_iter()
                .map(|r| match r {
                    OpResult::Bulk(b) => Frame::Bulk(b),
                    _ => Frame::Null,
                })
                .collect(),
        )
    })
}

pub fn mset(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    if a.len() % 2 != 1 {
        return Step::Done(super::exec::wrong_arity(ctx.spec.name));
    }
    let tickets = a[1..]
        .chunks(2)
        .map(|kv| {
            let op = KeyOp::Set {
                value: kv[1].clone(),
                cond: SetCond::Always,
                ttl: SetTtl::Clear,
                get: false,
            };
            ctx.batch.key(kv[0].clone(), op)
        })
        .collect();
    Step::Many(tickets, |rs| {
        rs.into_iter()
            .find(|r| matches!(r, OpResult::Err(_)))
            .map(Frame::from)
            .unwrap_or(Frame::Ok)
    })
}

/// MSETNX: atomic when every key lives on one core (keys sharing a `{tag}` always do);
/// across cores it checks every key, then sets them all — another client may slip a
/// write in between (documented in the README).
pub fn msetnx(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    if a.len() % 2 != 1 {
        return Step::Done(super::exec::wrong_arity(ctx.spec.name));
    }
    let pairs: Vec<(Bytes, Bytes)> = a[1..]
        .chunks(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    let first = ctx.world.core_of(&pairs[0].0);
    if pairs.iter().all(|(k, _)| ctx.world.core_of(k) == first) {
        let t = ctx.batch.core(first, CoreOp::MSetNx { pairs });
        return Step::One(t, Frame::from);
    }
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        let mut check = crate::core::router::Batch::new(world.clone());
        let ts: Vec<_> = pairs
            .iter()
            .map(|(k, _)| check.key(k.clone(), KeyOp::Exists))
            .collect();
        let mut rs = check.finish().await;
        if ts.into_iter().any(|t| rs.take(t) == OpResult::Int(1)) {
            return Frame::Int(0);
        }
        let mut set = crate::core::router::Batch::new(world);
        for (k, v) in pairs {
            set.key(
                k,
                KeyOp::Set {
                    value: v,
                    cond: SetCond::Always,
                    ttl: SetTtl::Clear,
                    get: false,
                },
            );
        }
        set.finish().await;
        Frame::Int(1)
    }))
}

fn incr_by(ctx: &mut Ctx, key: &Bytes, by: i64) -> Step {
    one(ctx, key, KeyOp::IncrBy(by))
}

pub fn incr(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    incr_by(ctx, &a[1], 1)
}

pub fn decr(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    incr_by(ctx, &a[1], -1)
}

pub fn incrby(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match int_arg(&a[2]) {
        Ok(n) => incr_by(ctx, &a[1], n),
        Err(f) => Step::Done(f),
    }
}

pub fn decrby(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match int_arg(&a[2]) {
        Ok(i64::MIN) => Step::Done(Frame::err("ERR decrement would overflow")),
        Ok(n) => incr_by(ctx, &a[1], -n),
        Err(f) => Step::Done(f),
    }
}

pub fn incrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match parse_f64(&a[2]) {
        Some(f) if f.is_finite() => one(ctx, &a[1], KeyOp::IncrByFloat(f)),
        Some(_) => Step::Done(Frame::err("ERR increment would produce NaN or Infinity")),
        None => Step::Done(Frame::err(NOT_FLOAT)),
    }
}

fn max_len(ctx: &Ctx) -> usize {
    ctx.world.config.borrow().proto_max_bulk_len as usize
}

pub fn append(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let max_len = max_len(ctx);
    one(
        ctx,
        &a[1],
        KeyOp::Append {
            value: a[2].clone(),
            max_len,
        },
    )
}

pub fn strlen(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], KeyOp::StrLen)
}

pub fn getrange(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (Ok(start), Ok(end)) = (int_arg(&a[2]), int_arg(&a[3])) else {
        return Step::Done(Frame::err(NOT_INTEGER));
    };
    one(ctx, &a[1], KeyOp::GetRange { start, end })
}

pub fn setrange(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let offset = match int_arg(&a[2]) {
        Ok(n) if n < 0 => return Step::Done(Frame::err("ERR offset is out of range")),
        Ok(n) => n as usize,
        Err(f) => return Step::Done(f),
    };
    let max_len = max_len(ctx);
    if offset.saturating_add(a[3].len()) > max_len {
        return Step::Done(Frame::err(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let op = KeyOp::SetRange {
        offset,
        value: a[3].clone(),
        max_len,
    };
    one(ctx, &a[1], op)
}
