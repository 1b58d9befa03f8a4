//! The string family: GET, SET and its options, the INCR family, APPEND,
//! ranges, the multi-key MGET/MSET/MSETNX, and LCS. Handlers parse arguments
//! into shard ops; the ops' semantics live in `storage`. It stands on
//! `context` (and `atomic`'s read for LCS) and never imports another family
//! or `dispatch`.

use super::args::{int_arg, is, parse_i64, NOT_FLOAT, NOT_INTEGER, SYNTAX};
use super::context::{wrong_arity, Ctx, Step};
use super::frame::Frame;
use crate::storage::decimal::{self, Number};
use crate::storage::ops::{CoreOp, GetExTtl, KeyOp, OpError, OpResult, SetCond, SetTtl};
use bytes::Bytes;

fn one(ctx: &mut Ctx, key: &Bytes, op: KeyOp) -> Step {
    Step::One(ctx.batch.key(key.clone(), op), Frame::from)
}

pub fn get(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], KeyOp::Get)
}

/// Why an expire argument was refused: Redis answers these with different texts.
#[derive(Clone, Copy)]
enum BadExpire {
    NotInteger,
    OutOfRange,
}

impl BadExpire {
    fn frame(self, cmd: &str) -> Frame {
        match self {
            BadExpire::NotInteger => Frame::err(NOT_INTEGER),
            BadExpire::OutOfRange => {
                Frame::Error(format!("ERR invalid expire time in '{cmd}' command").into())
            }
        }
    }
}

/// Relative or absolute expiry given to SET/GETEX/SETEX, to an absolute deadline
/// counted from `now` (the batch's clock: a transaction's frozen one inside it).
/// Redis rejects non-positive values and anything that overflows.
fn deadline(unit_ms: i64, absolute: bool, v: &[u8], now: u64) -> Result<u64, BadExpire> {
    let n = parse_i64(v).ok_or(BadExpire::NotInteger)?;
    if n <= 0 {
        return Err(BadExpire::OutOfRange);
    }
    let ms = n.checked_mul(unit_ms).ok_or(BadExpire::OutOfRange)?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(now as i64).ok_or(BadExpire::OutOfRange)?
    };
    Ok(at as u64)
}

/// SET / GETEX option flags, as Redis's `parseExtendedStringArgumentsOrReply` keeps them.
const F_NX: u16 = 1;
const F_XX: u16 = 1 << 1;
const F_GET: u16 = 1 << 2;
const F_KEEPTTL: u16 = 1 << 3;
const F_PERSIST: u16 = 1 << 4;
const F_EX: u16 = 1 << 5;
const F_PX: u16 = 1 << 6;
const F_EXAT: u16 = 1 << 7;
const F_PXAT: u16 = 1 << 8;
const F_ANY_EXPIRE: u16 = F_EX | F_PX | F_EXAT | F_PXAT;

/// The parsed options of SET (`is_set`) or GETEX, exactly as Redis accepts them:
/// an option may repeat (the last expire value wins), but conflicting ones
/// (NX with XX, KEEPTTL or PERSIST with an expire, two different expire kinds)
/// are a syntax error.
struct Extended {
    flags: u16,
    /// The expire option's value, its unit in ms and whether it is absolute.
    expire: Option<(Bytes, i64, bool)>,
}

fn parse_extended(a: &[Bytes], is_set: bool) -> Result<Extended, Frame> {
    let mut x = Extended {
        flags: 0,
        expire: None,
    };
    let mut j = if is_set { 3 } else { 2 };
    while j < a.len() {
        let o = &a[j];
        let next = a.get(j + 1);
        let f = x.flags;
        if is_set && is(o, "NX") && f & F_XX == 0 {
            x.flags |= F_NX;
        } else if is_set && is(o, "XX") && f & F_NX == 0 {
            x.flags |= F_XX;
        } else if is_set && is(o, "GET") {
            x.flags |= F_GET;
        } else if is_set && is(o, "KEEPTTL") && f & (F_PERSIST | F_ANY_EXPIRE) == 0 {
            x.flags |= F_KEEPTTL;
        } else if !is_set && is(o, "PERSIST") && f & (F_KEEPTTL | F_ANY_EXPIRE) == 0 {
            x.flags |= F_PERSIST;
        } else if let Some((_, own, unit, absolute)) = [
            ("EX", F_EX, 1000, false),
            ("PX", F_PX, 1, false),
            ("EXAT", F_EXAT, 1000, true),
            ("PXAT", F_PXAT, 1, true),
        ]
        .into_iter()
        .find(|(w, ..)| is(o, w))
        {
            // The same expire option again is fine (the last value wins); any
            // other expire kind, KEEPTTL or PERSIST is not.
            let Some(v) = next.filter(|_| f & (F_KEEPTTL | F_PERSIST | (F_ANY_EXPIRE & !own)) == 0)
            else {
                return Err(Frame::err(SYNTAX));
            };
            x.flags |= own;
            x.expire = Some((v.clone(), unit, absolute));
            j += 1;
        } else {
            return Err(Frame::err(SYNTAX));
        }
        j += 1;
    }
    Ok(x)
}

impl Extended {
    /// The absolute deadline of the expire option, if one was given.
    fn deadline(&self, now: u64) -> Result<Option<u64>, BadExpire> {
        match &self.expire {
            Some((v, unit, absolute)) => deadline(*unit, *absolute, v, now).map(Some),
            None => Ok(None),
        }
    }
}

pub fn set(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let x = match parse_extended(a, true) {
        Ok(x) => x,
        Err(f) => return Step::Done(f),
    };
    let ttl = match x.deadline(ctx.batch.now()) {
        Ok(Some(d)) => SetTtl::At(d),
        Ok(None) if x.flags & F_KEEPTTL != 0 => SetTtl::Keep,
        Ok(None) => SetTtl::Clear,
        Err(e) => return Step::Done(e.frame("set")),
    };
    let cond = if x.flags & F_NX != 0 {
        SetCond::IfAbsent
    } else if x.flags & F_XX != 0 {
        SetCond::IfPresent
    } else {
        SetCond::Always
    };
    let op = KeyOp::Set {
        value: a[2].clone(),
        cond,
        ttl,
        get: x.flags & F_GET != 0,
    };
    one(ctx, &a[1], op)
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
    let at = match deadline(unit, false, &a[2], ctx.batch.now()) {
        Ok(d) => d,
        Err(e) => return Step::Done(e.frame(name)),
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
    let x = match parse_extended(a, false) {
        Ok(x) => x,
        Err(f) => return Step::Done(f),
    };
    // Redis validates the time only once the key is found (nil for a missing key).
    let ttl = match x.deadline(ctx.batch.now()) {
        Ok(Some(d)) => GetExTtl::At(d),
        Ok(None) if x.flags & F_PERSIST != 0 => GetExTtl::Persist,
        Ok(None) => GetExTtl::Keep,
        Err(BadExpire::NotInteger) => GetExTtl::Invalid(OpError::NotInteger),
        Err(BadExpire::OutOfRange) => GetExTtl::Invalid(OpError::InvalidGetExExpire),
    };
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
        return Step::Done(wrong_arity(ctx.spec.name));
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
        return Step::Done(wrong_arity(ctx.spec.name));
    }
    let pairs: Vec<(Bytes, Bytes)> = a[1..]
        .chunks(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(async move {
        let keys: Vec<&Bytes> = pairs.iter().map(|(k, _)| k).collect();
        let msetnx = || CoreOp::MSetNx {
            pairs: pairs.clone(),
        };
        if let Some(r) = seed.run_on_one_core(&keys, msetnx).await {
            return Frame::from(r);
        }
        let mut check = seed.batch();
        let ts: Vec<_> = pairs
            .iter()
            .map(|(k, _)| check.key(k.clone(), KeyOp::Exists))
            .collect();
        let mut rs = check.finish().await;
        if ts.into_iter().any(|t| rs.take(t) == OpResult::Int(1)) {
            return Frame::Int(0);
        }
        let mut set = seed.batch();
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
    match decimal::parse(&a[2]) {
        Some(Number::Finite(by)) => one(ctx, &a[1], KeyOp::IncrByFloat(by)),
        Some(Number::Infinite) => Step::Done(Frame::err(OpError::NanOrInf.to_string())),
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

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (mut len, mut idx, mut with_len, mut min) = (false, false, false, 0usize);
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "LEN") {
            len = true;
        } else if is(&a[i], "IDX") {
            idx = true;
        } else if is(&a[i], "WITHMATCHLEN") {
            with_len = true;
        } else if is(&a[i], "MINMATCHLEN") && i + 1 < a.len() {
            match int_arg(&a[i + 1]) {
                Ok(n) => min = n.max(0) as usize,
                Err(f) => return Step::Done(f),
            }
            i += 1;
        } else {
            return Step::Done(Frame::err(SYNTAX));
        }
        i += 1;
    }
    if len && idx {
        return Step::Done(Frame::err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let limit = ctx.world.config.borrow().proto_max_bulk_len;
    let (k1, k2) = (a[1].clone(), a[2].clone());
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(async move {
        let values = match super::atomic::string_values(&seed, &[k1, k2]).await {
            Ok(v) => v,
            Err(f) => return f,
        };
        // A missing key reads as an empty string.
        let mut it = values.into_iter().map(Option::unwrap_or_default);
        let (x, y) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        let found = match crate::storage::lcs::lcs(&x, &y, !len && !idx, idx, min, limit) {
            Ok(found) => found,
            Err(e) => return Frame::err(e),
        };
        if len {
            return Frame::Int(found.len as i64);
        }
        if !idx {
            return Frame::Bulk(Bytes::from(found.text));
        }
        let range =
            |(s, e): (usize, usize)| Frame::Array(vec![Frame::Int(s as i64), Frame::Int(e as i64)]);
        let matches = found
            .matches
            .into_iter()
            .map(|m| {
                let mut parts = vec![range(m.a), range(m.b)];
                if with_len {
                    parts.push(Frame::Int(m.len as i64));
                }
                Frame::Array(parts)
            })
            .collect();
        Frame::Map(vec![
            (Frame::bulk("matches"), Frame::Array(matches)),
            (Frame::bulk("len"), Frame::Int(found.len as i64)),
        ])
    }))
}
