//! Replies holding a whole collection — SMEMBERS, HGETALL, HKEYS, HVALS,
//! and LRANGE, a list's range —
//! without a pause for everyone else on the key's core. A collection's
//! core encodes the reply itself, in pages of `storage::ops::PAGE`
//! elements. A small collection (one page) is answered by one op, as any
//! command; a big one is read page by page under the key's intent lock
//! (`atomic::holding`), the core serving other keys between pages while
//! writes to this key wait, so the reply is the collection at one instant,
//! as Redis's. The pages go to the socket as they are, never re-encoded.
//! Inside MULTI or a script (keys already held, no yielding) the whole
//! collection is read by one op. It never decides what a collection holds:
//! the ops do.

use super::atomic::holding;
use super::context::{Ctx, Reply, Step};
use super::frame::{Frame, Shape};
use crate::core::router::BatchSeed;
use crate::runtime::pace::turn;
use crate::storage::ops::{HashOp, HashPart, KeyOp, ListOp, OpResult, SetOp};
use bytes::Bytes;

/// Which whole reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl Whole {
    fn page(self, cursor: u64) -> KeyOp {
        let part = match self {
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
        };
        KeyOp::OnHash(HashOp::Page { cursor, part })
    }

    /// The op that reads it all at once.
    fn all(self) -> KeyOp {
        match self {
            Whole::Members => KeyOp::OnSet(SetOp::Members),
            Whole::Pairs => KeyOp::OnHash(HashOp::GetAll),
            Whole::Fields => KeyOp::OnHash(HashOp::Keys),
            Whole::Values => KeyOp::OnHash(HashOp::Vals),
            Whole::ListRange { start, stop } => KeyOp::OnList(ListOp::Range { start, stop }),
        }
    }

    fn shape(self) -> Shape {
        match self {
            Whole::Members => Shape::Set,
            Whole::Pairs => Shape::Map,
            Whole::Fields | Whole::Values | Whole::ListRange { .. } => Shape::Array,
        }
    }
}

/// The step of a whole reply of `key`.
pub fn whole(ctx: &mut Ctx, key: &Bytes, what: Whole) -> Step {
    if ctx.batch.tx() != 0 {
        return Step::One(ctx.batch.key(key.clone(), what.all()), Frame::from);
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
            let want = if what == Whole::Pairs { 2 * len } else { len };
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
            Frame::from(s.run_key(key, what.all()).await)
        })
    })
    .await
}
