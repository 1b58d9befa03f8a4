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
//! `shard-max-keys` keys and merges the last step while it holds fewer than
//! `shard-min-keys`. It measures every shard's load over short windows, one
//! after another (the shards' op counters at both ends); when a core passes the
//! mean by `rebalance-threshold` percent it rebalances round by round: once a
//! round's moves have landed, a new window measures the result and decides the
//! next round, until the cores are even (see [`policy`]). Every core samples
//! its shards' ops/s for INFO once a second, or at each window's ends while a
//! rebalance runs. Every decision is logged and counted. It never touches a
//! shard itself.

pub mod policy;

use crate::core::mesh::{AdminRequest, Answer, CoreTask, TaskResult};
use crate::core::world::World;
use crate::storage::ops::ShardStat;
use crate::storage::staircase::{RoutingTable, ShardId};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often every core samples its shards' ops/s for INFO.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Quiet time after a rebalance that moved shards, before the threshold is looked at again.
const REBALANCE_COOLDOWN: Duration = Duration::from_secs(1);
/// Splits or merges one controller tick may make before serving the next tick.
const STEPS_PER_TICK: usize = 64;
/// A measuring window is at least this long, so that what the last round moved
/// is served from its new core for a while before it is judged...
const WINDOW_MIN: Duration = Duration::from_millis(250);
/// ...and, while ops/s is the metric, lasts until the shards have counted this
/// many ops (about 400 a shard in the skew benchmark: each shard's rate errs by
/// some 5%)...
const WINDOW_OPS: u64 = 50_000;
/// ...or this long, whichever comes first.
const WINDOW_MAX: Duration = Duration::from_secs(2);

/// The per-shard rates INFO shows: every core's `Sample` over the time since the last.
struct Info {
    sampled: Instant,
}

impl Info {
    async fn sample(&mut self, world: &Rc<World>) -> Vec<ShardStat> {
        let secs = self.sampled.elapsed().as_secs_f64();
        self.sampled = Instant::now();
        sample(world, secs).await
    }
}

/// A measuring window: every shard's op counter when it opened.
struct Window {
    opened: Instant,
    rows: Vec<ShardStat>,
    /// Opened and closed by INFO samples, so that INFO shows this window's
    /// rates as soon as it closes (while a rebalance runs, instead of the
    /// once-a-second samples, which would straddle its moves).
    for_info: bool,
}

impl Window {
    async fn open(world: &Rc<World>, info: &mut Info, for_info: bool) -> Window {
        let opened = Instant::now();
        let rows = if for_info {
            info.sample(world).await
        } else {
            sample(world, 0.0).await
        };
        Window {
            opened,
            rows,
            for_info,
        }
    }
    /// Every shard with its ops/s over the window, once the window is long enough.
    async fn measure(&self, world: &Rc<World>, info: &mut Info) -> Option<Vec<ShardStat>> {
        let secs = self.opened.elapsed();
        if secs < WINDOW_MIN {
            return None;
        }
        let now = sample(world, 0.0).await;
        let (_, ops) = policy::window_rates(&self.rows, &now, secs.as_secs_f64());
        let thin = (ops as f64) < policy::MIN_OPS_PER_SEC * secs.as_secs_f64();
        if !(thin || ops >= WINDOW_OPS || secs >= WINDOW_MAX) {
            return None;
        }
        let (now, secs) = if self.for_info {
            (info.sample(world).await, self.opened.elapsed())
        } else {
            (now, secs)
        };
        Some(policy::window_rates(&self.rows, &now, secs.as_secs_f64()).0)
    }
}

/// The controller's loop: resize every tick; measure load window after window
/// and rebalance round by round (see [`policy::Rounds`]); sample for INFO.
pub async fn run(world: Rc<World>) {
    let mut info = Info {
        sampled: Instant::now(),
    };
    let mut quiet_until = Instant::now();
    let mut rounds = policy::Rounds::default();
    let mut window: Option<Window> = None;
    // Moves made by the rebalance under way.
    let mut moved = 0;
    loop {
        let interval = world.config.borrow().controller_interval_ms;
        crate::runtime::timer::sleep(Duration::from_millis(interval)).await;
        if world.shutting_down.get() {
            return;
        }
        // While the start loads, the tables must stay as every core began
        // them (core::recover raises their epochs above the logs' first).
        if crate::core::recover::loading() {
            continue;
        }
        let (autoscale, threshold) = {
            let c = world.config.borrow();
            (c.autoscale, c.rebalance_threshold)
        };
        if autoscale {
            let _turn = world.staircase_lock.acquire_permit(1).await;
            resize(&world).await;
        } else if rounds.running() {
            rounds.stop();
            tracing::info!(moved, "controller: rebalance dropped (autoscale off)");
        }
        if !rounds.running() && info.sampled.elapsed() >= SAMPLE_EVERY {
            info.sample(&world).await;
        }
        if !autoscale || world.ncores < 2 || Instant::now() < quiet_until {
            window = None;
            continue;
        }
        let rows = match &window {
            None => {
                window = Some(Window::open(&world, &mut info, false).await);
                continue;
            }
            Some(w) => match w.measure(&world, &mut info).await {
                Some(rows) => rows,
                None => continue,
            },
        };
        match rounds.decide(world.ncores, &rows, threshold) {
            policy::Decision::Idle => {}
            policy::Decision::Round {
                round,
                metric,
                excess_pct,
                moves,
            } => {
                tracing::info!(
                    round,
                    metric = metric.name(),
                    excess_pct = format!("{excess_pct:.1}"),
                    moves = moves.len(),
                    "controller: rebalance round"
                );
                let _turn = world.staircase_lock.acquire_permit(1).await;
                moved += carry_out(&world, moves).await;
            }
            policy::Decision::Ended {
                rounds,
                metric,
                excess_pct,
                why,
            } => {
                if rounds > 0 {
                    tracing::info!(
                        rounds,
                        moved,
                        metric = metric.name(),
                        excess_pct = format!("{excess_pct:.1}"),
                        ?why,
                        "controller: rebalance ended"
                    );
                } else {
                    tracing::debug!(
                        metric = metric.name(),
                        excess_pct,
                        ?why,
                        "controller: nothing to move"
                    );
                }
                if moved > 0 {
                    quiet_until = Instant::now() + REBALANCE_COOLDOWN;
                }
                moved = 0;
            }
        }
        // The next window opens now: after this round's moves have landed.
        window = Some(Window::open(&world, &mut info, rounds.running()).await);
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

/// One balancing round by itself from sampled rows; returns the migrations made.
async fn rebalance(world: &Rc<World>, rows: &[ShardStat]) -> usize {
    let threshold = world.config.borrow().rebalance_threshold;
    carry_out(world, policy::rebalance(world.ncores, rows, threshold)).await
}

/// Make the planned migrations in order, stopping at the first that fails;
/// returns those made.
async fn carry_out(world: &Rc<World>, moves: Vec<policy::Move>) -> usize {
    let mut made = 0;
    for m in moves {
        if world.shutting_down.get() {
            break;
        }
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
        Answer::Ops(..) => TaskResult::Failed("mesh answered a task with ops".into()),
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

/// [`admin`] in the shape the engine's hook takes (`core::world::Coordinator`): `server` installs it
/// on every core, and core 0's `Admin` tasks from other cores arrive here through it.
pub fn coordinator(
    world: Rc<World>,
    req: AdminRequest,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<i64, String>>>> {
    Box::pin(async move { admin(&world, req).await })
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
