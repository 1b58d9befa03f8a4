//! The per-core eviction task: when an op leaves this core over its share of
//! `maxmemory` with more to evict than an op may do (a lower `maxmemory` set at
//! run time, a value bigger than many small ones), it evicts the rest in
//! batches that yield to request serving, so reaching the limit is never a
//! stall. It only ever evicts from this core's own shards.

use super::pace::Pace;
use super::world::World;
use crate::storage::now_ms;
use std::rc::Rc;

/// Keys evicted per batch before the task checks whether to yield.
const BATCH: usize = 256;

pub async fn run(world: Rc<World>) {
    let mut keys = Vec::with_capacity(BATCH);
    let mut pace = Pace::new();
    loop {
        world.evict_wake.wait().await;
        loop {
            let ok = world
                .keyspace
                .borrow_mut()
                .evict(now_ms(), BATCH, &mut keys);
            world.evicted(&keys);
            keys.clear();
            if !ok || !world.keyspace.borrow_mut().over_limit() {
                break;
            }
            pace.breathe().await;
        }
    }
}
