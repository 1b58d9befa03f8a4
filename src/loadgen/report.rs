//! What a person reads after a run: the final table on stdout, and with
//! `--report-dir` a JSON summary, one `.hgrm` percentile distribution per
//! command and an SVG latency-by-percentile plot; and `stairkv-bench plot`,
//! which draws several results on one chart. Only formats and writes files;
//! never measures anything.

use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::args::{Plan, PlotArgs, Protocol, Stop};
use super::hgrm::{parse_hgrm, write_hgrm};
use super::keys::Distribution;
use super::plot::{percentile_svg, Series};
use super::run::Outcome;
use super::stats::{CmdStats, Stats};

/// The percentiles every report prints.
pub const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn describe(plan: &Plan) -> String {
    let dist = match plan.distribution {
        Distribution::Uniform => "uniform".to_string(),
        Distribution::Zipf(s) => format!("zipf:{s}"),
        Distribution::Sequential => "sequential".to_string(),
    };
    let scan = plan
        .scan
        .map(|sc| {
            format!(
                " + scans of {} new keys every {} requests",
                sc.len, sc.every
            )
        })
        .unwrap_or_default();
    let size = if plan.value_size.min == plan.value_size.max {
        format!("{}", plan.value_size.min)
    } else {
        format!("{}-{}", plan.value_size.min, plan.value_size.max)
    };
    let lp = match plan.rate {
        Some(r) => format!("open loop at {r:.0} ops/s"),
        None => "closed loop".into(),
    };
    let stop = match plan.stop {
        Stop::After(d) => format!("{:.1} s", d.as_secs_f64()),
        Stop::Requests(n) => format!("{n} requests"),
    };
    let proto = match plan.protocol {
        Protocol::Resp => "resp",
        Protocol::Text => "text",
    };
    let filter = plan
        .key_names
        .filter()
        .map(|f| format!(" (route hash mod {} = {})", f.n, f.r))
        .unwrap_or_default();
    format!(
        "{} ({}:{}, {proto}): {} connections on {} thread(s), pipeline {}, SET:GET {}:{}, {} keys{filter} {dist}{scan}, {size} B values{}, {lp}, {stop}",
        plan.label,
        plan.host,
        plan.port,
        plan.connections,
        plan.threads,
        plan.pipeline,
        plan.ratio.sets,
        plan.ratio.gets,
        plan.keys,
        plan.ttl.map(|t| format!(", TTL {t} s")).unwrap_or_default(),
    )
}

/// The final table.
pub fn table(plan: &Plan, out: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", describe(plan));
    let _ = write!(
        s,
        "{:<6} {:>10} {:>11} {:>10} {:>10} {:>7}",
        "", "ops", "ops/s", "hits", "misses", "errors"
    );
    for (name, _) in PERCENTILES {
        let _ = write!(s, " {name:>8}");
    }
    let _ = writeln!(s, " {:>8}  (latency in ms)", "max");
    let total = out.stats.total();
    for (name, c) in [
        ("SET", &out.stats.set),
        ("GET", &out.stats.get),
        ("TOTAL", &total),
    ] {
        if c.count() == 0 && name != "TOTAL" {
            continue;
        }
        let _ = write!(
            s,
            "{name:<6} {:>10} {:>11.0} {:>10} {:>10} {:>7}",
            c.count(),
            out.ops_per_sec(c.count()),
            c.hits,
            c.misses,
            c.errors
        );
        for (_, q) in PERCENTILES {
            let _ = write!(s, " {:>8.3}", ms(c.hist.value_at_quantile(q)));
        }
        let _ = writeln!(s, " {:>8.3}", ms(c.hist.max()));
    }
    let st = &out.stats;
    if plan.cache_aside {
        let _ = writeln!(
            s,
            "cache-aside: GET miss ratio {:.4} ({} misses in {} GETs, each followed by a SET)",
            miss_ratio(&st.get),
            st.get.misses,
            st.get.count()
        );
        if plan.scan.is_some() {
            let _ = writeln!(
                s,
                "cache-aside: {} GETs of scan keys ({} missed); without them the miss ratio is {:.4}",
                st.scan_hits + st.scan_misses,
                st.scan_misses,
                miss_ratio_without_scans(st)
            );
        }
    }
    if plan.verify {
        let _ = writeln!(
            s,
            "verify: {} wrong values, {} unexpected misses",
            st.wrong_values, st.unexpected_misses
        );
    }
    if st.prefill_errors > 0 || st.failed_connections > 0 {
        let _ = writeln!(
            s,
            "{} prefill errors, {} failed connections",
            st.prefill_errors, st.failed_connections
        );
    }
    for sample in &st.samples {
        let _ = writeln!(s, "  {sample}");
    }
    let _ = writeln!(s, "{}", if st.failed() { "FAILED" } else { "ok" });
    s
}

/// GET misses over GETs answered without error.
pub fn miss_ratio(get: &CmdStats) -> f64 {
    ratio(get.misses, get.hits)
}

/// `misses` over `misses + hits`; 0 when there were none.
fn ratio(misses: u64, hits: u64) -> f64 {
    let answered = hits + misses;
    if answered == 0 {
        0.0
    } else {
        misses as f64 / answered as f64
    }
}

/// The GET miss ratio of the keys in the key space alone: scan keys are
/// one-hit wonders that every cache misses.
pub fn miss_ratio_without_scans(st: &Stats) -> f64 {
    ratio(
        st.get.misses.saturating_sub(st.scan_misses),
        st.get.hits.saturating_sub(st.scan_hits),
    )
}

fn cmd_json(c: &CmdStats, out: &Outcome) -> serde_json::Value {
    let mut lat = serde_json::Map::new();
    for (name, q) in PERCENTILES {
        lat.insert(name.into(), json!(ms(c.hist.value_at_quantile(q))));
    }
    lat.insert("max".into(), json!(ms(c.hist.max())));
    lat.insert("mean".into(), json!(c.hist.mean() / 1000.0));
    json!({
        "ops": c.count(),
        "ops_per_sec": out.ops_per_sec(c.count()),
        "hits": c.hits,
        "misses": c.misses,
        "errors": c.errors,
        "latency_ms": lat,
    })
}

/// The JSON summary of a run.
pub fn summary_json(plan: &Plan, out: &Outcome) -> serde_json::Value {
    let st = &out.stats;
    json!({
        "label": plan.label,
        "description": describe(plan),
        "server": format!("{}:{}", plan.host, plan.port),
        "elapsed_s": out.elapsed.as_secs_f64(),
        "ok": !st.failed(),
        "commands": {
            "SET": cmd_json(&st.set, out),
            "GET": cmd_json(&st.get, out),
            "TOTAL": cmd_json(&st.total(), out),
        },
        "get_miss_ratio": miss_ratio(&st.get),
        "cache_aside": plan.cache_aside,
        "seed": plan.seed,
        "scan": plan.scan.map(|sc| format!("{}:{}", sc.every, sc.len)),
        "scan_get_hits": st.scan_hits,
        "scan_get_misses": st.scan_misses,
        "get_miss_ratio_without_scans": miss_ratio_without_scans(st),
        "hash_mod": plan.key_names.filter().map(|f| format!("{}:{}", f.n, f.r)),
        "wrong_values": st.wrong_values,
        "unexpected_misses": st.unexpected_misses,
        "prefill_errors": st.prefill_errors,
        "failed_connections": st.failed_connections,
        "samples": st.samples,
    })
}

/// Write summary.json, set/get/total.hgrm and latency.svg into `dir`.
pub fn write_dir(dir: &Path, plan: &Plan, out: &Outcome) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let summary = summary_json(plan, out);
    write(
        "summary.json",
        &serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )?;
    let total = out.stats.total();
    let mut series = Vec::new();
    for (name, c) in [
        ("set", &out.stats.set),
        ("get", &out.stats.get),
        ("total", &total),
    ] {
        let mut text = String::new();
        write_hgrm(&c.hist, &mut text);
        write(&format!("{name}.hgrm"), &text)?;
        if c.count() > 0 {
            series.push(Series {
                label: format!("{} {}", plan.label, name.to_uppercase()),
                points: hgrm_points(&text)?,
            });
        }
    }
    if plan.slow_us.is_some() {
        write("slow.csv", &slow_csv(&out.stats))?;
    }
    write(
        "latency.svg",
        &percentile_svg(&format!("Latency by percentile: {}", plan.label), &series),
    )
}

/// `--slow-log`'s lines in send order, and a last comment if some were left out.
fn slow_csv(st: &super::stats::Stats) -> String {
    let mut slow: Vec<_> = st.slow.iter().collect();
    slow.sort_by_key(|s| s.at_ms);
    let mut text = String::from("sent_unix_ms,latency_us,command,key\n");
    for s in slow {
        let _ = writeln!(text, "{},{},{},{}", s.at_ms, s.latency_us, s.cmd, s.key);
    }
    if st.slow_dropped > 0 {
        let _ = writeln!(text, "# {} more not kept", st.slow_dropped);
    }
    text
}

fn hgrm_points(text: &str) -> Result<Vec<(f64, f64)>, String> {
    let h = parse_hgrm(text)?;
    Ok(h.points
        .iter()
        .map(|p| (p.percentile, p.value_ms))
        .collect())
}

/// Resolve one `RESULT[=LABEL]` argument of `plot` into a series.
fn load_series(arg: &str) -> Result<Series, String> {
    let (path, label) = match arg.rsplit_once('=') {
        Some((p, l)) if !l.is_empty() => (PathBuf::from(p), Some(l.to_string())),
        _ => (PathBuf::from(arg), None),
    };
    let (file, default_label) = if path.is_dir() {
        let label = std::fs::read_to_string(path.join("summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["label"].as_str().map(str::to_string))
            .unwrap_or_else(|| path.display().to_string());
        (path.join("total.hgrm"), label)
    } else {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        (path.clone(), stem)
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let points = hgrm_points(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Series {
        label: label.unwrap_or(default_label),
        points,
    })
}

/// `stairkv-bench plot`: several results on one chart.
pub fn plot(args: &PlotArgs) -> Result<(), String> {
    let series = args
        .inputs
        .iter()
        .map(|a| load_series(a))
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::write(&args.out, percentile_svg(&args.title, &series))
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miss_ratios_with_and_without_scan_keys() {
        let mut st = Stats::default();
        assert_eq!(
            (miss_ratio(&st.get), miss_ratio_without_scans(&st)),
            (0.0, 0.0)
        );
        // 100 GETs: 60 hits, 40 misses, of which 20 on scan keys (all missed).
        (st.get.hits, st.get.misses, st.scan_misses) = (60, 40, 20);
        assert_eq!(miss_ratio(&st.get), 0.4);
        assert_eq!(miss_ratio_without_scans(&st), 0.25);
        // Only scan GETs: nothing left to rate.
        (st.get.hits, st.get.misses, st.scan_hits, st.scan_misses) = (1, 5, 1, 5);
        assert_eq!(miss_ratio_without_scans(&st), 0.0);
    }

    #[test]
    fn slow_requests_are_written_in_send_order_with_what_was_left_out() {
        let mut st = Stats::default();
        assert_eq!(slow_csv(&st), "sent_unix_ms,latency_us,command,key\n");
        let slow = |at_ms, key: &str| super::super::stats::Slow {
            at_ms,
            latency_us: 7000,
            cmd: "read",
            key: key.into(),
        };
        let mut other = Stats::default();
        other.slow_request(slow(20, "b"));
        st.slow_request(slow(10, "a"));
        st.slow_dropped = 2;
        st.merge(&other);
        assert_eq!(
            slow_csv(&st),
            "sent_unix_ms,latency_us,command,key\n10,7000,read,a\n20,7000,read,b\n# 2 more not kept\n"
        );
    }
}
