//! INFO: the server's sections (Redis 7's that apply, and stairkv's own
//! `staircase`), summed over every core through core tasks, in Redis's field
//! names so that tools that parse INFO read it. It only reads.

use super::args::lower;
use super::connection::REDIS_COMPAT_VERSION;
use super::context::{Ctx, Step, Table};
use super::frame::Frame;
use crate::core::cmdstats::CommandStats;
use crate::core::mesh::{CoreStats, CoreTask, TaskResult};
use crate::core::world::World;
use bytes::Bytes;
use std::fmt::Write;
use std::rc::Rc;

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

/// Every section, in Redis's order (stairkv's own `staircase` last).
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "staircase",
];

/// 40 hex digits fixed for the life of the process, different for each
/// `salt`: the run id (`salt` 0) and the replication id (1) Redis reports.
fn process_id_hex(salt: u64) -> String {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        clock ^ (u64::from(std::process::id()) << 32)
    });
    let a = (seed ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let b = a.rotate_left(29).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let c = b.rotate_left(31).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{a:016x}{b:016x}{:08x}", c >> 32)
}

/// The replication id INFO and ROLE report: a master with no replicas has
/// one all the same.
pub fn replication_id() -> String {
    process_id_hex(1)
}

/// CPU seconds from a /proc stat file: `utime`, `stime`, `cutime`, `cstime`
/// (fields 14 to 17), zeros when it cannot be read.
fn cpu_seconds(path: &str) -> [f64; 4] {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / CLOCK_TICKS;
    [tick(11), tick(12), tick(13), tick(14)]
}

/// The kernel's USER_HZ: /proc reports CPU time in these (100 on Linux).
const CLOCK_TICKS: f64 = 100.0;

/// Sections `INFO` and `INFO default` leave out, as Redis: one line per command.
const NOT_DEFAULT: &[&str] = &["commandstats", "latencystats"];

pub fn info(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let mut wanted: Vec<String> = a[1..].iter().map(|s| lower(s)).collect();
    let every = |skip: &[&str]| -> Vec<String> {
        SECTIONS
            .iter()
            .filter(|s| !skip.contains(s))
            .map(|s| s.to_string())
            .collect()
    };
    if wanted.iter().any(|s| s == "all" || s == "everything") {
        wanted = every(&[]);
    } else if wanted.is_empty() || wanted.iter().any(|s| s == "default") {
        let extra: Vec<String> = wanted.clone();
        wanted = every(NOT_DEFAULT);
        wanted.extend(extra);
    }
    let world = ctx.world.clone();
    let table = ctx.table;
    Step::Async(Box::pin(async move {
        let want = |s: &str| wanted.iter().any(|w| w == s);
        let commands = if want("commandstats") || want("errorstats") || want("latencystats") {
            super::observe::gathered(&world, want("latencystats")).await
        } else {
            CommandStats::default()
        };
        let stats: Vec<CoreStats> = world
            .broadcast_task(CoreTask::Stats)
            .await
            .into_iter()
            .filter_map(|r| match r {
                TaskResult::Stats(s) => Some(*s),
                _ => None,
            })
            .collect();
        Frame::Verbatim(render_info(&world, &stats, (table, &commands), &wanted))
    }))
}

/// INFO commandstats: one line per command that was called or refused.
fn commandstats(out: &mut String, table: &Table, c: &CommandStats) {
    out.push_str("# Commandstats\r\n");
    for (i, s) in c.commands.iter().enumerate() {
        let Some(spec) = table.all.get(i).filter(|_| !s.is_empty()) else {
            continue;
        };
        let usec = s.nanos / 1000;
        let per_call = if s.calls == 0 {
            0.0
        } else {
            usec as f64 / s.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={usec},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            spec.name, s.calls, s.rejected, s.failed
        );
    }
}

/// INFO errorstats: replies per error code.
fn errorstats(out: &mut String, c: &CommandStats) {
    out.push_str("# Errorstats\r\n");
    for (code, n) in &c.errors {
        let _ = write!(out, "errorstat_{code}:count={n}\r\n");
    }
}

/// INFO latencystats: the configured percentiles of each timed command, in µs.
fn latencystats(out: &mut String, table: &Table, c: &CommandStats, percentiles: &[f64]) {
    out.push_str("# Latencystats\r\n");
    for (i, s) in c.commands.iter().enumerate() {
        let (Some(spec), Some(h)) = (table.all.get(i), s.latency.as_ref()) else {
            continue;
        };
        let values: Vec<String> = percentiles
            .iter()
            .map(|p| {
                let us = h.value_at_quantile(p / 100.0) as f64 / 1000.0;
                format!("p{}={us:.3}", crate::config::percentile_string(*p))
            })
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{}:{}\r\n",
            spec.name,
            values.join(",")
        );
    }
}

fn render_info(
    world: &Rc<World>,
    stats: &[CoreStats],
    (table, commands): (&Table, &CommandStats),
    wanted: &[String],
) -> String {
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
                    "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nstairkv_version:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\ntext_port:{}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\ncores:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::OS,
                    std::process::id(),
                    process_id_hex(0),
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
                    "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\ntotal_blocking_keys:{}\r\ntotal_blocking_keys_on_nokey:0\r\n",
                    sum(|s| s.clients),
                    cfg.maxclients,
                    sum(|s| s.blocked),
                    sum(|s| s.tracking_clients),
                    // Every core holds every wait: any core's count is the server's.
                    stats.iter().map(|s| s.blocking_keys).max().unwrap_or(0),
                );
                let (reason, actions, left) = match crate::core::pause::state() {
                    Some((left, true)) => ("client_pause", "all", left),
                    Some((left, false)) => ("client_pause", "write", left),
                    None => ("none", "none", 0),
                };
                let _ = write!(
                    out,
                    "paused_reason:{reason}\r\npaused_actions:{actions}\r\npaused_timeout_milliseconds:{left}\r\n"
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
                    sum(|s| s.aof_size) + sum(|s| s.aof_settled),
                    sum(|s| s.aof_rewrite_base),
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
            "replication" => {
                let _ = write!(
                    out,
                    "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                    replication_id(),
                    "0".repeat(40),
                );
            }
            "cpu" => {
                let [user, sys, cuser, csys] = cpu_seconds("/proc/self/stat");
                // The thread answering: one core's executor (Redis's main thread).
                let [tuser, tsys, ..] = cpu_seconds("/proc/thread-self/stat");
                let _ = write!(
                    out,
                    "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{csys:.6}\r\nused_cpu_user_children:{cuser:.6}\r\nused_cpu_sys_main_thread:{tsys:.6}\r\nused_cpu_user_main_thread:{tuser:.6}\r\n",
                );
            }
            "commandstats" => commandstats(&mut out, table, commands),
            "errorstats" => errorstats(&mut out, commands),
            "latencystats" => latencystats(
                &mut out,
                table,
                commands,
                &cfg.latency_tracking_info_percentiles,
            ),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "stats" => {
                let _ = write!(
                    out,
                    "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nmesh_messages_sent:{}\r\nbusy_poll_hits:{}\r\n",
                    sum(|s| s.connections_received),
                    sum(|s| s.commands),
                    sum(|s| s.net_input_bytes),
                    sum(|s| s.net_output_bytes),
                    sum(|s| s.rejected_connections),
                    sum(|s| s.expired),
                    sum(|s| s.evicted),
                    sum(|s| s.hits),
                    sum(|s| s.misses),
                    sum(|s| s.error_replies),
                    sum(|s| s.tracking_keys),
                    sum(|s| s.tracking_items),
                    // Every core keeps every BCAST prefix: count one core's.
                    stats.iter().map(|s| s.tracking_prefixes).max().unwrap_or(0),
                    sum(|s| s.mesh_sent),
                    sum(|s| s.busy_poll_hits),
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
