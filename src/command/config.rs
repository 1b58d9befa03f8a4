//! CONFIG GET, SET, RESETSTAT, REWRITE: the settings a client may read and
//! change at run time, with Redis's names, value spellings and errors. A SET
//! is checked here and then applied on every core through a core task.

use super::acl;
use super::args::{glob_str, lower};
use super::context::{help_reply, subcommand, wrong_arity, Ctx, Step};
use super::frame::Frame;
use crate::config::Config;
use crate::config::Policy;
use crate::core::mesh::CoreTask;
use bytes::Bytes;

/// Every parameter CONFIG GET knows, with its current value.
fn config_params(c: &Config) -> Vec<(&'static str, String)> {
    vec![
        ("bind", c.bind.clone()),
        ("port", c.port.to_string()),
        ("text-port", c.text_port.to_string()),
        ("http-port", c.http_port.to_string()),
        ("cores", c.cores.len().to_string()),
        ("requirepass", c.requirepass.clone().unwrap_or_default()),
        (
            "protected-mode",
            if c.protected_mode { "yes" } else { "no" }.into(),
        ),
        ("log-level", c.log_level.clone()),
        (
            "loglevel",
            crate::config::redis_loglevel(&c.log_level).into(),
        ),
        ("timeout", c.timeout.to_string()),
        ("tcp-keepalive", c.tcp_keepalive.to_string()),
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
        ("busy-reply-threshold", c.busy_reply_threshold.to_string()),
        ("busy-poll-us", c.busy_poll_us.to_string()),
        ("lua-time-limit", c.busy_reply_threshold.to_string()),
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
        (
            "slowlog-log-slower-than",
            c.slowlog_log_slower_than.to_string(),
        ),
        ("slowlog-max-len", c.slowlog_max_len.to_string()),
        (
            "hash-max-listpack-entries",
            c.hash_max_listpack_entries.to_string(),
        ),
        (
            "hash-max-listpack-value",
            c.hash_max_listpack_value.to_string(),
        ),
        (
            "set-max-intset-entries",
            c.set_max_intset_entries.to_string(),
        ),
        (
            "set-max-listpack-entries",
            c.set_max_listpack_entries.to_string(),
        ),
        (
            "set-max-listpack-value",
            c.set_max_listpack_value.to_string(),
        ),
        (
            "list-max-listpack-size",
            c.list_max_listpack_size.to_string(),
        ),
        (
            "zset-max-listpack-entries",
            c.zset_max_listpack_entries.to_string(),
        ),
        (
            "zset-max-listpack-value",
            c.zset_max_listpack_value.to_string(),
        ),
        ("hll-sparse-max-bytes", c.hll_sparse_max_bytes.to_string()),
        // Redis 7 still answers to the names of the encodings before listpack.
        (
            "hash-max-ziplist-entries",
            c.hash_max_listpack_entries.to_string(),
        ),
        (
            "hash-max-ziplist-value",
            c.hash_max_listpack_value.to_string(),
        ),
        (
            "list-max-ziplist-size",
            c.list_max_listpack_size.to_string(),
        ),
        (
            "zset-max-ziplist-entries",
            c.zset_max_listpack_entries.to_string(),
        ),
        (
            "zset-max-ziplist-value",
            c.zset_max_listpack_value.to_string(),
        ),
        (
            "aclfile",
            c.aclfile
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("acllog-max-len", c.acllog_max_len.to_string()),
        (
            "tracking-table-max-keys",
            c.tracking_table_max_keys.to_string(),
        ),
        (
            "acl-pubsub-default",
            if c.acl_pubsub_all {
                "allchannels"
            } else {
                "resetchannels"
            }
            .into(),
        ),
        (
            "latency-monitor-threshold",
            c.latency_monitor_threshold.to_string(),
        ),
        (
            "latency-tracking",
            if c.latency_tracking { "yes" } else { "no" }.into(),
        ),
        (
            "latency-tracking-info-percentiles",
            c.latency_tracking_info_percentiles
                .iter()
                .map(|p| crate::config::percentile_string(*p))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ]
}

/// Turn the logs on (a rewrite first, as Redis); on failure, off again
/// everywhere, so the config never says `appendonly yes` with no log.
async fn logs_on(world: &std::rc::Rc<crate::core::world::World>) -> Result<(), String> {
    let Err(e) = world.aof_enable().await else {
        return Ok(());
    };
    let mut back = world.config.borrow().clone();
    back.appendonly = false;
    world.aof_disable().await;
    world
        .broadcast_task(CoreTask::SetConfig(Box::new(back)))
        .await;
    Err(e)
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
        "busy-reply-threshold" | "lua-time-limit" => c.busy_reply_threshold = num()?,
        "busy-poll-us" => c.busy_poll_us = num()?.min(1_000_000),
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
        "log-level" | "loglevel" => {
            let level = if name == "loglevel" {
                crate::config::loglevel_from_redis(&text).ok_or_else(|| {
                    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument(s) must be one of the following: debug, verbose, notice, warning, nothing")
                })?.to_string()
            } else {
                text
            };
            crate::config::apply_log_level(&level).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}")
            })?;
            c.log_level = level;
        }
        "timeout" => c.timeout = num()?,
        "tcp-keepalive" => c.tcp_keepalive = num()?,
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
        "slowlog-log-slower-than" => {
            c.slowlog_log_slower_than = text.trim().parse::<i64>().ok().filter(|n| *n >= -1).ok_or_else(|| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be between -1 and 9223372036854775807 inclusive")
            })?
        }
        "slowlog-max-len" => c.slowlog_max_len = num()?,
        "hash-max-listpack-entries" | "hash-max-ziplist-entries" => {
            c.hash_max_listpack_entries = num()?
        }
        "hash-max-listpack-value" | "hash-max-ziplist-value" => c.hash_max_listpack_value = num()?,
        "set-max-intset-entries" => c.set_max_intset_entries = num()?,
        "set-max-listpack-entries" => c.set_max_listpack_entries = num()?,
        "set-max-listpack-value" => c.set_max_listpack_value = num()?,
        "list-max-listpack-size" | "list-max-ziplist-size" => {
            // Redis's range for it: an int.
            c.list_max_listpack_size = text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| {
                    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be between -2147483648 and 2147483647 inclusive")
                })?
        }
        "zset-max-listpack-entries" | "zset-max-ziplist-entries" => {
            c.zset_max_listpack_entries = num()?
        }
        "zset-max-listpack-value" | "zset-max-ziplist-value" => c.zset_max_listpack_value = num()?,
        "hll-sparse-max-bytes" => c.hll_sparse_max_bytes = num()?,
        "acllog-max-len" => c.acllog_max_len = num()?,
        "tracking-table-max-keys" => c.tracking_table_max_keys = num()?,
        "acl-pubsub-default" => {
            c.acl_pubsub_all = crate::config::parse_acl_pubsub_default(&text).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}")
            })?
        }
        "latency-monitor-threshold" => c.latency_monitor_threshold = num()?,
        "latency-tracking" => {
            c.latency_tracking = crate::config::parse_switch(&text).map_err(|_| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be 'yes' or 'no'")
            })?
        }
        "latency-tracking-info-percentiles" => {
            c.latency_tracking_info_percentiles = crate::config::parse_percentiles(&text).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}")
            })?
        }
        "bind" | "port" | "text-port" | "http-port" | "cores" | "initial-shards" | "databases" | "aclfile"
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
            // The users are process-wide: set once, here, not by each core.
            let names: Vec<String> = a[2..].chunks(2).map(|kv| lower(&kv[0])).collect();
            if names.iter().any(|n| n == "requirepass") {
                acl::users::set_default_password(cfg.requirepass.as_deref());
            }
            acl::users::set_pubsub_all(cfg.acl_pubsub_all);
            acl::log::set_max_len(cfg.acllog_max_len as usize);
            let world = ctx.world.clone();
            let was = world.config.borrow().appendonly;
            let now = cfg.appendonly;
            // Inside a transaction, which holds its keys: the rewrite that
            // turns the logs on begins once nothing is held, so it runs in
            // the background, as Redis's always does.
            if ctx.batch.tx() != 0 && !was && now {
                return Step::Async(Box::pin(async move {
                    world
                        .broadcast_task(CoreTask::SetConfig(Box::new(cfg)))
                        .await;
                    let w = world.clone();
                    crate::runtime::task::spawn(async move {
                        if let Err(e) = logs_on(&w).await {
                            tracing::warn!(error = %e, "cannot turn the logs on");
                        }
                    })
                    .detach();
                    Frame::Ok
                }));
            }
            Step::Async(Box::pin(async move {
                world
                    .broadcast_task(CoreTask::SetConfig(Box::new(cfg)))
                    .await;
                // Logs on: a rewrite first (as Redis), answered once its bases
                // and manifest are written; off: every core stops logging.
                match (was, now) {
                    (false, true) => {
                        if let Err(e) = logs_on(&world).await {
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
