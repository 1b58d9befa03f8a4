//! The list family: LPUSH, RPUSH, LPOP, RPOP, LRANGE, LINSERT, LPOS and the
//! rest of the one-key list commands; LMOVE, RPOPLPUSH and LMPOP, whose
//! keys may live on two cores (run through `atomic`, as SMOVE is); and their
//! blocking forms BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH, which run the
//! same steps first and wait through `blocking` when there is nothing to
//! take. Handlers parse arguments into list ops; the ops' semantics live in
//! `storage`. It stands on `context`, `atomic`, `blocking` and `whole` (LRANGE
//! is a whole reply, encoded where the list lives) and never
//! imports another family or `dispatch`.

use super::args::{int_arg, is, mpop_args, SYNTAX};
use super::atomic::{atomically, key_types, Steps};
use super::blocking::{self, first_pop, keyed, keys_then_timeout, timeout_arg, Blocker};
use super::context::{Ctx, Step};
use super::frame::Frame;
use super::whole::{whole, Whole};
use crate::core::router::BatchSeed;
use crate::core::waiters::Want;
use crate::storage::ops::{KeyOp, ListOp, OpError, OpResult};
use bytes::Bytes;

fn one(ctx: &mut Ctx, key: &Bytes, op: ListOp) -> Step {
    Step::One(ctx.batch.key(key.clone(), KeyOp::OnList(op)), Frame::from)
}

fn push(ctx: &mut Ctx, a: &[Bytes], front: bool, xx: bool) -> Step {
    let values = a[2..].to_vec();
    one(ctx, &a[1], ListOp::Push { front, values, xx })
}

pub fn lpush(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    push(ctx, a, true, false)
}

pub fn rpush(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    push(ctx, a, false, false)
}

pub fn lpushx(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    push(ctx, a, true, true)
}

pub fn rpushx(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    push(ctx, a, false, true)
}

fn pop(ctx: &mut Ctx, a: &[Bytes], front: bool) -> Step {
    if a.len() > 3 {
        return Step::Done(Frame::err(SYNTAX));
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => match int_arg(c) {
            Ok(n) if n >= 0 => Some(n as usize),
            // Redis's text for LPOP/RPOP's count.
            Ok(_) => return Step::Done(Frame::err("ERR value is out of range, must be positive")),
            Err(f) => return Step::Done(f),
        },
    };
    let op = ListOp::Pop { front, count };
    if count.is_none() {
        return one(ctx, &a[1], op);
    }
    // With a count, a missing key is a null array, as Redis answers.
    Step::One(
        ctx.batch.key(a[1].clone(), KeyOp::OnList(op)),
        |r| match r {
            OpResult::Nil => Frame::NullArray,
            r => Frame::from(r),
        },
    )
}

pub fn lpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    pop(ctx, a, true)
}

pub fn rpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    pop(ctx, a, false)
}

pub fn llen(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    one(ctx, &a[1], ListOp::Len)
}

/// Two integer arguments at `a[2]` and `a[3]` (a range's start and stop).
fn range_args(a: &[Bytes]) -> Result<(i64, i64), Frame> {
    Ok((int_arg(&a[2])?, int_arg(&a[3])?))
}

pub fn lrange(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match range_args(a) {
        Ok((start, stop)) => whole(ctx, &a[1], Whole::ListRange { start, stop }),
        Err(f) => Step::Done(f),
    }
}

pub fn ltrim(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match range_args(a) {
        Ok((start, stop)) => one(ctx, &a[1], ListOp::Trim { start, stop }),
        Err(f) => Step::Done(f),
    }
}

pub fn lindex(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match int_arg(&a[2]) {
        Ok(i) => one(ctx, &a[1], ListOp::Index(i)),
        Err(f) => Step::Done(f),
    }
}

pub fn lset(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match int_arg(&a[2]) {
        Ok(index) => one(
            ctx,
            &a[1],
            ListOp::Set {
                index,
                value: a[3].clone(),
            },
        ),
        Err(f) => Step::Done(f),
    }
}

pub fn linsert(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let before = if is(&a[2], "before") {
        true
    } else if is(&a[2], "after") {
        false
    } else {
        return Step::Done(Frame::err(SYNTAX));
    };
    one(
        ctx,
        &a[1],
        ListOp::Insert {
            before,
            pivot: a[3].clone(),
            value: a[4].clone(),
        },
    )
}

pub fn lrem(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match int_arg(&a[2]) {
        Ok(count) => one(
            ctx,
            &a[1],
            ListOp::Rem {
                count,
                value: a[3].clone(),
            },
        ),
        Err(f) => Step::Done(f),
    }
}

/// LPOS's options after the element: RANK, COUNT and MAXLEN, each at most
/// once in effect (the last one wins, as in Redis).
fn pos_args(a: &[Bytes]) -> Result<ListOp, Frame> {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < a.len() {
        let Some(v) = a.get(i + 1) else {
            return Err(Frame::err(SYNTAX));
        };
        let n = int_arg(v)?;
        if is(&a[i], "rank") {
            if n == 0 {
                return Err(Frame::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
            if n == i64::MIN {
                // Its negation would overflow: Redis refuses it too.
                return Err(Frame::err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            rank = n;
        } else if is(&a[i], "count") {
            if n < 0 {
                return Err(Frame::err("ERR COUNT can't be negative"));
            }
            count = Some(n as usize);
        } else if is(&a[i], "maxlen") {
            if n < 0 {
                return Err(Frame::err("ERR MAXLEN can't be negative"));
            }
            maxlen = n as usize;
        } else {
            return Err(Frame::err(SYNTAX));
        }
        i += 2;
    }
    Ok(ListOp::Pos {
        value: a[2].clone(),
        rank,
        count,
        maxlen,
    })
}

pub fn lpos(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match pos_args(a) {
        Ok(op) => one(ctx, &a[1], op),
        Err(f) => Step::Done(f),
    }
}

/// LEFT or RIGHT: whether it names the head.
fn side(arg: &[u8]) -> Option<bool> {
    if is(arg, "left") {
        Some(true)
    } else if is(arg, "right") {
        Some(false)
    } else {
        None
    }
}

/// Pop one element off `src` at `from` and push it onto `dst` at `to`, so
/// that no client sees it in neither list or in both (Redis's LMOVE).
fn lmove_step(ctx: &mut Ctx, src: Bytes, dst: Bytes, from: bool, to: bool) -> Step {
    Step::Async(move_steps(ctx.batch.seed(), src, dst, from, to))
}

/// LMOVE's steps: the element moved, or null when `src` has none.
fn move_steps(seed: BatchSeed, src: Bytes, dst: Bytes, from: bool, to: bool) -> Steps {
    let keys = vec![src.clone(), dst.clone()];
    Box::pin(atomically(seed, keys, true, move |s| {
        Box::pin(async move {
            // Both keys' types first: Redis pops nothing when the
            // destination holds another type.
            let kinds = key_types(&s, &[src.clone(), dst.clone()]).await;
            if kinds[0] == "none" {
                return Frame::Null;
            }
            if kinds[0] != "list" || !matches!(kinds[1], "none" | "list") {
                return Frame::err(OpError::WrongType.to_string());
            }
            let pop = ListOp::Pop {
                front: from,
                count: None,
            };
            let value = match s.run_key(src, KeyOp::OnList(pop)).await {
                OpResult::Bulk(v) => v,
                other => return Frame::from(other),
            };
            let push = ListOp::Push {
                front: to,
                values: vec![value.clone()],
                xx: false,
            };
            match s.run_key(dst, KeyOp::OnList(push)).await {
                OpResult::Int(_) => Frame::Bulk(value),
                other => Frame::from(other),
            }
        })
    }))
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match (side(&a[3]), side(&a[4])) {
        (Some(from), Some(to)) => lmove_step(ctx, a[1].clone(), a[2].clone(), from, to),
        _ => Step::Done(Frame::err(SYNTAX)),
    }
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    lmove_step(ctx, a[1].clone(), a[2].clone(), false, true)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pop from the first
/// of the keys that holds a list.
pub fn lmpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (keys, front, count) = match mpop_args(a, ["left", "right"]) {
        Ok(parsed) => parsed,
        Err(f) => return Step::Done(f),
    };
    let want = Want::List {
        front,
        count: Some(count),
    };
    Step::Async(first_pop(ctx.batch.seed(), keys, want, keyed))
}

/// BLPOP / BRPOP key [key ...] timeout
fn bpop(ctx: &mut Ctx, a: &[Bytes], front: bool) -> Step {
    match keys_then_timeout(a) {
        Ok((keys, timeout)) => {
            let want = Want::List { front, count: None };
            blocking::run_pop(ctx, keys, want, timeout, keyed)
        }
        Err(f) => Step::Done(f),
    }
}

pub fn blpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    bpop(ctx, a, true)
}

pub fn brpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    bpop(ctx, a, false)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let timeout = match timeout_arg(&a[1]) {
        Ok(t) => t,
        Err(f) => return Step::Done(f),
    };
    let (keys, front, count) = match mpop_args(&a[1..], ["left", "right"]) {
        Ok(parsed) => parsed,
        Err(f) => return Step::Done(f),
    };
    let want = Want::List {
        front,
        count: Some(count),
    };
    blocking::run_pop(ctx, keys, want, timeout, keyed)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let timeout = match timeout_arg(&a[5]) {
        Ok(t) => t,
        Err(f) => return Step::Done(f),
    };
    match (side(&a[3]), side(&a[4])) {
        (Some(from), Some(to)) => bmove(ctx, a[1].clone(), a[2].clone(), from, to, timeout),
        _ => Step::Done(Frame::err(SYNTAX)),
    }
}

/// BRPOPLPUSH source destination timeout: BLMOVE ... RIGHT LEFT.
pub fn brpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match timeout_arg(&a[3]) {
        Ok(timeout) => bmove(ctx, a[1].clone(), a[2].clone(), false, true, timeout),
        Err(f) => Step::Done(f),
    }
}

fn bmove(
    ctx: &mut Ctx,
    src: Bytes,
    dst: Bytes,
    from: bool,
    to: bool,
    timeout: Option<std::time::Duration>,
) -> Step {
    let b = Blocker {
        keys: vec![src.clone()],
        want: Want::Move,
        timeout,
        nothing: Frame::Null,
    };
    let attempt = move |s: BatchSeed| move_steps(s, src.clone(), dst.clone(), from, to);
    // A move is never popped for: its waiter is woken and moves it itself.
    blocking::run(ctx, b, Box::new(attempt), |_, _| Frame::Null)
}
