//! Every core's counters, gathered when someone asks and never before: for a
//! `/metrics` scrape, for `/v1/info`, and for the `/v1/stats` stream's tick
//! (per core: ops/s, latency percentiles over the last tick, memory against
//! its share, keys, shards, clients; the staircase, shard by shard). Rates
//! and last-tick percentiles are differences between two gatherings, kept
//! by the stream that asked ([`Ticker`]), so the request path never keeps
//! anything for them. Nothing here changes a counter.

use super::reply::{self, Reply};
use super::State;
use crate::core::cmdstats::CommandStats;
use crate::core::mesh::{CoreStats, CoreTask, TaskResult};
use crate::core::router::Batch;
use crate::core::world::World;
use crate::storage::ops::{CoreOp, OpResult, ShardStat};
use hdrhistogram::Histogram;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Every core's counters at one moment (the cores are asked at once).
pub struct Snapshot {
    pub at: Instant,
    /// By core.
    pub cores: Vec<CoreStats>,
    /// By core; latency histograms only when asked for.
    pub commands: Vec<CommandStats>,
}

pub async fn snapshot(world: &Rc<World>, histograms: bool) -> Snapshot {
    let stats = world.broadcast_task(CoreTask::Stats);
    let commands = world.broadcast_task(CoreTask::CommandStats { histograms });
    let (stats, commands) = futures_lite::future::zip(stats, commands).await;
    Snapshot {
        at: Instant::now(),
        cores: stats
            .into_iter()
            .filter_map(|r| match r {
                TaskResult::Stats(s) => Some(*s),
                _ => None,
            })
            .collect(),
        commands: commands
            .into_iter()
            .map(|r| match r {
                TaskResult::Commands(c) => *c,
                _ => CommandStats::default(),
            })
            .collect(),
    }
}

/// Every shard's row (id, core, keys, bytes, ops/s, state), by shard id.
pub async fn shards(world: &Rc<World>) -> Vec<ShardStat> {
    let mut batch = Batch::new(world.clone());
    let tickets = batch.all_cores(CoreOp::ShardStats);
    let mut results = batch.finish().await;
    let mut rows = Vec::new();
    for t in tickets {
        if let OpResult::Stats(s) = results.take(t) {
            rows.extend(s);
        }
    }
    rows.sort_by_key(|s| s.shard);
    rows
}

/// `GET /v1/info`: what a dashboard needs to know before it starts.
pub fn info(state: &State) -> Reply {
    let c = state.world.config.borrow();
    reply::json(
        StatusCode::OK,
        &json!({
            "version": env!("CARGO_PKG_VERSION"),
            "cores": state.world.ncores,
            "auth_required": !crate::command::acl::users::autologin(),
            "authenticated": true,
            "resp_port": c.port,
            "text_port": c.text_port,
            "http_port": c.http_port,
            "uptime_s": state.world.started.elapsed().as_secs(),
            "maxmemory": c.maxmemory,
        }),
    )
}

/// One core's latency over everything it timed, and its commands so far.
fn core_latency(c: &CommandStats) -> Option<Histogram<u64>> {
    c.latency_of(|_| true).map(|(h, _)| h)
}

/// What one tick saw: when, every core's counters and latency histogram.
type Seen = (Instant, Vec<CoreStats>, Vec<Option<Histogram<u64>>>);

/// The `/v1/stats` stream: what the last tick saw, to turn totals into rates.
#[derive(Default)]
pub struct Ticker {
    last: Option<Seen>,
}

impl Ticker {
    pub async fn tick(&mut self, world: &Rc<World>) -> Value {
        let snap = snapshot(world, true).await;
        let rows = shards(world).await;
        let latency: Vec<Option<Histogram<u64>>> = snap.commands.iter().map(core_latency).collect();
        let mut cores = Vec::with_capacity(snap.cores.len());
        let mut total_ops = 0.0;
        for (i, c) in snap.cores.iter().enumerate() {
            let prev = self
                .last
                .as_ref()
                .and_then(|(at, cs, hs)| Some((*at, cs.get(i)?, hs.get(i)?.as_ref())));
            let (ops, net_in, net_out, recent) = match prev {
                Some((at, p, ph)) => {
                    let secs = snap.at.duration_since(at).as_secs_f64().max(1e-3);
                    let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
                    let recent = match (latency[i].as_ref(), ph) {
                        (Some(h), Some(p)) => {
                            let mut d = h.clone();
                            // Counters reset (CONFIG RESETSTAT) since: all of it is recent.
                            if d.subtract(p).is_err() {
                                d = h.clone();
                            }
                            Some(d)
                        }
                        (h, _) => h.cloned(),
                    };
                    (
                        rate(c.commands, p.commands),
                        rate(c.net_input_bytes, p.net_input_bytes),
                        rate(c.net_output_bytes, p.net_output_bytes),
                        recent,
                    )
                }
                None => (c.ops_per_sec, 0.0, 0.0, None),
            };
            total_ops += ops;
            let pct = |q: f64| {
                recent
                    .as_ref()
                    .filter(|h| !h.is_empty())
                    .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
            };
            cores.push(json!({
                "core": c.core,
                "ops_per_sec": ops,
                "p50_us": pct(0.5),
                "p99_us": pct(0.99),
                "p999_us": pct(0.999),
                "used_memory": c.used_memory,
                "memory_limit": c.memory_limit,
                "keys": c.keys,
                "shards": c.shards,
                "clients": c.clients,
                "hits": c.hits,
                "misses": c.misses,
                "expired": c.expired,
                "evicted": c.evicted,
                "net_in_per_sec": net_in,
                "net_out_per_sec": net_out,
            }));
        }
        let (level, split, epoch) = {
            let ks = world.keyspace.borrow();
            let t = ks.table();
            (t.level, t.split, t.epoch)
        };
        let sum = |f: fn(&CoreStats) -> u64| snap.cores.iter().map(f).sum::<u64>();
        let tick = json!({
            "type": "stats",
            "time_ms": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            "uptime_s": world.started.elapsed().as_secs(),
            "version": env!("CARGO_PKG_VERSION"),
            "cores": cores,
            "staircase": {
                "level": level,
                "split": split,
                "epoch": epoch,
                "shards": rows.iter().map(|s| json!({
                    "shard": s.shard,
                    "core": s.core,
                    "keys": s.keys,
                    "bytes": s.bytes,
                    "ops_per_sec": s.ops_per_sec,
                    "state": s.state,
                })).collect::<Vec<_>>(),
            },
            "totals": {
                "ops_per_sec": total_ops,
                "keys": sum(|c| c.keys),
                "used_memory": sum(|c| c.used_memory),
                "maxmemory": world.config.borrow().maxmemory,
                "splits": sum(|c| c.splits),
                "merges": sum(|c| c.merges),
                "migrations": sum(|c| c.migrations_done),
                "keys_migrated": sum(|c| c.keys_migrated),
                "expired": sum(|c| c.expired),
                "evicted": sum(|c| c.evicted),
            },
        });
        self.last = Some((snap.at, snap.cores, latency));
        tick
    }
}
