//! The staircase controller. It runs on core 0, samples every core's key count
//! at `controller-interval-ms`, and grows the staircase one split at a time
//! while the average shard holds more than `shard-max-keys` keys. A split is
//! carried out by the core that owns the source shard; the controller only
//! decides and waits. (Merging and migration between cores come with the
//! elastic-staircase issue.) It never touches a shard itself.

use crate::core::mesh::{Answer, CoreTask, TaskResult};
use crate::core::world::World;
use std::rc::Rc;
use std::time::Duration;

pub async fn run(world: Rc<World>) {
    loop {
        let interval = world.config.borrow().controller_interval_ms;
        glommio::timer::sleep(Duration::from_millis(interval)).await;
        if world.shutting_down.get() {
            return;
        }
        grow(&world).await;
    }
}

/// Split until the average shard is back under the bound.
pub async fn grow(world: &Rc<World>) {
    let total: u64 = world
        .broadcast_task(CoreTask::Stats)
        .await
        .into_iter()
        .map(|r| match r {
            TaskResult::Stats(s) => s.keys,
            _ => 0,
        })
        .sum();
    loop {
        let max = world.config.borrow().shard_max_keys;
        let table = world.keyspace.borrow().table().clone();
        if total <= table.num_shards() as u64 * max || world.shutting_down.get() {
            return;
        }
        let (source, target) = table.next_split();
        let owner = table.owner(source);
        let result = if owner == world.id {
            world.split(table).await
        } else {
            match world
                .mesh
                .request_task(owner, CoreTask::Split(table))
                .wait()
                .await
            {
                Answer::Task(r) => r,
                Answer::Ops(_) => TaskResult::Split(None),
            }
        };
        match result {
            TaskResult::Split(Some(_)) => {
                tracing::debug!(source, target, owner, total, "staircase grew");
            }
            _ => {
                tracing::warn!(source, owner, "split was not carried out; retrying later");
                return;
            }
        }
    }
}
