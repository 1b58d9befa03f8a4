//! The set commands over several keys: SINTER, SUNION, SDIFF and their
//! STORE forms, SINTERCARD and SMOVE. Each reads its sources and writes its
//! destination as one step that no other client sees half-done, wherever
//! the keys live (`atomic`). The algebra runs here, on the core the client
//! is on, over the members the sources' cores sent. It stands on `context`,
//! `args` and `atomic`, and never imports another family or `dispatch`.

use super::args::{int_arg, is, SYNTAX};
use super::atomic::{atomically, key_types};
use super::context::{Ctx, Step};
use super::frame::Frame;
use crate::core::router::BatchSeed;
use crate::storage::ops::{KeyOp, OpError, OpResult, SetOp};
use bytes::Bytes;
use std::collections::HashSet;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// Every source's members, in key order (None: no such key — a set is never
/// empty, so no members means no key), or the error of a key holding another
/// type. SINTER stops at its first missing key before looking at the rest,
/// as Redis does (a later key of the wrong type is then not reported).
async fn members_of(
    seed: &BatchSeed,
    keys: &[Bytes],
    stop_at_missing: bool,
) -> Result<Vec<Option<Vec<Bytes>>>, Frame> {
    let mut b = seed.batch();
    let tickets: Vec<_> = keys
        .iter()
        .map(|k| b.key(k.clone(), KeyOp::OnSet(SetOp::Members)))
        .collect();
    let mut results = b.finish().await;
    let mut out = Vec::with_capacity(keys.len());
    for t in tickets {
        match results.take(t) {
            OpResult::Members(m) if m.is_empty() => {
                out.push(None);
                if stop_at_missing {
                    break;
                }
            }
            OpResult::Members(m) => out.push(Some(m)),
            OpResult::Err(e) => return Err(Frame::err(e.to_string())),
            other => return Err(Frame::from(other)),
        }
    }
    Ok(out)
}

/// The result of `op` over the sources, in no particular order.
fn compute(op: Algebra, sources: Vec<Option<Vec<Bytes>>>) -> Vec<Bytes> {
    let mut it = sources.into_iter();
    let Some(first) = it.next() else {
        return Vec::new();
    };
    match op {
        Algebra::Inter => {
            let Some(first) = first else {
                return Vec::new();
            };
            let mut acc: HashSet<Bytes> = first.into_iter().collect();
            for s in it {
                let Some(s) = s else {
                    return Vec::new();
                };
                let s: HashSet<Bytes> = s.into_iter().collect();
                acc.retain(|m| s.contains(m));
            }
            acc.into_iter().collect()
        }
        Algebra::Union => {
            let mut acc: HashSet<Bytes> = first.unwrap_or_default().into_iter().collect();
            for s in it.flatten() {
                acc.extend(s);
            }
            acc.into_iter().collect()
        }
        Algebra::Diff => {
            let mut acc: HashSet<Bytes> = first.unwrap_or_default().into_iter().collect();
            for s in it.flatten() {
                for m in s {
                    acc.remove(&m);
                }
            }
            acc.into_iter().collect()
        }
    }
}

fn read_only(ctx: &mut Ctx, keys: Vec<Bytes>, op: Algebra) -> Step {
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(atomically(seed, keys.clone(), false, move |s| {
        Box::pin(async move {
            match members_of(&s, &keys, op == Algebra::Inter).await {
                Ok(sources) => {
                    Frame::Set(compute(op, sources).into_iter().map(Frame::Bulk).collect())
                }
                Err(f) => f,
            }
        })
    })))
}

fn store(ctx: &mut Ctx, dst: Bytes, keys: Vec<Bytes>, op: Algebra, event: &'static str) -> Step {
    let seed = ctx.batch.seed();
    let mut held = keys.clone();
    held.push(dst.clone());
    Step::Async(Box::pin(atomically(seed, held, true, move |s| {
        Box::pin(async move {
            let sources = match members_of(&s, &keys, op == Algebra::Inter).await {
                Ok(sources) => sources,
                Err(f) => return f,
            };
            let members = compute(op, sources);
            Frame::from(
                s.run_key(dst, KeyOp::OnSet(SetOp::Store { members, event }))
                    .await,
            )
        })
    })))
}

pub fn sinter(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    read_only(ctx, a[1..].to_vec(), Algebra::Inter)
}

pub fn sunion(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    read_only(ctx, a[1..].to_vec(), Algebra::Union)
}

pub fn sdiff(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    read_only(ctx, a[1..].to_vec(), Algebra::Diff)
}

pub fn sinterstore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    store(
        ctx,
        a[1].clone(),
        a[2..].to_vec(),
        Algebra::Inter,
        "sinterstore",
    )
}

pub fn sunionstore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    store(
        ctx,
        a[1].clone(),
        a[2..].to_vec(),
        Algebra::Union,
        "sunionstore",
    )
}

pub fn sdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    store(
        ctx,
        a[1].clone(),
        a[2..].to_vec(),
        Algebra::Diff,
        "sdiffstore",
    )
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let n = match int_arg(&a[1]) {
        Ok(n) if n > 0 => n as usize,
        Ok(_) => return Step::Done(Frame::err("ERR numkeys should be greater than 0")),
        Err(_) => return Step::Done(Frame::err("ERR numkeys should be greater than 0")),
    };
    if n > a.len() - 2 {
        return Step::Done(Frame::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys = a[2..2 + n].to_vec();
    let mut limit = 0usize;
    let mut i = 2 + n;
    while i < a.len() {
        if is(&a[i], "LIMIT") && i + 1 < a.len() {
            match int_arg(&a[i + 1]) {
                Ok(l) if l >= 0 => limit = l as usize,
                _ => return Step::Done(Frame::err("ERR LIMIT can't be negative")),
            }
            i += 2;
        } else {
            return Step::Done(Frame::err(SYNTAX));
        }
    }
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(atomically(seed, keys.clone(), false, move |s| {
        Box::pin(async move {
            match members_of(&s, &keys, true).await {
                Ok(sources) => {
                    let n = compute(Algebra::Inter, sources).len();
                    Frame::Int(if limit > 0 { n.min(limit) } else { n } as i64)
                }
                Err(f) => f,
            }
        })
    })))
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (src, dst, member) = (a[1].clone(), a[2].clone(), a[3].clone());
    let seed = ctx.batch.seed();
    let keys = vec![src.clone(), dst.clone()];
    Step::Async(Box::pin(atomically(seed, keys, true, move |s| {
        Box::pin(async move {
            // Both keys' types first, as Redis checks them before moving.
            let kinds = key_types(&s, &[src.clone(), dst.clone()]).await;
            let (ks, kd) = (kinds[0], kinds[1]);
            if ks == "none" {
                return Frame::Int(0);
            }
            if ks != "set" || (kd != "none" && kd != "set") {
                return Frame::err(OpError::WrongType.to_string());
            }
            if src == dst {
                return Frame::from(s.run_key(src, KeyOp::OnSet(SetOp::IsMember(member))).await);
            }
            match s
                .run_key(src, KeyOp::OnSet(SetOp::Rem(vec![member.clone()])))
                .await
            {
                OpResult::Int(1) => {}
                OpResult::Int(_) => return Frame::Int(0),
                other => return Frame::from(other),
            }
            s.run_key(dst, KeyOp::OnSet(SetOp::Add(vec![member]))).await;
            Frame::Int(1)
        })
    })))
}
