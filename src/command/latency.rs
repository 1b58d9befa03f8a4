//! LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR/HISTOGRAM/HELP. The first five
//! read the latency monitor (`core::latency`): events that took at least
//! `latency-monitor-threshold` ms, merged from every core. HISTOGRAM reads
//! the per-command latency histograms (`latency-tracking`). This file only
//! reads and clears them; samples are taken where commands run (`observe`).

use super::context::{help_reply, subcommand, Ctx, Step, Table};
use super::frame::Frame;
use crate::core::cmdstats::CommandStats;
use crate::core::latency::{LatencyMonitor, Series};
use crate::core::mesh::{CoreTask, TaskResult};
use crate::core::world::World;
use bytes::Bytes;
use std::fmt::Write;
use std::rc::Rc;

/// Every core's latency series, merged.
async fn gather(world: &Rc<World>) -> LatencyMonitor {
    let mut all = LatencyMonitor::default();
    for r in world.broadcast_task(CoreTask::Latency).await {
        if let TaskResult::Latency(m) = r {
            all.merge(&m);
        }
    }
    all
}

pub fn latency(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let subs = [
        ("latest", 2),
        ("history", 3),
        ("reset", -2),
        ("graph", 3),
        ("doctor", 2),
        ("histogram", -2),
        ("help", 2),
    ];
    let sub = match subcommand("latency", a, &subs) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    let world = ctx.world.clone();
    let args: Vec<String> = a[2..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let table = ctx.table;
    match sub {
        "latest" => Step::Async(Box::pin(async move {
            let m = gather(&world).await;
            Frame::Array(
                m.events
                    .iter()
                    .filter_map(|(e, s)| {
                        let (at, ms) = s.latest()?;
                        Some(Frame::Array(vec![
                            Frame::bulk(e),
                            Frame::Int(at as i64),
                            Frame::Int(ms as i64),
                            Frame::Int(s.max as i64),
                        ]))
                    })
                    .collect(),
            )
        })),
        "history" => Step::Async(Box::pin(async move {
            let m = gather(&world).await;
            let samples = m.get(&args[0]).map(|s| s.samples.clone()).unwrap_or_default();
            Frame::Array(
                samples
                    .into_iter()
                    .map(|(at, ms)| Frame::Array(vec![Frame::Int(at as i64), Frame::Int(ms as i64)]))
                    .collect(),
            )
        })),
        "reset" => Step::Async(Box::pin(async move {
            // One event counts once, however many cores had it.
            let before = gather(&world).await;
            world
                .broadcast_task(CoreTask::LatencyReset {
                    events: args.clone(),
                })
                .await;
            let n = before
                .events
                .iter()
                .filter(|(e, _)| args.is_empty() || args.contains(e))
                .count();
            Frame::Int(n as i64)
        })),
        "graph" => Step::Async(Box::pin(async move {
            let m = gather(&world).await;
            match m.get(&args[0]) {
                Some(s) => Frame::Verbatim(graph(&args[0], s)),
                None => Frame::Error(
                    format!("ERR No samples available for event '{}'", args[0]).into(),
                ),
            }
        })),
        "doctor" => Step::Async(Box::pin(async move {
            let threshold = world.config.borrow().latency_monitor_threshold;
            Frame::Verbatim(doctor(&gather(&world).await, threshold))
        })),
        "histogram" => Step::Async(Box::pin(async move {
            histogram(table, &super::observe::gathered(&world, true).await, &args)
        })),
        _ => Step::Done(help_reply(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Print this help.",
        ])),
    }
}

/// One line per sample, its bar as long as its share of the worst.
fn graph(event: &str, s: &Series) -> String {
    let high = s.samples.iter().map(|x| x.1).max().unwrap_or(0);
    let low = s.samples.iter().map(|x| x.1).min().unwrap_or(0);
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n",
        s.max
    );
    out.push_str(&"-".repeat(72));
    out.push('\n');
    for (at, ms) in &s.samples {
        let bar = if high == 0 {
            0
        } else {
            (ms * 50).div_ceil(high)
        } as usize;
        let _ = writeln!(out, "{at} {ms:>6} ms |{}", "#".repeat(bar));
    }
    out
}

/// A short report in words: each event's worst and latest, and what to look at.
fn doctor(m: &LatencyMonitor, threshold: u64) -> String {
    if threshold == 0 {
        return "Latency monitoring is disabled in this stairkv instance. Use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" to enable it.\n".into();
    }
    if m.events.is_empty() {
        return format!("No latency spike of {threshold} ms or more was observed since the monitor was started or reset.\n");
    }
    let mut out = format!(
        "Latency spikes of {threshold} ms or more were observed for {} event(s):\n\n",
        m.events.len()
    );
    for (i, (e, s)) in m.events.iter().enumerate() {
        let n = s.samples.len() as u64;
        let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n.max(1);
        let (first, last) = (
            s.samples.front().map_or(0, |x| x.0),
            s.latest().map_or(0, |x| x.0),
        );
        let _ = writeln!(
            out,
            "{}. {e}: {n} latency spikes (average {avg}ms, worst {}ms), between unix seconds {first} and {last}.",
            i + 1,
            s.max
        );
    }
    out.push_str("\nI have a few advices for you:\n\n");
    if m.events
        .iter()
        .any(|(e, _)| e == "command" || e == "fast-command")
    {
        out.push_str("- Check SLOWLOG GET for the commands that were slow; KEYS, big MGET/MSET and scripts run long on big keyspaces. Prefer SCAN to KEYS.\n");
        out.push_str("- A command's time includes waiting for other cores: a busy core slows the commands that reach its keys. STAIRKV SHARDS shows how keys are spread.\n");
    }
    out
}

/// LATENCY HISTOGRAM: per command, its calls and the cumulative count of
/// calls up to each power-of-two microsecond bucket that holds any.
fn histogram(table: &Table, stats: &CommandStats, wanted: &[String]) -> Frame {
    let mut rows = Vec::new();
    for (i, s) in stats.commands.iter().enumerate() {
        let (Some(spec), Some(h)) = (table.all.get(i), s.latency.as_ref()) else {
            continue;
        };
        if !wanted.is_empty() && !wanted.iter().any(|w| w.eq_ignore_ascii_case(spec.name)) {
            continue;
        }
        let mut buckets = Vec::new();
        let mut cumulative = 0;
        for v in h.iter_log(1000, 2.0) {
            cumulative += v.count_since_last_iteration();
            if v.count_since_last_iteration() > 0 {
                let upper_us = (v.value_iterated_to() + 1) / 1000;
                buckets.push((Frame::Int(upper_us as i64), Frame::Int(cumulative as i64)));
            }
        }
        rows.push((
            Frame::bulk(spec.name),
            Frame::Map(vec![
                (Frame::bulk("calls"), Frame::Int(h.len() as i64)),
                (Frame::bulk("histogram_usec"), Frame::Map(buckets)),
            ]),
        ));
    }
    Frame::Map(rows)
}
