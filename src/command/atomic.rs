//! Running a multi-key command so that no other client sees it half-done,
//! wherever its keys live (SINTERSTORE, SMOVE, BITOP, PFMERGE, ...): inside
//! MULTI or a script its keys are already held; when every key is this
//! core's and free, its ops run within one poll (nothing else runs between
//! them); otherwise it takes the keys' intent locks core by core in the one
//! global order transactions use (`core::txn::hold_keys`), runs, and lets
//! go; a command whose keys show only as it runs may hold every core whole
//! instead ([`holding_everything`]). It never decides what the command
//! does — the caller's steps do; it only offers the reads most of them
//! start with ([`string_values`], [`key_types`]).

use super::frame::Frame;
use crate::core::router::{Batch, BatchSeed};
use crate::core::txn::Hold;
use crate::core::world::World;
use crate::storage::now_ms;
use crate::storage::ops::{KeyOp, OpError, OpResult};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

pub type Steps = Pin<Box<dyn Future<Output = Frame>>>;

/// The string values of `keys` in one batch, in order (None: no such key),
/// or the first key's error (WRONGTYPE): what BITOP, PFCOUNT, PFMERGE and
/// LCS read first.
pub async fn string_values(seed: &BatchSeed, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>, Frame> {
    let mut b = seed.batch();
    let tickets: Vec<_> = keys.iter().map(|k| b.key(k.clone(), KeyOp::Get)).collect();
    let mut r = b.finish().await;
    tickets
        .into_iter()
        .map(|t| match r.take(t) {
            OpResult::Bulk(v) => Ok(Some(v)),
            OpResult::Nil => Ok(None),
            other => Err(Frame::from(other)),
        })
        .collect()
}

/// The TYPE of each of `keys` in one batch, in order ("none": no such key):
/// what SMOVE, LMOVE and LMPOP check before they change anything.
pub async fn key_types(seed: &BatchSeed, keys: &[Bytes]) -> Vec<&'static str> {
    let mut b = seed.batch();
    let tickets: Vec<_> = keys.iter().map(|k| b.key(k.clone(), KeyOp::Type)).collect();
    let mut r = b.finish().await;
    tickets
        .into_iter()
        .map(|t| match r.take(t) {
            OpResult::Status(kind) => kind,
            _ => "none",
        })
        .collect()
}

/// Run `steps` with `keys` held; `writes`: the steps may change a key (the
/// logs then record the hold's end, so recovery keeps all of it or none).
pub async fn atomically(
    seed: BatchSeed,
    keys: Vec<Bytes>,
    writes: bool,
    steps: impl FnOnce(BatchSeed) -> Steps,
) -> Frame {
    if seed.tx() != 0 {
        return steps(seed).await;
    }
    if seed.world().keys_free_here(&keys, 0) {
        return steps(seed).await;
    }
    holding(seed, keys, writes, steps).await
}

/// Run `steps` with `keys`' intent locks taken (outside a transaction):
/// unlike [`atomically`], also when they are this core's and free, so the
/// steps may yield between their ops — other keys are served meanwhile,
/// writes to these wait.
pub async fn holding(
    seed: BatchSeed,
    keys: Vec<Bytes>,
    writes: bool,
    steps: impl FnOnce(BatchSeed) -> Steps,
) -> Frame {
    let world = seed.world().clone();
    match world.hold_keys(keys, false, None).await {
        Ok((hold, _)) => run_held(world, hold, writes, steps).await,
        Err(_) => Frame::err(OpError::Busy.to_string()),
    }
}

/// Run `steps` with every core held whole (outside a transaction): for a
/// command whose keys only show once it has read some of them (SORT's BY
/// and GET patterns) when they are too many to name one by one, or keep
/// changing under it. Nothing else runs meanwhile, as in Redis.
pub async fn holding_everything(
    seed: BatchSeed,
    writes: bool,
    steps: impl FnOnce(BatchSeed) -> Steps,
) -> Frame {
    let world = seed.world().clone();
    match world.hold_everything().await {
        Ok(hold) => run_held(world, hold, writes, steps).await,
        Err(_) => Frame::err(OpError::Busy.to_string()),
    }
}

/// The steps under a hold taken, then the hold let go.
async fn run_held(
    world: Rc<World>,
    hold: Hold,
    writes: bool,
    steps: impl FnOnce(BatchSeed) -> Steps,
) -> Frame {
    hold.log_end(writes);
    let held = Batch::for_tx(world.clone(), hold.tx, now_ms()).seed();
    let reply = steps(held).await;
    world.finish_hold(hold).await;
    reply
}
