//! The server family: INFO, CONFIG, COMMAND, TIME, DBSIZE, FLUSHDB/FLUSHALL.
//! INFO and CONFIG SET reach every core through core tasks; the rest answer
//! from this core or from a per-core op. COMMAND reads the command table from
//! [`Ctx::table`], passed down by `dispatch`: this file never imports the table
//! (which names its handlers). It may use lower families (keys' counts,
//! connection's version).

use super::args::{glob_str, is, lower};
use super::connection::REDIS_COMPAT_VERSION;
use super::context::{help_reply, subcommand, wrong_arity, CommandSpec, Ctx, Step};
use super::frame::Frame;
use crate::config::Config;
use crate::config::Policy;
use crate::core::mesh::{CoreStats, CoreTask, TaskResult};
use crate::core::world::World;
use crate::storage::ops::{CoreOp, OpResult};
use bytes::Bytes;
use std::fmt::Write;
use std::rc::Rc;

pub fn time(_ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Step::Done(Frame::Array(vec![
        Frame::bulk(d.as_secs().to_string()),
        Frame::bulk(d.subsec_micros().to_string()),
    ]))
}

pub fn dbsize(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        let parts = super::keys::count_everywhere(&world, CoreOp::DbSize).await;
        Frame::Int(
            parts
                .into_iter()
                .map(|r| if let OpResult::Int(n) = r { n } else { 0 })
                .sum(),
        )
    }))
}

pub fn flush(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    for o in &a[1..] {
        if !(is(o, "ASYNC") || is(o, "SYNC")) || a.len() > 2 {
            return Step::Done(Frame::err("ERR syntax error"));
        }
    }
    // On every core under the staircase lock (`core::flush` says why).
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        match world.flush_all().await {
            Ok(r) => Frame::from(r),
            Err(e) => Frame::err(format!("ERR {e}")),
        }
    }))
}

/// Resident set size of the whole process, from /proc (0 when unavailable).
pub fn rss_bytes() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * page)
        .unwrap_or(0)
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "keyspace",
    "staircase",
];

pub fn info(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let mut wanted: Vec<String> = a[1..].iter().map(|s| lower(s)).collect();
    if wanted.is_empty()
        || wanted
            .iter()
            .any(|s| s == "all" || s == "everything" || s == "default")
    {
        wanted = SECTIONS.iter().map(|s| s.to_string()).collect();
    }
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        let stats: Vec<CoreStats> = world
            .broadcast_task(CoreTask::Stats)
            .await
            .into_iter()
            .filter_map(|r| match r {
                TaskResult::Stats(s) => Some(*s),
                _ => None,
            })
            .collect();
        Frame::Verbatim(render_info(&world, &stats, &wanted))
    }))
}

fn render_info(world: &Rc<World>, stats: &[CoreStats], wanted: &[String]) -> String {
    let sum = |f: fn(&CoreStats) -> u64| stats.iter().map(f).sum::<u64>();
    let cfg = world.config.borrow().clone();
    let mut out = String::new();
    let up = world.started.elapsed().as_secs();
    for section in SECTIONS {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *section {
            "server" => {
                let _ = write!(
                    out,
                    "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nstairkv_version:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{:040x}\r\ntcp_port:{}\r\ntext_port:{}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\ncores:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::OS,
                    std::process::id(),
                    world.started.elapsed().as_nanos() as u64 ^ (std::process::id() as u64) << 32,
                    cfg.port,
                    cfg.text_port,
                    up / 86400,
                    world.ncores,
                    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                    cfg.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                );
            }
            "clients" => {
                let _ = write!(
                    out,
                    "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n",
                    sum(|s| s.clients),
                    cfg.maxclients
                );
            }
            "memory" => {
                let used = sum(|s| s.used_memory);
                let rss = rss_bytes();
                let _ = write!(
                    out,
                    "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_dataset:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_allocator:libc\r\n",
                    human(used),
                    human(rss),
                    sum(|s| s.bytes),
                    cfg.maxmemory,
                    human(cfg.maxmemory),
                    cfg.maxmemory_policy.name(),
                );
                for s in stats {
                    let _ = write!(
                        out,
                        "core{}:used_memory={},maxmemory_share={},evicted_keys={}\r\n",
                        s.core, s.used_memory, s.memory_limit, s.evicted
                    );
                }
            }
            "persistence" => {
                let p = &world.persist;
                let loading = crate::core::recover::loading();
                let _ = write!(
                    out,
                    "# Persistence\r\nloading:{}\r\nasync_loading:0\r\n",
                    u64::from(loading)
                );
                if loading {
                    let (done, total, began) = crate::core::recover::progress();
                    let perc = if total == 0 {
                        0.0
                    } else {
                        done as f64 * 100.0 / total as f64
                    };
                    let _ = write!(
                        out,
                        "loading_start_time:{began}\r\nloading_total_bytes:{total}\r\nloading_loaded_bytes:{done}\r\nloading_loaded_perc:{perc:.2}\r\n",
                    );
                }
                let cfg = world.config.borrow();
                let _ = write!(
                    out,
                    "rdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_saves:{}\r\nrdb_last_load_keys_loaded:{}\r\nrdb_last_load_keys_expired:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:0\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_last_write_status:{}\r\naof_fsync:{}\r\naof_current_size:{}\r\naof_base_size:{}\r\naof_syncs:{}\r\n",
                    sum(|s| s.changes),
                    u64::from(sum(|s| s.bgsave) > 0),
                    p.last_save.get(),
                    if p.last_save_ok.get() { "ok" } else { "err" },
                    p.saves.get(),
                    sum(|s| s.loaded),
                    sum(|s| s.loaded_expired),
                    u64::from(cfg.appendonly),
                    u64::from(sum(|s| s.aof_rewriting) > 0),
                    if sum(|s| s.aof_rewrite_failed) > 0 { "err" } else { "ok" },
                    sum(|s| s.aof_rewrites),
                    if sum(|s| s.aof_failing) > 0 { "err" } else { "ok" },
                    cfg.appendfsync.name(),
                    sum(|s| s.aof_size) + sum(|s| s.aof_base_size),
                    sum(|s| s.aof_base_size),
                    sum(|s| s.aof_syncs),
                );
                for s in stats {
                    let _ = write!(
                        out,
                        "core{}:aof={},aof_bytes={},aof_write_status={}\r\n",
                        s.core,
                        s.aof_on,
                        s.aof_size,
                        if s.aof_failing > 0 { "err" } else { "ok" }
                    );
                }
            }
            "stats" => {
                let _ = write!(
                    out,
                    "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\nmesh_messages_sent:{}\r\n",
                    sum(|s| s.connections_received),
                    sum(|s| s.commands),
                    sum(|s| s.net_input_bytes),
                    sum(|s| s.net_output_bytes),
                    sum(|s| s.rejected_connections),
                    sum(|s| s.expired),
                    sum(|s| s.evicted),
                    sum(|s| s.hits),
                    sum(|s| s.misses),
                    sum(|s| s.mesh_sent),
                );
            }
            "keyspace" => {
                out.push_str("# Keyspace\r\n");
                let keys = sum(|s| s.keys);
                if keys > 0 {
                    let _ = write!(
                        out,
                        "db0:keys={keys},expires={},avg_ttl=0\r\n",
                        sum(|s| s.ttl_keys)
                    );
                }
            }
            "staircase" => {
                let ks = world.keyspace.borrow();
                let t = ks.table();
                let _ = write!(
                    out,
                    "# Staircase\r\nlevel:{}\r\nsplit_pointer:{}\r\nshards:{}\r\nepoch:{}\r\nautoscale:{}\r\nshard_max_keys:{}\r\nshard_min_keys:{}\r\nsplits_done:{}\r\nmerges_done:{}\r\nkeys_moved:{}\r\nmigrations_in_flight:{}\r\nmigrations_done:{}\r\nkeys_migrated:{}\r\nrebalance_moves:{}\r\nforwarded_ops:{}\r\npulled_keys:{}\r\n",
                    t.level,
                    t.split,
                    t.num_shards(),
                    t.epoch,
                    if cfg.autoscale { "on" } else { "off" },
                    cfg.shard_max_keys,
                    cfg.shard_min_keys,
                    sum(|s| s.splits),
                    sum(|s| s.merges),
                    sum(|s| s.keys_moved),
                    sum(|s| s.migrations_in_flight),
                    sum(|s| s.migrations_done),
                    sum(|s| s.keys_migrated),
                    sum(|s| s.rebalance_moves),
                    sum(|s| s.forwarded),
                    sum(|s| s.pulled),
                );
                for s in stats {
                    let _ = write!(
                        out,
                        "core{}:shards={},keys={},bytes={},clients={},ops_per_sec={}\r\n",
                        s.core,
                        s.shards,
                        s.keys,
                        s.bytes,
                        s.clients,
                        s.ops_per_sec.round() as u64
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Every parameter CONFIG GET knows, with its current value.
fn config_params(c: &Config) -> Vec<(&'static str, String)> {
    vec![
        ("bind", c.bind.clone()),
        ("port", c.port.to_string()),
        ("text-port", c.text_port.to_string()),
        ("cores", c.cores.len().to_string()),
        ("requirepass", c.requirepass.clone().unwrap_or_default()),
        (
            "protected-mode",
            if c.protected_mode { "yes" } else { "no" }.into(),
        ),
        ("log-level", c.log_level.clone()),
        ("proto-max-bulk-len", c.proto_max_bulk_len.to_string()),
        (
            "client-query-buffer-limit",
            c.client_query_buffer_limit.to_string(),
        ),
        ("max-multibulk-len", c.max_multibulk_len.to_string()),
        ("maxclients", c.maxclients.to_string()),
        ("shard-max-keys", c.shard_max_keys.to_string()),
        ("initial-shards", c.initial_shards.to_string()),
        ("split-batch", c.split_batch.to_string()),
        (
            "controller-interval-ms",
            c.controller_interval_ms.to_string(),
        ),
        ("autoscale", if c.autoscale { "on" } else { "off" }.into()),
        ("shard-min-keys", c.shard_min_keys.to_string()),
        ("migrate-batch", c.migrate_batch.to_string()),
        ("rebalance-threshold", c.rebalance_threshold.to_string()),
        (
            "client-output-buffer-limit",
            format!(
                "normal {} {} {} slave 268435456 67108864 60 pubsub {} {} {}",
                c.normal_limit[0],
                c.normal_limit[1],
                c.normal_limit[2],
                c.pubsub_limit[0],
                c.pubsub_limit[1],
                c.pubsub_limit[2]
            ),
        ),
        (
            "notify-keyspace-events",
            crate::config::keyspace_events_string(c.notify_keyspace_events),
        ),
        // Read-only answers for tools (redis-benchmark asks for these two).
        ("save", crate::config::save_points_string(&c.save)),
        ("appendonly", if c.appendonly { "yes" } else { "no" }.into()),
        ("appendfsync", c.appendfsync.name().into()),
        ("appenddirname", c.appenddirname.clone()),
        ("appendfilename", c.appendfilename.clone()),
        (
            "auto-aof-rewrite-percentage",
            c.auto_aof_rewrite_percentage.to_string(),
        ),
        (
            "auto-aof-rewrite-min-size",
            c.auto_aof_rewrite_min_size.to_string(),
        ),
        (
            "aof-load-truncated",
            if c.aof_load_truncated { "yes" } else { "no" }.into(),
        ),
        ("databases", "1".into()),
        ("maxmemory", c.maxmemory.to_string()),
        ("maxmemory-policy", c.maxmemory_policy.name().into()),
        ("maxmemory-samples", c.maxmemory_samples.to_string()),
        // Redis answers with the absolute directory it moved into.
        (
            "dir",
            std::fs::canonicalize(&c.dir)
                .unwrap_or_else(|_| c.dir.clone())
                .display()
                .to_string(),
        ),
        ("dbfilename", c.dbfilename.clone()),
    ]
}

/// Apply one CONFIG SET pair to `c`.
fn config_set_one(c: &mut Config, name: &str, v: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(v).into_owned();
    let num = || -> Result<u64, String> {
        super::args::parse_u64(v).ok_or_else(|| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer")
        })
    };
    match name {
        "requirepass" => c.requirepass = Some(text).filter(|s| !s.is_empty()),
        "protected-mode" => {
            c.protected_mode = crate::config::parse_switch(&text).map_err(|_| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be 'yes' or 'no'")
            })?
        }
        "proto-max-bulk-len" => {
            let n = num()?;
            if n < 1024 {
                return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be at least 1024"));
            }
            c.proto_max_bulk_len = n
        }
        "client-query-buffer-limit" => c.client_query_buffer_limit = num()?.max(1024 * 1024),
        "max-multibulk-len" => c.max_multibulk_len = num()?.max(1),
        "maxclients" => c.maxclients = num()?.max(1),
        "shard-max-keys" | "shard-min-keys" => {
            let n = num()?;
            let (max, min) = if name == "shard-max-keys" {
                (n.max(1), c.shard_min_keys)
            } else {
                (c.shard_max_keys, n)
            };
            if min.saturating_mul(2) >= max {
                return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - shard-min-keys must be under half of shard-max-keys"));
            }
            (c.shard_max_keys, c.shard_min_keys) = (max, min);
        }
        "autoscale" => {
            c.autoscale = crate::config::parse_switch(&text).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}")
            })?
        }
        "migrate-batch" => c.migrate_batch = num()?.max(1),
        "maxmemory" => {
            c.maxmemory = crate::config::parse_memory(&text).ok_or_else(|| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be a memory value")
            })?
        }
        "maxmemory-policy" => {
            c.maxmemory_policy = Policy::parse(&text).ok_or_else(|| {
                format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - argument(s) must be one of the following: {}",
                    Policy::names()
                )
            })?
        }
        "maxmemory-samples" => {
            let n = num()?;
            if !(1..=64).contains(&n) {
                return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be between 1 and 64 inclusive"));
            }
            c.maxmemory_samples = n
        }
        "rebalance-threshold" => c.rebalance_threshold = num()?,
        "split-batch" => c.split_batch = num()?.max(1),
        "controller-interval-ms" => c.controller_interval_ms = num()?.max(1),
        "log-level" => c.log_level = text,
        "notify-keyspace-events" => {
            c.notify_keyspace_events = crate::config::parse_keyspace_events(&text).ok_or_else(|| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
            })?
        }
        "client-output-buffer-limit" => {
            // Redis's form: one or more "<class> <hard> <soft> <seconds>" groups.
            let parts: Vec<&str> = text.split_whitespace().collect();
            let bad = |why: &str| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
            };
            if parts.is_empty() || !parts.len().is_multiple_of(4) {
                return Err(bad("Wrong number of arguments in buffer limit configuration."));
            }
            for group in parts.chunks(4) {
                let limit = crate::config::parse_output_limit(&group[1..].join(" "))
                    .map_err(|e| bad(&e))?;
                if group[0].eq_ignore_ascii_case("pubsub") {
                    c.pubsub_limit = limit;
                } else if group[0].eq_ignore_ascii_case("normal") {
                    c.normal_limit = limit;
                } else {
                    return Err(bad(&format!(
                        "stairkv has normal and pubsub clients only, not '{}'",
                        group[0]
                    )));
                }
            }
        }
        "dir" => {
            let dir = std::path::PathBuf::from(&text);
            if !dir.is_dir() {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - No such file or directory"
                ));
            }
            c.dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        }
        "dbfilename" => {
            c.dbfilename = crate::config::check_dbfilename(text).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}")
            })?
        }
        "save" => {
            c.save = crate::config::parse_save_points(&text).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}")
            })?
        }
        "appendonly" => {
            c.appendonly = crate::config::parse_switch(&text).map_err(|_| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be 'yes' or 'no'")
            })?
        }
        "appendfsync" => {
            c.appendfsync = crate::config::Fsync::parse(&text).ok_or_else(|| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument(s) must be one of the following: always, everysec, no")
            })?
        }
        "auto-aof-rewrite-percentage" => c.auto_aof_rewrite_percentage = num()?,
        "auto-aof-rewrite-min-size" => {
            c.auto_aof_rewrite_min_size = crate::config::parse_memory(&text).ok_or_else(|| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be a memory value")
            })?
        }
        "aof-load-truncated" => {
            c.aof_load_truncated = crate::config::parse_switch(&text).map_err(|_| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be 'yes' or 'no'")
            })?
        }
        "bind" | "port" | "text-port" | "cores" | "initial-shards" | "databases"
        | "appenddirname" | "appendfilename" => {
            return Err(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            ))
        }
        _ => {
            return Err(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ))
        }
    }
    Ok(())
}

pub fn config(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let subs = [
        ("get", -3),
        ("set", -4),
        ("resetstat", 2),
        ("rewrite", 2),
        ("help", 2),
    ];
    let sub = match subcommand("config", a, &subs) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    match sub {
        "get" => {
            let cfg = ctx.world.config.borrow();
            let mut pairs = Vec::new();
            for (name, value) in config_params(&cfg) {
                if a[2..].iter().any(|p| glob_str(&lower(p), name)) {
                    pairs.push((Frame::bulk(name), Frame::bulk(value)));
                }
            }
            Step::Done(Frame::Map(pairs))
        }
        "set" if a.len() % 2 == 1 => Step::Done(wrong_arity("config|set")),
        "set" => {
            let mut cfg = ctx.world.config.borrow().clone();
            for kv in a[2..].chunks(2) {
                if let Err(e) = config_set_one(&mut cfg, &lower(&kv[0]), &kv[1]) {
                    return Step::Done(Frame::Error(e.into()));
                }
            }
            let world = ctx.world.clone();
            let was = world.config.borrow().appendonly;
            let now = cfg.appendonly;
            Step::Async(Box::pin(async move {
                world
                    .broadcast_task(CoreTask::SetConfig(Box::new(cfg)))
                    .await;
                // Logs on: a rewrite first (as Redis), answered once its bases
                // and manifest are written; off: every core stops logging.
                match (was, now) {
                    (false, true) => {
                        if let Err(e) = world.aof_enable().await {
                            let mut back = world.config.borrow().clone();
                            back.appendonly = false;
                            world.aof_disable().await;
                            world
                                .broadcast_task(CoreTask::SetConfig(Box::new(back)))
                                .await;
                            return Frame::err(format!("ERR cannot turn the logs on: {e}"));
                        }
                    }
                    (true, false) => world.aof_disable().await,
                    _ => {}
                }
                Frame::Ok
            }))
        }
        "resetstat" => {
            let world = ctx.world.clone();
            Step::Async(Box::pin(async move {
                world.broadcast_task(CoreTask::ResetStats).await;
                Frame::Ok
            }))
        }
        "rewrite" => Step::Done(Frame::err(
            "ERR CONFIG REWRITE is not supported: stairkv reads its config file but never writes it",
        )),
        _ => Step::Done(help_reply(&[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
        ])),
    }
}

fn command_info(c: &CommandSpec) -> Frame {
    Frame::Array(vec![
        Frame::bulk(c.name),
        Frame::Int(c.arity as i64),
        Frame::Set(c.flags.iter().map(|f| Frame::Simple((*f).into())).collect()),
        Frame::Int(c.first_key as i64),
        Frame::Int(c.last_key as i64),
        Frame::Int(c.step as i64),
        Frame::Set(vec![Frame::Simple(format!("@{}", c.group).into())]),
        Frame::Set(vec![]),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
    ])
}

fn command_docs(c: &CommandSpec) -> Frame {
    Frame::Map(vec![
        (Frame::bulk("summary"), Frame::bulk(c.summary)),
        (Frame::bulk("since"), Frame::bulk(c.since)),
        (Frame::bulk("group"), Frame::bulk(c.group)),
    ])
}

pub fn command(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let table = ctx.table;
    if a.len() == 1 {
        return Step::Done(Frame::Array(table.all.iter().map(command_info).collect()));
    }
    let subs = [
        ("count", 2),
        ("list", -2),
        ("info", -2),
        ("docs", -2),
        ("getkeys", -3),
        ("help", 2),
    ];
    let sub = match subcommand("command", a, &subs) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    match sub {
        "count" => Step::Done(Frame::Int(table.all.len() as i64)),
        "list" => Step::Done(Frame::Array(
            table.all.iter().map(|c| Frame::bulk(c.name)).collect(),
        )),
        "info" => {
            if a.len() == 2 {
                return Step::Done(Frame::Array(table.all.iter().map(command_info).collect()));
            }
            Step::Done(Frame::Array(
                a[2..]
                    .iter()
                    .map(|n| {
                        (table.lookup)(n)
                            .map(command_info)
                            .unwrap_or(Frame::NullArray)
                    })
                    .collect(),
            ))
        }
        "docs" => {
            let specs: Vec<&CommandSpec> = if a.len() == 2 {
                table.all.iter().collect()
            } else {
                a[2..].iter().filter_map(|n| (table.lookup)(n)).collect()
            };
            Step::Done(Frame::Map(
                specs
                    .into_iter()
                    .map(|c| (Frame::bulk(c.name), command_docs(c)))
                    .collect(),
            ))
        }
        "getkeys" => {
            let Some(c) = (table.lookup)(&a[2]) else {
                return Step::Done(Frame::err("ERR Invalid command specified"));
            };
            let args = &a[2..];
            if c.first_key == 0 {
                return Step::Done(Frame::err("ERR The command has no key arguments"));
            }
            let last = if c.last_key < 0 {
                args.len() as i32 + c.last_key
            } else {
                c.last_key
            };
            let mut keys = Vec::new();
            let mut i = c.first_key;
            while i <= last && (i as usize) < args.len() {
                keys.push(Frame::Bulk(args[i as usize].clone()));
                i += c.step.max(1);
            }
            Step::Done(Frame::Array(keys))
        }
        _ => Step::Done(help_reply(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "HELP",
            "    Print this help.",
        ])),
    }
}

/// SAVE: every core's keys into `dir/dbfilename`, in Redis's RDB format
/// (`core::snapshot`). Replies once the file is synced and renamed in place.
pub fn save(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        match crate::core::snapshot::save(&world).await {
            Ok(_) => Frame::Ok,
            Err(e) => {
                tracing::warn!(error = %e, "SAVE failed");
                Frame::err(format!("ERR {e}"))
            }
        }
    }))
}

/// BGSAVE [SCHEDULE]: a fork-less snapshot while every core keeps serving
/// (`core::snapshot`); replies as soon as it has started.
pub fn bgsave(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let schedule = match a.get(1).map(|s| lower(s)) {
        None => false,
        Some(s) if s == "schedule" && a.len() == 2 => true,
        Some(_) => return Step::Done(Frame::err("ERR syntax error")),
    };
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        match crate::core::snapshot::bgsave(&world, schedule).await {
            Ok(status) => Frame::Simple(status.into()),
            Err(e) => Frame::err(e),
        }
    }))
}

/// BGREWRITEAOF: every core's log replaced by a base and the tail written
/// meanwhile (`core::rewrite`), in the background.
pub fn bgrewriteaof(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        match crate::core::rewrite::bgrewriteaof(&world).await {
            Ok(status) => Frame::Simple(status.into()),
            Err(e) => Frame::err(e),
        }
    }))
}

/// LASTSAVE: the unix time of the last successful SAVE (the start before one).
pub fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    Step::Done(Frame::Int(ctx.world.persist.last_save.get() as i64))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stop the server as SIGTERM
/// does (finish in-flight requests, close every door). It saves with SAVE, or
/// when save points are set and NOSAVE is not given, as Redis; a failed save
/// stops the shutdown unless FORCE. Nothing is answered on success: the
/// connection closes with the server, as clients expect.
pub fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (mut save, mut nosave, mut force, mut abort) = (false, false, false, false);
    for arg in &a[1..] {
        match lower(arg).as_str() {
            "save" => save = true,
            "nosave" => nosave = true,
            "now" => {}
            "force" => force = true,
            "abort" => abort = true,
            _ => return Step::Done(Frame::err("ERR syntax error")),
        }
    }
    if (save && nosave) || (abort && a.len() > 2) {
        return Step::Done(Frame::err("ERR syntax error"));
    }
    if abort {
        return Step::Done(Frame::err("ERR No shutdown in progress."));
    }
    let world = ctx.world.clone();
    // With save points set, a plain SHUTDOWN saves too (Redis's rule).
    let save = save || (!nosave && !world.config.borrow().save.is_empty());
    Step::Async(Box::pin(async move {
        if save {
            if let Err(e) = crate::core::snapshot::save(&world).await {
                tracing::warn!(error = %e, "SHUTDOWN: the save failed");
                if !force {
                    return Frame::err("ERR Errors trying to SHUTDOWN. Check logs.");
                }
            }
        }
        tracing::info!(save, "SHUTDOWN asked for by a client");
        // Saved (or told not to): the stop that follows must not save again.
        crate::core::snapshot::STOP_SAVE_DONE.store(true, std::sync::atomic::Ordering::SeqCst);
        // The main thread waits for SIGTERM (server::run): the same road as a signal.
        // SAFETY: kill(2) on our own pid with a valid signal number touches no memory.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
        Frame::Multi(Vec::new())
    }))
}
