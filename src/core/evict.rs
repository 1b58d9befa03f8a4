//! The per-core eviction task: when an op leaves this core over its share of
//! `maxmemory` with more to evict than an op may do (a lower `maxmemory` set at
//! run time, a value bigger than many small ones), it evicts the rest in
//! batches that yield to request serving, so reaching the limit is never a
//! stall. When nothing can be evicted yet (tables that a split, merge or
//! migration keeps from shrinking), it looks again shortly rather than leave
//! the core over its share until the next write. It only ever evicts from
//! this core's own shards.

use super::pace::Pace;
use super::world::World;
use crate::storage::evict::Policy;
use crate::storage::now_ms;
use std::rc::Rc;
use std::time::Duration;

/// Keys evicted per batch before the task checks whether to yield.
const BATCH: usize = 256;
/// How soon to look again when over the limit with nothing to evict: a split,
/// merge or migration in progress keeps emptied tables from shrinking until
/// it ends, and no write may come to ask again. Doubles up to `STUCK_MAX`
/// while nothing changes (a volatile policy with no TTLs left stays stuck
/// until writes or deletes change that).
const STUCK_RETRY: Duration = Duration::from_millis(100);
const STUCK_MAX: Duration = Duration::from_secs(5);

pub async fn run(world: Rc<World>) {
    let mut pace = Pace::new();
    loop {
        world.evict_wake.wait().await;
        let mut retry = STUCK_RETRY;
        loop {
            let ok = world.evict_step(now_ms(), BATCH);
            let done = {
                let mut ks = world.keyspace.borrow_mut();
                // Under the limit, or a database that refuses writes until
                // deletes make room: nothing for this task to do.
                !ks.over_limit() || (!ok && ks.policy() == Policy::NoEviction)
            };
            if done {
                break;
            }
            if ok {
                retry = STUCK_RETRY;
                pace.breathe().await;
            } else {
                crate::net::ring::sleep(retry).await;
                retry = (retry * 2).min(STUCK_MAX);
            }
        }
    }
}
