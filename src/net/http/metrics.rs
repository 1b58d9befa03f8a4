//! `/metrics` in the Prometheus text format (0.0.4, what `promtool check
//! metrics` reads), written by the `prometheus` crate's encoder from one
//! gathering of every core's counters at scrape time: each core keeps plain
//! counters of its own, no shared atomic is touched on the request path.
//! Every per-core series has a `core` label; a server total is `sum without
//! (core)`, which never counts anything twice. The command latency histogram
//! is per core and command family (Redis's command groups), made at scrape
//! time from the per-command histograms that `latency-tracking` keeps.

use super::reply::{self, Reply};
use super::stats::{snapshot, Snapshot};
use super::State;
use crate::command::dispatch::all_commands;
use crate::core::cmdstats::CommandStat;
use crate::core::mesh::CoreStats;
use hyper::StatusCode;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

/// A per-core series: name, help, type and the `CoreStats` field it shows.
type PerCore = (
    &'static str,
    &'static str,
    MetricType,
    fn(&CoreStats) -> u64,
);
/// A per-command counter: name, help and the `CommandStat` field it shows.
type PerCommand = (&'static str, &'static str, fn(&CommandStat) -> u64);

/// The latency histogram's bucket bounds, in seconds.
const BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 1.0,
];

pub async fn render(state: &State) -> Reply {
    let snap = snapshot(&state.world, true).await;
    let families = families(state, &snap);
    let mut text = String::new();
    match prometheus::TextEncoder::new().encode_utf8(&families, &mut text) {
        Ok(()) => reply::with(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            text,
        ),
        Err(e) => reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("encoding metrics: {e}"),
        ),
    }
}

fn label(name: &str, value: impl Into<String>) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.into());
    l.set_value(value.into());
    l
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.into());
    f.set_help(help.into());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

fn sample(labels: Vec<LabelPair>, kind: MetricType, value: f64) -> Metric {
    let mut m = Metric::from_label(labels);
    if kind == MetricType::COUNTER {
        let mut c = Counter::default();
        c.set_value(value);
        m.set_counter(c);
    } else {
        let mut g = Gauge::default();
        g.set_value(value);
        m.set_gauge(g);
    }
    m
}

/// A server-wide gauge without labels.
fn single(name: &str, help: &str, value: f64) -> MetricFamily {
    family(
        name,
        help,
        MetricType::GAUGE,
        vec![sample(Vec::new(), MetricType::GAUGE, value)],
    )
}

/// One series per core from a `CoreStats` field.
fn per_core(
    snap: &Snapshot,
    name: &str,
    help: &str,
    kind: MetricType,
    value: fn(&CoreStats) -> u64,
) -> MetricFamily {
    let metrics = snap
        .cores
        .iter()
        .map(|c| {
            sample(
                vec![label("core", c.core.to_string())],
                kind,
                value(c) as f64,
            )
        })
        .collect();
    family(name, help, kind, metrics)
}

fn families(state: &State, snap: &Snapshot) -> Vec<MetricFamily> {
    use MetricType::{COUNTER, GAUGE};
    let world = &state.world;
    let c = world.config.borrow();
    let mut out = vec![
        single("stairkv_up", "1 while the server answers.", 1.0),
        family(
            "stairkv_info",
            "The server's version (the value is always 1).",
            GAUGE,
            vec![sample(
                vec![label("version", env!("CARGO_PKG_VERSION"))],
                GAUGE,
                1.0,
            )],
        ),
        single(
            "stairkv_uptime_seconds",
            "Seconds since the server started.",
            world.started.elapsed().as_secs_f64(),
        ),
        single("stairkv_cores", "Cores serving.", world.ncores as f64),
        single(
            "stairkv_loading",
            "1 while the dataset is loading at start.",
            f64::from(u8::from(crate::core::recover::loading())),
        ),
        single(
            "stairkv_maxmemory_bytes",
            "The maxmemory setting (0: no limit).",
            c.maxmemory as f64,
        ),
    ];
    drop(c);
    let rows: [PerCore; 22] = [
        ("stairkv_keys", "Keys held by the core.", GAUGE, |c| c.keys),
        (
            "stairkv_keys_with_ttl",
            "Keys with a deadline held by the core.",
            GAUGE,
            |c| c.ttl_keys,
        ),
        (
            "stairkv_memory_used_bytes",
            "Memory the core's keyspace uses.",
            GAUGE,
            |c| c.used_memory,
        ),
        (
            "stairkv_memory_limit_bytes",
            "The core's share of maxmemory (0: no limit).",
            GAUGE,
            |c| c.memory_limit,
        ),
        ("stairkv_shards", "Shards the core owns.", GAUGE, |c| {
            c.shards
        }),
        (
            "stairkv_shard_migrations_in_flight",
            "Shard migrations under way on the core.",
            GAUGE,
            |c| c.migrations_in_flight,
        ),
        (
            "stairkv_connected_clients",
            "Connections on the core (every door).",
            GAUGE,
            |c| c.clients,
        ),
        (
            "stairkv_ops_per_second",
            "The core's sampled key operations per second.",
            GAUGE,
            |c| c.ops_per_sec.round() as u64,
        ),
        (
            "stairkv_keyspace_hits_total",
            "Reads that found their key.",
            COUNTER,
            |c| c.hits,
        ),
        (
            "stairkv_keyspace_misses_total",
            "Reads that did not find their key.",
            COUNTER,
            |c| c.misses,
        ),
        (
            "stairkv_expired_keys_total",
            "Keys removed because their deadline passed.",
            COUNTER,
            |c| c.expired,
        ),
        (
            "stairkv_evicted_keys_total",
            "Keys evicted under maxmemory.",
            COUNTER,
            |c| c.evicted,
        ),
        (
            "stairkv_shard_splits_total",
            "Shard splits the core performed.",
            COUNTER,
            |c| c.splits,
        ),
        (
            "stairkv_shard_merges_total",
            "Shard merges the core performed.",
            COUNTER,
            |c| c.merges,
        ),
        (
            "stairkv_shard_migrations_total",
            "Shard migrations the core completed.",
            COUNTER,
            |c| c.migrations_done,
        ),
        (
            "stairkv_keys_migrated_total",
            "Keys streamed to another core by migrations.",
            COUNTER,
            |c| c.keys_migrated,
        ),
        (
            "stairkv_keys_moved_total",
            "Keys moved between shards by splits and merges.",
            COUNTER,
            |c| c.keys_moved,
        ),
        (
            "stairkv_forwarded_ops_total",
            "Operations sent on to the core that owns their shard.",
            COUNTER,
            |c| c.forwarded,
        ),
        (
            "stairkv_connections_received_total",
            "Connections accepted (every door).",
            COUNTER,
            |c| c.connections_received,
        ),
        (
            "stairkv_rejected_connections_total",
            "Connections refused for maxclients.",
            COUNTER,
            |c| c.rejected_connections,
        ),
        (
            "stairkv_net_input_bytes_total",
            "Bytes read from clients.",
            COUNTER,
            |c| c.net_input_bytes,
        ),
        (
            "stairkv_net_output_bytes_total",
            "Bytes written to clients.",
            COUNTER,
            |c| c.net_output_bytes,
        ),
    ];
    for (name, help, kind, value) in rows {
        out.push(per_core(snap, name, help, kind, value));
    }
    out.extend(command_families(snap));
    // A family with no series yet (no command failed) is left out: the
    // encoder refuses an empty one.
    out.retain(|f| !f.get_metric().is_empty());
    out
}

/// Per-command counters and the per-family latency histogram.
fn command_families(snap: &Snapshot) -> Vec<MetricFamily> {
    let table = all_commands();
    let counters: [PerCommand; 3] = [
        ("stairkv_commands_total", "Commands run, by name.", |s| {
            s.calls
        }),
        (
            "stairkv_commands_failed_total",
            "Commands that ran and answered an error.",
            |s| s.failed,
        ),
        (
            "stairkv_commands_rejected_total",
            "Commands refused before they ran (arity, auth, ACL, OOM, loading).",
            |s| s.rejected,
        ),
    ];
    let mut out = Vec::new();
    for (name, help, value) in counters {
        let mut metrics = Vec::new();
        for (core, stats) in snap.commands.iter().enumerate() {
            for (i, s) in stats.commands.iter().enumerate() {
                let (Some(spec), n) = (table.get(i), value(s)) else {
                    continue;
                };
                if n > 0 {
                    metrics.push(sample(
                        vec![label("core", core.to_string()), label("command", spec.name)],
                        MetricType::COUNTER,
                        n as f64,
                    ));
                }
            }
        }
        out.push(family(name, help, MetricType::COUNTER, metrics));
    }
    let mut groups: Vec<&str> = table.iter().map(|s| s.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut metrics = Vec::new();
    for (core, stats) in snap.commands.iter().enumerate() {
        for &group in &groups {
            let pick = |i: usize| table.get(i).is_some_and(|s| s.group == group);
            let Some((h, nanos)) = stats.latency_of(pick) else {
                continue;
            };
            let mut hist = Histogram::default();
            hist.set_sample_count(h.len());
            hist.set_sample_sum(nanos as f64 / 1e9);
            hist.set_bucket(
                BUCKETS
                    .iter()
                    .map(|&le| {
                        let mut b = Bucket::default();
                        b.set_upper_bound(le);
                        b.set_cumulative_count(h.count_between(0, (le * 1e9) as u64));
                        b
                    })
                    .collect(),
            );
            let mut m = Metric::from_label(vec![
                label("core", core.to_string()),
                label("family", group),
            ]);
            m.set_histogram(hist);
            metrics.push(m);
        }
    }
    out.push(family(
        "stairkv_command_duration_seconds",
        "Server-side command latency, from the start of its dispatch to its reply, by command family (with latency-tracking on).",
        MetricType::HISTOGRAM,
        metrics,
    ));
    out
}
