//! The per-core expiry task: removes keys whose deadline passed, found through
//! each shard's deadline heap (never a scan of the keyspace), and sleeps until
//! the earliest remaining deadline. A write that sets an earlier deadline wakes
//! it early (see `World::execute`), so a key is removed within about a
//! millisecond of its deadline. Reads never serve an expired key regardless:
//! shards check deadlines on access.

use super::world::World;
use crate::storage::now_ms;
use futures_lite::future;
use std::rc::Rc;
use std::time::Duration;

/// Keys removed per batch before the task yields to request serving.
const BATCH: usize = 512;
/// Longest sleep with nothing scheduled: a bound, not a poll — a new deadline wakes the task.
const IDLE: Duration = Duration::from_secs(60);

pub async fn run(world: Rc<World>) {
    let mut expired = Vec::with_capacity(BATCH);
    loop {
        let now = now_ms();
        loop {
            let n = world
                .keyspace
                .borrow_mut()
                .expire_due(now, BATCH, &mut expired);
            world.expired(&expired);
            expired.clear();
            if n < BATCH {
                break;
            }
            glommio::yield_if_needed().await;
        }
        let next = world.keyspace.borrow_mut().next_deadline();
        let next = next.unwrap_or(u64::MAX);
        world.next_expiry.set(next);
        let wait = if next == u64::MAX {
            IDLE
        } else {
            Duration::from_millis(next.saturating_sub(now_ms()))
        };
        if wait.is_zero() {
            glommio::yield_if_needed().await;
            continue;
        }
        future::or(glommio::timer::sleep(wait), world.expiry_wake.wait()).await;
    }
}
