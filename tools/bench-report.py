#!/usr/bin/env python3
"""Turn a tools/bench.sh result directory into report.md and one SVG per workload.

usage: bench-report.py OUT ROUNDS CLK_TCK STAIRKV_BENCH "a b c d"

Each run left OUT/raw/<workload>-<server>-r<round>/ (stairkv-bench's
summary.json and .hgrm files, plus server_cpu_ticks and server_rss_kb). The
tables show the median of the rounds; the plots draw, for each server, the
round whose throughput was the median.
"""
import json
import os
import statistics
import subprocess
import sys

from benchlib import sh  # noqa: E402 (tools/ is on sys.path: the script's own folder)

out, rounds, clk, bench, workloads = sys.argv[1:6]
rounds, clk = int(rounds), int(clk)
raw = os.path.join(out, "raw")

WORKLOADS = {
    "a": "(a) 50 connections, pipeline 1, SET:GET 1:1, uniform over the keys, 32-byte values, prefilled",
    "b": "(b) as (a) with pipeline 16",
    "c": "(c) 50 connections, pipeline 1, SET:GET 1:10, Zipf 0.99, 32-byte values, prefilled",
    "d": "(d) the seed's headline: 100 connections, every key written once and read back (sequential, 1:1), fresh server",
    "o": "(o) as (a), open loop at a fixed offered load (70% of redis-server's closed-loop ops/s in (a) unless RATE was given)",
}

TITLES = {
    "a": "(a) 50 conns, pipeline 1, 1:1, uniform, 32 B",
    "b": "(b) 50 conns, pipeline 16, 1:1, uniform, 32 B",
    "c": "(c) 50 conns, pipeline 1, 1:10, Zipf 0.99, 32 B",
    "d": "(d) 100 conns, each key written once and read back",
    "o": "(o) 50 conns, pipeline 1, 1:1, uniform, 32 B, open loop",
}


def load(w, server, r):
    d = os.path.join(raw, f"{w}-{server}-r{r}")
    try:
        j = json.load(open(os.path.join(d, "summary.json")))
    except Exception:
        return None
    ticks = int(open(os.path.join(d, "server_cpu_ticks")).read().strip() or 0)
    total = j["commands"]["TOTAL"]
    j["dir"] = d
    j["cpu_us"] = ticks * 1e6 / clk / total["ops"] if total["ops"] else float("nan")
    return j


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def median_run(runs):
    ranked = sorted(runs, key=lambda j: j["commands"]["TOTAL"]["ops_per_sec"])
    return ranked[(len(ranked) - 1) // 2]


servers = [s for s in ("stairkv", "redis") if any(load(w, s, 1) for w in workloads.split())]
cpu_model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
print(f"# stairkv vs redis-server — {os.path.basename(out.rstrip('/'))}\n")
print(f"- machine: {sh('nproc')} CPUs, `{sh('uname -r')}`, {cpu_model}")
print(f"- stairkv: `{sh('git rev-parse --short HEAD')}`, release build, `--cores 1`")
if "redis" in servers:
    print(f"- redis-server: `{sh('redis-server --version')}`, `--save \"\" --appendonly no`")
print("- **each server pinned to CPU 0** (`taskset -c 0`), started fresh for every run, one server at a time; "
      "**stairkv-bench pinned to CPU 1** (one thread, closed loop).")
print(f"- {rounds} round(s) per workload, the servers taking turns (order alternating by round); tables show the **median** of the rounds.")
print("- server CPU per request: utime + stime of the server from `/proc/<pid>/stat` around the measured run, "
      "divided by the requests answered. At pipeline 1 the client's one CPU limits throughput, so this is the per-core figure there.")
print("- latencies are stairkv-bench's, client side, in ms, from hdrhistogram (closed loop: measured from the send).")
print("- exact commands: `make bench` runs `tools/bench.sh`; each run's flags are in `raw/<workload>-<server>-r<round>/summary.json`.\n")

for w in workloads.split():
    runs = {s: [j for j in (load(w, s, r) for r in range(1, rounds + 1)) if j] for s in servers}
    if not runs.get("stairkv"):
        continue
    print(f"## {WORKLOADS.get(w, w)}\n")
    print(f"`stairkv-bench {runs['stairkv'][0]['description'].split(': ', 1)[-1]}`\n")
    print("| server | ops/s | SET p50 | GET p50 | p99 | p99.9 | max | server CPU µs/req | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = {}
    for s in servers:
        rs = runs.get(s) or []
        if not rs:
            continue
        t = lambda k, sub=None: med([(j["commands"]["TOTAL"][k] if sub is None else j["commands"]["TOTAL"][k][sub]) for j in rs])
        c = lambda cmd, sub: med([j["commands"][cmd]["latency_ms"][sub] for j in rs if j["commands"][cmd]["ops"]])
        row = {
            "ops": t("ops_per_sec"),
            "set50": c("SET", "p50"),
            "get50": c("GET", "p50"),
            "p99": t("latency_ms", "p99"),
            "p999": t("latency_ms", "p99.9"),
            "max": t("latency_ms", "max"),
            "cpu": med([j["cpu_us"] for j in rs]),
            "err": sum(j["commands"]["TOTAL"]["errors"] + j["failed_connections"] for j in rs),
        }
        rows[s] = row
        name = "redis-server" if s == "redis" else s
        print(f"| {name} | {row['ops']:,.0f} | {row['set50']:.3f} | {row['get50']:.3f} | {row['p99']:.3f} | {row['p999']:.3f} | {row['max']:.3f} | {row['cpu']:.2f} | {row['err']} |")
    if "redis" in rows:
        a, b = rows["stairkv"], rows["redis"]
        ratio = lambda k: a[k] / b[k] if b[k] else float("nan")
        print(f"| **stairkv / redis** | **{ratio('ops'):.2f}×** | {ratio('set50'):.2f}× | {ratio('get50'):.2f}× | {ratio('p99'):.2f}× | {ratio('p999'):.2f}× | {ratio('max'):.2f}× | **{ratio('cpu'):.2f}×** | |")
    print()
    print("| round | " + " | ".join(f"{s} ops/s (p99 / p99.9 ms)" for s in servers) + " |")
    print("|---|" + "---|" * len(servers))
    for r in range(rounds):
        cells = []
        for s in servers:
            rs = runs.get(s) or []
            if r < len(rs):
                tot = rs[r]["commands"]["TOTAL"]
                cells.append(f"{tot['ops_per_sec']:,.0f} ({tot['latency_ms']['p99']:.3f} / {tot['latency_ms']['p99.9']:.3f})")
            else:
                cells.append("–")
        print(f"| {r + 1} | " + " | ".join(cells) + " |")
    svg = os.path.join(out, f"{w}.svg")
    inputs = [f"{median_run(runs[s])['dir']}={'redis-server' if s == 'redis' else s}" for s in servers if runs.get(s)]
    subprocess.run([bench, "plot", *inputs, "--out", svg, "--title", TITLES.get(w, w)], check=False)
    print(f"\n![latency by percentile]({w}.svg)\n")

rss_path = os.path.join(raw, "rss.tsv")
if os.path.exists(rss_path):
    rss = [l.rstrip("\n").split("\t") for l in open(rss_path) if l.strip()]
    print("## Memory: RSS after filling distinct keys (16-byte keys, 32-byte values)\n")
    print("Each server freshly started (CPU 0), then filled by `stairkv-bench --ratio 1:0 --distribution sequential -n KEYS -P 16`.\n")
    print("| server | RSS before (MB) | RSS after (MB) | growth (MB) | keys |")
    print("|---|---|---|---|---|")
    vals = {}
    for name, before, after, keys in rss:
        b, a = int(before) / 1024, int(after) / 1024
        vals[name] = a
        print(f"| {'redis-server' if name == 'redis' else name} | {b:.1f} | {a:.1f} | {a - b:.1f} | {keys} |")
    if "stairkv" in vals and "redis" in vals:
        print(f"\nRSS ratio stairkv / redis-server after the fill: **{vals['stairkv'] / vals['redis']:.2f}×**\n")

gen_path = os.path.join(raw, "generator.tsv")
if os.path.exists(gen_path):
    print("## Is the generator the bottleneck? stairkv-bench against redis-benchmark\n")
    print("Both drive the same redis-server (CPU 0) from CPU 1: 50 connections, keys over the same key space, 32-byte values, "
          "`redis-benchmark -t set|get -r KEYS -d 32 -c 50 -P N` against `stairkv-bench --ratio 1:0|0:1 -c 50 -P N`.\n")
    print("| pipeline | test | redis-benchmark ops/s | stairkv-bench ops/s | ratio | redis-benchmark p50 / p99 ms | stairkv-bench p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|")
    got = {}
    for line in open(gen_path):
        tool, p, t, r, path = line.rstrip("\n").split("\t")
        try:
            if tool == "redis-benchmark":
                cols = [c.strip('"') for c in open(path).read().strip().splitlines()[-1].split(",")]
                ops, p50, p99 = float(cols[1]), float(cols[4]), float(cols[6])
            else:
                tot = json.load(open(os.path.join(path, "summary.json")))["commands"]["TOTAL"]
                ops, p50, p99 = tot["ops_per_sec"], tot["latency_ms"]["p50"], tot["latency_ms"]["p99"]
        except Exception:
            continue
        got.setdefault((p, t, tool), []).append((ops, p50, p99))
    for p in ("1", "16"):
        for t in ("set", "get"):
            a, b = got.get((p, t, "redis-benchmark")), got.get((p, t, "stairkv-bench"))
            if not a or not b:
                continue
            m = lambda rs, i: med([x[i] for x in rs])
            print(f"| {p} | {t.upper()} | {m(a, 0):,.0f} | {m(b, 0):,.0f} | **{m(b, 0) / m(a, 0):.2f}×** | "
                  f"{m(a, 1):.3f} / {m(a, 2):.3f} | {m(b, 1):.3f} / {m(b, 2):.3f} |")
    print(f"\nMedians of {rounds} round(s), the two tools taking turns.\n")
