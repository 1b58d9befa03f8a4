#!/usr/bin/env python3
"""Turn a tools/bench-redis-benchmark.sh result directory into report.md.

usage: bench-redis-benchmark-report.py OUT ROUNDS CLK_TCK N1 N16

OUT/runs.tsv has one line per redis-benchmark run: cores, server, round,
pipeline, test, requests, ops/s, "p50/p99" (ms), user ticks, system ticks of
the server during the run. OUT/rss.tsv: server, RSS before, RSS after (kB),
keys. Tables show the median of the rounds; CPU per request is user + system.
"""
import os
import statistics
import sys

from benchlib import sh  # noqa: E402 (tools/ is on sys.path: the script's own folder)

out, rounds, clk, n1, n16 = sys.argv[1:6]
rounds, clk = int(rounds), int(clk)

runs = []
for line in open(os.path.join(out, "runs.tsv")):
    f = line.rstrip("\n").split("\t")
    if len(f) < 10:
        continue
    cores, server, rnd, p, t, n, ops, lat, ut, st = f
    n = int(n)
    runs.append({
        "cores": int(cores), "server": server, "round": int(rnd), "p": int(p), "t": t.upper(),
        "ops": float(ops), "lat": lat,
        "user": int(ut) * 1e6 / clk / n, "sys": int(st) * 1e6 / clk / n,
    })
for r in runs:
    r["cpu"] = r["user"] + r["sys"]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pick(cores, server, p, t):
    return [r for r in runs if (r["cores"], r["server"], r["p"], r["t"]) == (cores, server, p, t)]


def ratio(a, b):
    return a / b if b else float("nan")


servers = sorted({r["server"] for r in runs}, key=lambda s: s != "stairkv")
cpu_model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
print(f"# stairkv vs redis-server under redis-benchmark — {os.path.basename(out.rstrip('/'))}\n")
print(f"- machine: {sh('nproc')} CPUs, `{sh('uname -r')}`, {cpu_model}")
print(f"- stairkv: `{sh('git rev-parse --short HEAD')}`, release build, default `--socket-path ring`")
if "redis" in servers:
    print(f"- redis-server: `{sh('redis-server --version')}`, `--save \"\" --appendonly no`")
print(f"- `make bench-redis-benchmark` runs `tools/bench-redis-benchmark.sh`. Load, exactly: "
      f"`redis-benchmark -t <set|get> -n <{n1} at P1, {n16} at P16> -r 1000000 -d 32 -c 50 -P <1|16> --csv`.")
print("- cores=1 rows: **each server freshly started and pinned to CPU 0** (`taskset -c 0`, stairkv `--cores 1`), "
      "one server at a time; **redis-benchmark pinned to CPU 1**. "
      f"{rounds} round(s), the servers taking turns (order alternating by round); the tables show the **median** of the rounds.")
print("- cores=2 rows (one round): stairkv `--cores 2` (CPUs 0 and 1) and redis-server `--io-threads 2`, "
      "**both CPUs shared with the client** (nothing pinned): indicative only.")
print("- server CPU per request: the server's `utime` (user) and `stime` (system) from `/proc/<pid>/stat` "
      "before and after each run, divided by the requests. At pipeline 1 the client's one CPU limits "
      "throughput, so CPU per request is the per-core figure that counts there.")
print("- not measured here: latency under open-loop load (redis-benchmark is closed-loop; its percentiles "
      "hide queueing), values other than 32 bytes, more than 50 connections.\n")

print("| cores | pipeline | test | stairkv ops/s | redis ops/s | ratio | stairkv CPU µs/req (user + sys) "
      "| redis CPU µs/req (user + sys) | CPU ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for cores in (1, 2):
    for p in (1, 16):
        for t in ("SET", "GET"):
            a, b = pick(cores, "stairkv", p, t), pick(cores, "redis", p, t)
            if not a:
                continue
            ao, acpu = med([r["ops"] for r in a]), med([r["cpu"] for r in a])
            au, asys = med([r["user"] for r in a]), med([r["sys"] for r in a])
            if b:
                bo, bcpu = med([r["ops"] for r in b]), med([r["cpu"] for r in b])
                bu, bsys = med([r["user"] for r in b]), med([r["sys"] for r in b])
                print(f"| {cores} | {p} | {t} | {ao:,.0f} | {bo:,.0f} | **{ratio(ao, bo):.2f}×** "
                      f"| {acpu:.2f} ({au:.2f} + {asys:.2f}) | {bcpu:.2f} ({bu:.2f} + {bsys:.2f}) "
                      f"| **{ratio(acpu, bcpu):.2f}×** |")
            else:
                print(f"| {cores} | {p} | {t} | {ao:,.0f} | – | – | {acpu:.2f} ({au:.2f} + {asys:.2f}) | – | – |")

print("\nMedians are taken column by column, so user + sys of the medians need not equal the median total.\n")
print("### Every run\n")
print("| cores | pipeline | test | round | stairkv ops/s | redis ops/s | stairkv p50/p99 ms | redis p50/p99 ms "
      "| stairkv CPU µs/req | redis CPU µs/req | CPU ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for cores in (1, 2):
    for p in (1, 16):
        for t in ("SET", "GET"):
            for rnd in sorted({r["round"] for r in pick(cores, "stairkv", p, t)}):
                a = [r for r in pick(cores, "stairkv", p, t) if r["round"] == rnd]
                b = [r for r in pick(cores, "redis", p, t) if r["round"] == rnd]
                if not a:
                    continue
                a = a[0]
                if b:
                    b = b[0]
                    print(f"| {cores} | {p} | {t} | {rnd} | {a['ops']:,.0f} | {b['ops']:,.0f} | {a['lat']} | {b['lat']} "
                          f"| {a['cpu']:.2f} | {b['cpu']:.2f} | {ratio(a['cpu'], b['cpu']):.2f}× |")
                else:
                    print(f"| {cores} | {p} | {t} | {rnd} | {a['ops']:,.0f} | – | {a['lat']} | – | {a['cpu']:.2f} | – | – |")

rss = {}
try:
    for line in open(os.path.join(out, "rss.tsv")):
        s, before, after, keys = line.rstrip("\n").split("\t")
        rss[s] = (int(before) / 1024, int(after) / 1024, keys)
except OSError:
    pass
if rss:
    print("\n## Memory: RSS after 1,000,000 distinct keys, 32-byte values (cores=1)\n")
    print("Each server freshly started (pinned to CPU 0), then written with every key once "
          "(`stairkv-bench -c 50 -P 16 --ratio 1:0 --distribution sequential --keys 1000000 -n 1000000 --value-size 32`, "
          "keys `key:%012d` as redis-benchmark names them).\n")
    print("| server | RSS before (MB) | RSS after (MB) | growth (MB) | keys |")
    print("|---|---|---|---|---|")
    for s, (b, a, k) in rss.items():
        print(f"| {s} | {b:.1f} | {a:.1f} | {a - b:.1f} | {k} |")
    if "stairkv" in rss and "redis" in rss:
        print(f"\nRSS ratio stairkv / redis-server after the fill: **{ratio(rss['stairkv'][1], rss['redis'][1]):.2f}×**")

if any(r["server"] == "before" for r in runs):
    before_bin = os.environ.get("BEFORE", "the BEFORE binary")
    print("\n## A/B: this build against an earlier one (cores=1, pinned)\n")
    print(f"Command: `ROUNDS={rounds} N1={n1} N16={n16} BEFORE=<old stairkv binary> tools/bench-redis-benchmark.sh`.\n")
    print(f"`before` is `{before_bin}`; `after` is this checkout's build. Both ran in every round, with "
          "redis-server, in the order of `SERVERS`, reversed every other round. Each ratio is "
          "after / before for one round; the table gives their median, min and max: a spread around 1.00 "
          "that includes 1.00 is run-to-run noise.\n")
    print("| pipeline | test | before ops/s (median) | after ops/s (median) | after/before ops/s: median (min–max) "
          "| after/before CPU per request: median (min–max) | after / redis ops/s | before / redis ops/s |")
    print("|---|---|---|---|---|---|---|---|")
    for p in (1, 16):
        for t in ("SET", "GET"):
            a, b, rd = pick(1, "stairkv", p, t), pick(1, "before", p, t), pick(1, "redis", p, t)
            by_round = {r["round"]: r for r in b}
            pairs = [(x, by_round[x["round"]]) for x in a if x["round"] in by_round]
            if not pairs:
                continue
            ops = [ratio(x["ops"], y["ops"]) for x, y in pairs]
            cpu = [ratio(x["cpu"], y["cpu"]) for x, y in pairs]
            ao, bo = med([r["ops"] for r in a]), med([r["ops"] for r in b])
            ro = med([r["ops"] for r in rd]) if rd else float("nan")
            print(f"| {p} | {t} | {bo:,.0f} | {ao:,.0f} | **{med(ops):.3f}×** ({min(ops):.3f}–{max(ops):.3f}) "
                  f"| {med(cpu):.3f}× ({min(cpu):.3f}–{max(cpu):.3f}) | {ratio(ao, ro):.2f}× | {ratio(bo, ro):.2f}× |")
