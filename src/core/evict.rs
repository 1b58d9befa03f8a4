//! The per-core eviction task: when an op leaves this core over its share of
//! `maxmemory` with more to evict than an op may do (a lower `maxmemory` set at
//! run time, a value bigger than many small ones), it evicts the rest in
//! batches that yield to request serving, so reaching the limit is never a
//! stall. Changes that add memory without a write (a split, merge or
//! migration, a new routing table) wake it too. When nothing can be evicted
//! yet, it looks again shortly rather than leave the core over its share
//! until the next write; when the excess is table space a split, merge or
//! migration holds, it waits for that to end instead of evicting keys that
//! would not free it. It only ever evicts from this core's own shards, and
//! nothing while CLIENT PAUSE is on (Redis pauses eviction).

use super::world::World;
use crate::config::Policy;
use crate::runtime::pace::Pace;
use crate::storage::now_ms;
use crate::storage::policy::Room;
use std::rc::Rc;
use std::time::Duration;

/// Keys evicted per batch before the task checks whether to yield.
const BATCH: usize = 256;
/// How soon to look again when over the limit with nothing to evict (a
/// volatile policy with no TTLs left): keys may expire or get deadlines, and
/// no write may come to ask again. Doubles up to `STUCK_MAX` while nothing
/// changes.
const STUCK_RETRY: Duration = Duration::from_millis(100);
const STUCK_MAX: Duration = Duration::from_secs(5);

pub async fn run(world: Rc<World>) {
    let mut pace = Pace::new();
    loop {
        world.evict_wake.wait().await;
        let mut retry = STUCK_RETRY;
        loop {
            // CLIENT PAUSE holds eviction too, as Redis's pause does.
            if let Some((left, _)) = super::pause::state() {
                crate::runtime::timer::sleep(Duration::from_millis(left.clamp(1, 10))).await;
                continue;
            }
            match world.evict_step(now_ms(), BATCH) {
                // Held: `World::memory_changed` wakes this task when the split,
                // merge or migration holding the space ends.
                Room::Enough | Room::Held => break,
                Room::More => {
                    retry = STUCK_RETRY;
                    pace.breathe().await;
                }
                // A database that refuses writes until deletes make room:
                // nothing for this task to do.
                Room::Full if world.keyspace.borrow().policy() == Policy::NoEviction => break,
                Room::Full => {
                    crate::runtime::timer::sleep(retry).await;
                    retry = (retry * 2).min(STUCK_MAX);
                }
            }
        }
    }
}
