//! The HyperLogLog family: PFADD, PFCOUNT and PFMERGE, on strings in
//! Redis's own HLL encodings (`storage::hll`). PFCOUNT of several keys and
//! PFMERGE merge the sketches' registers here, from values their cores sent,
//! as one step wherever the keys live (`atomic`). It stands on `context`
//! and `atomic`, and never imports another family or `dispatch`.

use super::atomic::{atomically, string_values};
use super::context::{Ctx, Step};
use super::frame::Frame;
use crate::storage::hll::{self, HllError, Registers};
use crate::storage::ops::{HllOp, KeyOp, OpError};
use bytes::Bytes;

fn hll_frame(e: HllError) -> Frame {
    Frame::err(match e {
        HllError::NotHll => OpError::NotHll.to_string(),
        HllError::Corrupt => OpError::HllCorrupt.to_string(),
    })
}

fn sparse_max(ctx: &Ctx) -> usize {
    usize::try_from(ctx.world.config.borrow().hll_sparse_max_bytes).unwrap_or(usize::MAX)
}

pub fn pfadd(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let op = HllOp::Add {
        elements: a[2..].to_vec(),
        sparse_max: sparse_max(ctx),
    };
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::Hll(op)), Frame::from)
}

pub fn pfcount(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    if a.len() == 2 {
        return Step::One(
            ctx.batch.key(a[1].clone(), KeyOp::Hll(HllOp::Count)),
            Frame::from,
        );
    }
    let keys = a[1..].to_vec();
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(atomically(seed, keys.clone(), false, move |s| {
        Box::pin(async move {
            let mut regs = Registers::new();
            match string_values(&s, &keys).await {
                Ok(vs) => {
                    for v in vs.into_iter().flatten() {
                        if let Err(e) = regs.merge(&v) {
                            return hll_frame(e);
                        }
                    }
                    Frame::Int(regs.count() as i64)
                }
                Err(f) => f,
            }
        })
    })))
}

/// PFMERGE destkey [sourcekey ...]
pub fn pfmerge(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let dst = a[1].clone();
    let srcs = a[2..].to_vec();
    let sparse = sparse_max(ctx);
    let mut keys = srcs.clone();
    keys.push(dst.clone());
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(atomically(seed, keys, true, move |s| {
        Box::pin(async move {
            let mut all = vec![dst.clone()];
            all.extend(srcs);
            let vs = match string_values(&s, &all).await {
                Ok(vs) => vs,
                Err(f) => return f,
            };
            let mut it = vs.into_iter();
            let dest = it.next().flatten();
            // The destination is checked first, as Redis reads it first.
            if let Some(d) = &dest {
                if let Err(e) = hll::check(d) {
                    return hll_frame(e);
                }
            }
            let mut regs = Registers::new();
            let mut any_dense = false;
            for v in it.flatten() {
                if let Err(e) = regs.merge(&v) {
                    return hll_frame(e);
                }
                any_dense |= hll::is_dense(&v);
            }
            let merged = match hll::merge_into(dest.as_deref(), &regs, any_dense, sparse) {
                Ok(m) => m,
                Err(e) => return hll_frame(e),
            };
            let store = KeyOp::Hll(HllOp::Store(Bytes::from(merged)));
            Frame::from(s.run_key(dst, store).await)
        })
    })))
}
