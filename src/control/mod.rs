//! The staircase controller and coordinator, both on core 0.
//!
//! The coordinator is the only writer of staircase changes: every split, merge
//! and migration — the controller's own and those asked for by hand with
//! `STAIRKV` on any core — runs under core 0's `staircase_lock`, one at a time,
//! so the routing table's epochs form one line. A change is carried out by the
//! core that owns the shards; the coordinator only decides, asks and waits.
//!
//! The controller (`--autoscale on`, the default) wakes every
//! `controller-interval-ms`: it splits while the average shard holds more than
//! `shard-max-keys` keys, merges the last step while it holds fewer than
//! `shard-min-keys`, and about once a second samples ops/s per shard and moves
//! shards off a core whose load passes the mean by `rebalance-threshold`
//! percent (see [`policy`]). Every decision is logged and counted. It never
//! touches a shard itself.

pub mod policy;

use crate::core::mesh::{AdminRequest, Answer, CoreTask, TaskResult};
use crate::core::world::World;
use crate::storage::ops::ShardStat;
use crate::storage::staircase::{RoutingTable, ShardId};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often per-shard ops/s are sampled (and a rebalance considered).
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Quiet time after a rebalance round, so its effect is measured before the next.
const REBALANCE_COOLDOWN: Duration = Duration::from_secs(1);
/// Splits or merges one controller tick may make before serving the next tick.
const STEPS_PER_TICK: usize = 64;

pub async fn run(world: Rc<World>) {
    let mut sampled = Instant::now();
    let mut quiet_until = Instant::now();
    loop {
        let interval = world.config.borrow().controller_interval_ms;
        crate::net::ring::sleep(Duration::from_millis(interval)).await;
        if world.shutting_down.get() {
            return;
        }
        let autoscale = world.config.borrow().autoscale;
        if autoscale {
            let _turn = world.staircase_lock.acquire_permit(1).await;
            resize(&world).await;
        }
        if sampled.elapsed() >= SAMPLE_EVERY {
            let secs = sampled.elapsed().as_secs_f64();
            sampled = Instant::now();
            let rows = sample(&world, secs).await;
            if autoscale && Instant::now() >= quiet_until {
                let _turn = world.staircase_lock.acquire_permit(1).await;
                if rebalance(&world, &rows).await > 0 {
                    quiet_until = Instant::now() + REBALANCE_COOLDOWN;
                }
            }
        }
    }
}

/// Every core measures its shards' ops/s over the last `secs`; all rows.
async fn sample(world: &Rc<World>, secs: f64) -> Vec<ShardStat> {
    world
        .broadcast_task(CoreTask::Sample { secs })
        .await
        .into_iter()
        .flat_map(|r| match r {
            TaskResult::Shards(rows) => rows,
            _ => Vec::new(),
        })
        .collect()
}

async fn total_keys(world: &Rc<World>) -> u64 {
    world
        .broadcast_task(CoreTask::Stats)
        .await
        .into_iter()
        .map(|r| match r {
            TaskResult::Stats(s) => s.keys,
            _ => 0,
        })
        .sum()
}

/// The smallest staircase: what the server started with.
fn floor(world: &World) -> usize {
    let initial = world.config.borrow().initial_shards as usize;
    RoutingTable::new(world.ncores, initial).num_shards()
}

/// Split while shards are too full, else merge while they are too empty.
async fn resize(world: &Rc<World>) {
    let total = total_keys(world).await;
    let floor = floor(world);
    for _ in 0..STEPS_PER_TICK {
        let (max, min) = {
            let c = world.config.borrow();
            (c.shard_max_keys, c.shard_min_keys)
        };
        let shards = world.keyspace.borrow().table().num_shards();
        let step = policy::resize(total, shards, max, min, floor);
        let done = match step {
            policy::Resize::Keep => return,
            policy::Resize::Split => split_next(world).await.map(|(source, target)| {
                tracing::debug!(source, target, total, shards, "controller: split");
            }),
            policy::Resize::Merge => merge_last(world).await.map(|(into, from)| {
                tracing::info!(into, from, total, shards, "controller: merge");
            }),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, ?step, "controller: staircase change not made; retrying later");
            return;
        }
        if world.shutting_down.get() {
            return;
        }
    }
}

/// One balancing round from sampled rows; returns the migrations made.
async fn rebalance(world: &Rc<World>, rows: &[ShardStat]) -> usize {
    let threshold = world.config.borrow().rebalance_threshold;
    let moves = policy::rebalance(world.ncores, rows, threshold);
    let mut made = 0;
    for m in moves {
        match migrate(world, m.shard, m.to).await {
            Ok(keys) => {
                made += 1;
                world
                    .stats
                    .rebalance_moves
                    .set(world.stats.rebalance_moves.get() + 1);
                tracing::info!(
                    shard = m.shard,
                    from = m.from,
                    to = m.to,
                    load = m.load,
                    keys,
                    metric = m.metric,
                    "controller: rebalance"
                );
            }
            Err(e) => {
                tracing::warn!(shard = m.shard, to = m.to, error = %e, "controller: migration not made");
                break;
            }
        }
    }
    made
}

/// Run a staircase task on `core` (this one directly) and wait for its result.
async fn task_on(world: &Rc<World>, core: usize, task: CoreTask) -> TaskResult {
    if core == world.id {
        // Boxed: a long task may be an admin request that comes back here.
        return Box::pin(world.run_long_task(task)).await;
    }
    match world.mesh.request_task(core, task).wait().await {
        Answer::Task(r) => r,
        Answer::Ops(_) => TaskResult::Failed("mesh answered a task with ops".into()),
    }
}

/// The staircase's next split, on the source's owner.
async fn split_next(world: &Rc<World>) -> Result<(ShardId, ShardId), String> {
    let table = world.keyspace.borrow().table().clone();
    let (source, _) = table.next_split();
    let owner = table.owner(source);
    match task_on(world, owner, CoreTask::Split(table)).await {
        TaskResult::Split(Some(st)) => Ok(st),
        other => Err(format!(
            "split of shard {source} on core {owner}: {other:?}"
        )),
    }
}

/// Merge the staircase's last step, first bringing both shards to one core.
async fn merge_last(world: &Rc<World>) -> Result<(ShardId, ShardId), String> {
    let (into, from, owner) = {
        let ks = world.keyspace.borrow();
        let t = ks.table();
        if t.num_shards() <= floor(world) {
            return Err("the staircase is at its smallest".into());
        }
        let Some((into, from)) = t.last_step() else {
            return Err("the staircase is at its smallest".into());
        };
        (into, from, t.owner(into))
    };
    if world.keyspace.borrow().table().owner(from) != owner {
        migrate(world, from, owner).await?;
    }
    let table = world.keyspace.borrow().table().clone();
    match task_on(world, owner, CoreTask::Merge(table)).await {
        TaskResult::Merged(Some(pair)) => Ok(pair),
        other => Err(format!("merge of shard {from} into {into}: {other:?}")),
    }
}

/// Move `shard` to core `to`; returns the keys moved.
async fn migrate(world: &Rc<World>, shard: ShardId, to: usize) -> Result<u64, String> {
    let table = world.keyspace.borrow().table().clone();
    if shard as usize >= table.num_shards() {
        return Err(format!("no such shard {shard}"));
    }
    if to >= world.ncores {
        return Err(format!(
            "no such core {to} (cores are 0..{})",
            world.ncores - 1
        ));
    }
    let owner = table.owner(shard);
    if owner == to {
        return Err(format!("shard {shard} is already on core {to}"));
    }
    match task_on(world, owner, CoreTask::Migrate { table, shard, to }).await {
        TaskResult::Migrated { keys, table } => {
            world.keyspace.borrow_mut().set_table(table);
            world.memory_changed();
            Ok(keys)
        }
        TaskResult::Failed(e) => Err(e),
        other => Err(format!("migration of shard {shard}: {other:?}")),
    }
}

/// A change asked for by hand; runs on core 0 (forwarded there by `STAIRKV`).
pub async fn admin(world: &Rc<World>, req: AdminRequest) -> Result<i64, String> {
    if world.id != 0 {
        return match world
            .mesh
            .request_task(0, CoreTask::Admin(req))
            .wait()
            .await
        {
            Answer::Task(TaskResult::Admin(r)) => r,
            _ => Err("the coordinator did not answer".into()),
        };
    }
    let _turn = world.staircase_lock.acquire_permit(1).await;
    tracing::info!(?req, "staircase change asked for by hand");
    match req {
        AdminRequest::Migrate { shard, to } => migrate(world, shard, to).await.map(|k| k as i64),
        AdminRequest::Split { shard } => {
            let n = world.keyspace.borrow().table().num_shards() as u32;
            if shard.is_some_and(|s| s >= n) {
                return Err(format!("no such shard {}", shard.unwrap_or(0)));
            }
            let mut splits = 0;
            // At most one full round of the staircase reaches any shard.
            for _ in 0..=n {
                let (source, _) = split_next(world).await?;
                splits += 1;
                if shard.is_none_or(|s| s == source) {
                    break;
                }
            }
            Ok(splits)
        }
        AdminRequest::Merge => merge_last(world).await.map(|_| 1),
        AdminRequest::Rebalance => {
            let rows = sample(world, 0.0).await;
            // An explicit round uses the latest measured rates (the sample above
            // only lists shards; rates come from the controller's last sample).
            Ok(rebalance(world, &rows).await as i64)
        }
    }
}
