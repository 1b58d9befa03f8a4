//! The sorted set algebra: ZUNION, ZINTER, ZDIFF (WEIGHTS, AGGREGATE
//! SUM|MIN|MAX, WITHSCORES), their STORE forms and ZINTERCARD (LIMIT).
//! Sets are sources too, every member scoring 1, as in Redis. Each reads
//! its sources and writes its destination as one step no other client sees
//! half-done, wherever the keys live (`atomic`); the algebra runs here, on
//! the client's core, over what the sources' cores sent, in Redis's order
//! (sources from the smallest, so sums round as Redis's do). It stands on
//! `context`, `args` and `atomic`, and never imports another family or
//! `dispatch`.

use super::args::{int_arg, is, parse_score, SYNTAX};
use super::atomic::atomically;
use super::context::{Ctx, Step};
use super::frame::Frame;
use crate::core::router::BatchSeed;
use crate::storage::object::zset::order;
use crate::storage::ops::{KeyOp, OpResult, ZsetOp};
use bytes::Bytes;
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's `zunionInterAggregate`: a sum of +inf and -inf is 0.
fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// What the arguments ask for. An option error is kept to be answered after
/// the sources' types were checked: Redis looks the keys up first.
struct Args {
    keys: Vec<Bytes>,
    weights: Vec<f64>,
    how: Aggregate,
    withscores: bool,
    limit: usize,
    late: Option<Frame>,
}

/// `numkeys key [key ...]` at `a[at..]`, then the options the form takes
/// (`dst`: a STORE form, `card`: ZINTERCARD).
fn parse(
    a: &[Bytes],
    at: usize,
    op: Algebra,
    dst: bool,
    card: bool,
    name: &str,
) -> Result<Args, Frame> {
    let n = int_arg(&a[at])?;
    if n < 1 {
        return Err(Frame::err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let n = n as usize;
    if n > a.len() - at - 1 {
        return Err(Frame::err(SYNTAX));
    }
    let mut args = Args {
        keys: a[at + 1..at + 1 + n].to_vec(),
        weights: vec![1.0; n],
        how: Aggregate::Sum,
        withscores: false,
        limit: 0,
        late: None,
    };
    let mut j = at + 1 + n;
    while j < a.len() {
        let left = a.len() - j;
        let w = &a[j];
        if op != Algebra::Diff && !card && left > n && is(w, "weights") {
            for (i, v) in a[j + 1..j + 1 + n].iter().enumerate() {
                match parse_score(v) {
                    Some(x) => args.weights[i] = x,
                    None => {
                        args.late = Some(Frame::err("ERR weight value is not a float"));
                        return Ok(args);
                    }
                }
            }
            j += 1 + n;
        } else if op != Algebra::Diff && !card && left >= 2 && is(w, "aggregate") {
            let v = &a[j + 1];
            args.how = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                args.late = Some(Frame::err(SYNTAX));
                return Ok(args);
            };
            j += 2;
        } else if !dst && !card && is(w, "withscores") {
            args.withscores = true;
            j += 1;
        } else if card && left >= 2 && is(w, "limit") {
            match int_arg(&a[j + 1]) {
                Ok(l) if l >= 0 => args.limit = l as usize,
                _ => {
                    args.late = Some(Frame::err("ERR LIMIT can't be negative"));
                    return Ok(args);
                }
            }
            j += 2;
        } else {
            args.late = Some(Frame::err(SYNTAX));
            return Ok(args);
        }
    }
    Ok(args)
}

/// Every source's members and scores (a set's scoring 1), in key order, or
/// the first key's error (WRONGTYPE).
async fn sources(seed: &BatchSeed, keys: &[Bytes]) -> Result<Vec<Vec<(Bytes, f64)>>, Frame> {
    let mut b = seed.batch();
    let tickets: Vec<_> = keys
        .iter()
        .map(|k| b.key(k.clone(), KeyOp::OnZset(ZsetOp::Members)))
        .collect();
    let mut r = b.finish().await;
    let mut out = Vec::with_capacity(keys.len());
    for t in tickets {
        match r.take(t) {
            OpResult::Scored(v) => out.push(v),
            other => return Err(Frame::from(other)),
        }
    }
    Ok(out)
}

/// The result of `op` over the sources, in the set's order; with `limit`
/// (ZINTERCARD) an intersection stops once it has that many.
fn compute(
    op: Algebra,
    srcs: Vec<Vec<(Bytes, f64)>>,
    weights: &[f64],
    how: Aggregate,
    limit: usize,
) -> Vec<(Bytes, f64)> {
    let mut srcs: Vec<(Vec<(Bytes, f64)>, f64)> =
        srcs.into_iter().zip(weights.iter().copied()).collect();
    let weigh = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut out: Vec<(Bytes, f64)> = match op {
        Algebra::Inter => {
            // From the smallest source (Redis's order: sums round alike).
            srcs.sort_by_key(|(s, _)| s.len());
            let mut it = srcs.into_iter();
            let Some((first, w0)) = it.next() else {
                return Vec::new();
            };
            let rest: Vec<(HashMap<Bytes, f64>, f64)> =
                it.map(|(s, w)| (s.into_iter().collect(), w)).collect();
            let mut acc = Vec::new();
            for (m, s) in first {
                let mut score = weigh(s, w0);
                let found = rest.iter().all(|(set, w)| match set.get(&m) {
                    Some(&v) => {
                        aggregate(&mut score, v * w, how);
                        true
                    }
                    None => false,
                });
                if found {
                    acc.push((m, score));
                    if limit > 0 && acc.len() >= limit {
                        break;
                    }
                }
            }
            acc
        }
        Algebra::Union => {
            srcs.sort_by_key(|(s, _)| s.len());
            let mut acc: HashMap<Bytes, f64> = HashMap::new();
            for (s, w) in srcs {
                for (m, v) in s {
                    let v = weigh(v, w);
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, how),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        Algebra::Diff => {
            let mut it = srcs.into_iter();
            let Some((first, _)) = it.next() else {
                return Vec::new();
            };
            let others: Vec<std::collections::HashSet<Bytes>> = it
                .map(|(s, _)| s.into_iter().map(|(m, _)| m).collect())
                .collect();
            first
                .into_iter()
                .filter(|(m, _)| !others.iter().any(|o| o.contains(m)))
                .collect()
        }
    };
    // -0 is 0 in a sorted set.
    for (_, s) in out.iter_mut() {
        if *s == 0.0 {
            *s = 0.0;
        }
    }
    out.sort_by(|(a, sa), (b, sb)| order(*sa, a, *sb, b));
    out
}

/// The sources read (keys held) and combined; an error a source gave, or
/// the one parsing left for after the reads (Redis's order), instead.
async fn result(
    seed: &BatchSeed,
    op: Algebra,
    args: &Args,
    limit: usize,
) -> Result<Vec<(Bytes, f64)>, Frame> {
    let srcs = sources(seed, &args.keys).await?;
    if let Some(f) = &args.late {
        return Err(f.clone());
    }
    Ok(compute(op, srcs, &args.weights, args.how, limit))
}

fn read_only(ctx: &mut Ctx, a: &[Bytes], op: Algebra, name: &str) -> Step {
    let args = match parse(a, 1, op, false, false, name) {
        Ok(args) => args,
        Err(f) => return Step::Done(f),
    };
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(atomically(
        seed,
        args.keys.clone(),
        false,
        move |s| {
            Box::pin(async move {
                let out = match result(&s, op, &args, 0).await {
                    Ok(v) => v,
                    Err(f) => return f,
                };
                if args.withscores {
                    Frame::Pairs(
                        out.into_iter()
                            .map(|(m, s)| (Frame::Bulk(m), Frame::Score(s)))
                            .collect(),
                    )
                } else {
                    Frame::Array(out.into_iter().map(|(m, _)| Frame::Bulk(m)).collect())
                }
            })
        },
    )))
}

fn store(ctx: &mut Ctx, a: &[Bytes], op: Algebra, name: &'static str) -> Step {
    let args = match parse(a, 2, op, true, false, name) {
        Ok(args) => args,
        Err(f) => return Step::Done(f),
    };
    let dst = a[1].clone();
    let seed = ctx.batch.seed();
    let mut held = args.keys.clone();
    held.push(dst.clone());
    Step::Async(Box::pin(atomically(seed, held, true, move |s| {
        Box::pin(async move {
            let pairs = match result(&s, op, &args, 0).await {
                Ok(v) => v,
                Err(f) => return f,
            };
            let store = ZsetOp::Store { pairs, event: name };
            Frame::from(s.run_key(dst, KeyOp::OnZset(store)).await)
        })
    })))
}

pub fn zunion(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    read_only(ctx, a, Algebra::Union, "zunion")
}

pub fn zinter(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    read_only(ctx, a, Algebra::Inter, "zinter")
}

pub fn zdiff(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    read_only(ctx, a, Algebra::Diff, "zdiff")
}

pub fn zunionstore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    store(ctx, a, Algebra::Union, "zunionstore")
}

pub fn zinterstore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    store(ctx, a, Algebra::Inter, "zinterstore")
}

pub fn zdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    store(ctx, a, Algebra::Diff, "zdiffstore")
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let args = match parse(a, 1, Algebra::Inter, false, true, "zintercard") {
        Ok(args) => args,
        Err(f) => return Step::Done(f),
    };
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(atomically(
        seed,
        args.keys.clone(),
        false,
        move |s| {
            Box::pin(async move {
                match result(&s, Algebra::Inter, &args, args.limit).await {
                    Ok(v) => Frame::Int(v.len() as i64),
                    Err(f) => f,
                }
            })
        },
    )))
}
