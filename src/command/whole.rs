//! Replies holding a whole collection — SMEMBERS, HGETALL, HKEYS, HVALS,
//! LRANGE (a list's range) and ZRANGE with its older forms (a sorted set's
//! range) — without a pause for everyone else on the key's core. A
//! collection's core encodes the reply itself, in pages of
//! `storage::ops::PAGE` elements (a sorted set's scores in the connection's
//! protocol). A small collection (one page) is answered by one op, as any
//! command; a big one is read page by page under the key's intent lock
//! (`atomic::holding`), the core serving other keys between pages while
//! writes to this key wait, so the reply is the collection at one instant,
//! as Redis's. The pages go to the socket as they are, never re-encoded.
//! Inside MULTI or a script (keys already held, no yielding) the whole
//! collection is read by one op. It never decides what a collection holds:
//! the ops do.

use super::atomic::holding;
use super::context::{Ctx, Finish1, Reply, Step};
use super::frame::{Frame, Shape};
use crate::core::router::BatchSeed;
use crate::runtime::pace::turn;
use crate::storage::object::zset::ZRange;
use crate::storage::ops::{HashOp, HashPart, KeyOp, ListOp, OpResult, SetOp, ZsetOp};
use bytes::Bytes;

/// Which whole reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Whole {
    /// SMEMBERS
    Members,
    /// HGETALL
    Pairs,
    /// HKEYS
    Fields,
    /// HVALS
    Values,
    /// LRANGE key start stop
    ListRange { start: i64, stop: i64 },
    /// ZRANGE and its older forms: `ZsetOp::Range`'s reading, with or
    /// without scores, in the connection's protocol (`resp3`).
    ZsetRange {
        range: ZRange,
        rev: bool,
        offset: usize,
        count: Option<usize>,
        withscores: bool,
        resp3: bool,
    },
}

impl Whole {
    fn page(&self, cursor: u64) -> KeyOp {
        let part = match *self {
            Whole::Members => return KeyOp::OnSet(SetOp::Page { cursor }),
            Whole::Pairs => HashPart::Both,
            Whole::Fields => HashPart::Fields,
            Whole::Values => HashPart::Values,
            Whole::ListRange { start, stop } => {
                return KeyOp::OnList(ListOp::RangePage {
                    start,
                    stop,
                    cursor,
                })
            }
            Whole::ZsetRange {
                ref range,
                rev,
                offset,
                count,
                withscores,
                resp3,
            } => {
                return KeyOp::OnZset(ZsetOp::RangePage {
                    range: range.clone(),
                    rev,
                    offset,
                    count,
                    withscores,
                    resp3,
                    cursor,
                })
            }
        };
        KeyOp::OnHash(HashOp::Page { cursor, part })
    }

    /// The op that reads it all at once.
    fn all(&self) -> KeyOp {
        match *self {
            Whole::Members => KeyOp::OnSet(SetOp::Members),
            Whole::Pairs => KeyOp::OnHash(HashOp::GetAll),
            Whole::Fields => KeyOp::OnHash(HashOp::Keys),
            Whole::Values => KeyOp::OnHash(HashOp::Vals),
            Whole::ListRange { start, stop } => KeyOp::OnList(ListOp::Range { start, stop }),
            Whole::ZsetRange {
                ref range,
                rev,
                offset,
                count,
                ..
            } => KeyOp::OnZset(ZsetOp::Range {
                range: range.clone(),
                rev,
                offset,
                count,
            }),
        }
    }

    /// The reply of [`Whole::all`]'s result (a script converts it to Lua
    /// values, so it must be the plain frames, never pages).
    fn finish(&self) -> Finish1 {
        match self {
            Whole::ZsetRange {
                withscores: false, ..
            } => members_only,
            _ => Frame::from,
        }
    }

    /// How many elements the pages hold in all for a header of `len`.
    fn elements(&self, len: usize) -> usize {
        match self {
            Whole::Pairs => 2 * len,
            _ => len,
        }
    }

    fn shape(&self) -> Shape {
        match self {
            Whole::Members => Shape::Set,
            Whole::Pairs => Shape::Map,
            Whole::Fields | Whole::Values | Whole::ListRange { .. } | Whole::ZsetRange { .. } => {
                Shape::Array
            }
        }
    }
}

/// A sorted set's range without its scores.
fn members_only(r: OpResult) -> Frame {
    match r {
        OpResult::Scored(v) => Frame::Array(v.into_iter().map(|(m, _)| Frame::Bulk(m)).collect()),
        other => Frame::from(other),
    }
}

/// The step of a whole reply of `key`.
pub fn whole(ctx: &mut Ctx, key: &Bytes, what: Whole) -> Step {
    if ctx.batch.tx() != 0 {
        return Step::One(ctx.batch.key(key.clone(), what.all()), what.finish());
    }
    let seed = ctx.batch.seed();
    let key = key.clone();
    let ticket = ctx.batch.key(key.clone(), what.page(0));
    Step::Then(
        ticket,
        Box::new(move |r| match r {
            OpResult::Page {
                len,
                next: 0,
                chunk,
                ..
            } => Reply::Now(Frame::Encoded {
                shape: what.shape(),
                len,
                chunks: vec![chunk],
            }),
            // More than a page: start over with the key held.
            OpResult::Page { .. } => Reply::Later(Box::pin(paged(seed, key, what))),
            other => Reply::Now(Frame::from(other)),
        }),
    )
}

/// Read `key` page by page with its intent lock held.
async fn paged(seed: BatchSeed, key: Bytes, what: Whole) -> Frame {
    let held = vec![key.clone()];
    holding(seed, held, false, move |s| {
        Box::pin(async move {
            let (mut chunks, mut cursor, mut elements) = (Vec::new(), 0, 0);
            let len = loop {
                match s.run_key(key.clone(), what.page(cursor)).await {
                    OpResult::Page {
                        len,
                        next,
                        count,
                        chunk,
                    } => {
                        chunks.push(chunk);
                        elements += count;
                        if next == 0 {
                            break len;
                        }
                        cursor = next;
                    }
                    other => return Frame::from(other),
                }
                // Everyone else on the key's core runs before the next page.
                turn().await;
            };
            let want = what.elements(len);
            if elements == want {
                return Frame::Encoded {
                    shape: what.shape(),
                    len,
                    chunks,
                };
            }
            // The walk restarted (the table changed between pages, which a
            // held key should never do): one op reads it all instead.
            tracing::warn!(elements, want, "a paged reply did not add up; read whole");
            what.finish()(s.run_key(key, what.all()).await)
        })
    })
    .await
}
