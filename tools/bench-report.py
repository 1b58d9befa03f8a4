#!/usr/bin/env python3
"""Turn a bench-vs-redis run directory (runs.tsv, rss.tsv) into report.md.

Every workload ran several rounds with the two servers interleaved; the main
table shows the median of the rounds, and every round is listed below it.
"""
import os
import statistics
import subprocess
import sys

out, n1, n16, keyspace, rounds = sys.argv[1:6]


def rows(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    return [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]


def cmd(c):
    try:
        return subprocess.check_output(c, shell=True, text=True).strip()
    except Exception:
        return "?"


runs = rows("runs.tsv")
rss = rows("rss.tsv")

cpu_model = cmd("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
print(f"# stairkv vs redis-server — {os.path.basename(out)}\n")
print(f"- machine: {cmd('nproc')} CPUs, `{cmd('uname -r')}`, {cpu_model}")
print(f"- redis-server: `{cmd('redis-server --version')}`")
print(f"- stairkv: `{cmd('git rev-parse --short HEAD')}` (release build, default `--socket-path ring`)")
print("- cores=1 rows: both servers running at once, each pinned to CPU 0 (`taskset -c 0`, stairkv `--cores 1`); redis-benchmark pinned to CPU 1.")
print(f"- {rounds} rounds per workload, the servers taking turns (order alternating by round); the table shows the **median** of the rounds.")
print("- cores=2 rows (one round): stairkv `--cores 2` (CPUs 0 and 1) and redis-server `--io-threads 2`, **both CPUs shared with the client** (no pinning): indicative only.")
print(f"- load: `redis-benchmark -t <set|get> -n <{n1} at P1, {n16} at P16> -r {keyspace} -d 32 -c 50 -P <1|16> --csv`")
print("- server CPU per request: (utime + stime) of the server process from `/proc/<pid>/stat` around each run, divided by the requests. At pipeline 1 the client (one CPU) limits ops/s, so CPU per request is the per-core figure that counts there.")
print("- redis-server runs with `--save \"\" --appendonly no`.")
print("- not measured here: latency under open-loop load (redis-benchmark is closed-loop, its percentiles hide queueing), and anything but 32-byte values.\n")

by = {}
for name, mode, p, t, rnd, rps, lat, us in runs:
    by.setdefault((name, mode, p, t), []).append((float(rps), lat, float(us)))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


print("| cores | pipeline | test | stairkv ops/s | redis ops/s | ratio | stairkv CPU µs/req | redis CPU µs/req | CPU ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for mode in ("1", "2"):
    for p in ("1", "16"):
        for t in ("set", "get"):
            s = by.get(("stairkv", mode, p, t))
            r = by.get(("redis", mode, p, t))
            if not s:
                continue
            s_ops, s_cpu = med([x[0] for x in s]), med([x[2] for x in s])
            if r:
                r_ops, r_cpu = med([x[0] for x in r]), med([x[2] for x in r])
                print(f"| {mode} | {p} | {t.upper()} | {s_ops:,.0f} | {r_ops:,.0f} | {s_ops/r_ops:.2f}× | {s_cpu:.2f} | {r_cpu:.2f} | {s_cpu/r_cpu:.2f}× |")
            else:
                print(f"| {mode} | {p} | {t.upper()} | {s_ops:,.0f} | – | – | {s_cpu:.2f} | – | – |")

print("\n### Every round\n")
print("| cores | pipeline | test | round | stairkv ops/s | redis ops/s | stairkv p50/p99 ms | redis p50/p99 ms | stairkv CPU µs/req | redis CPU µs/req |")
print("|---|---|---|---|---|---|---|---|---|---|")
for mode in ("1", "2"):
    for p in ("1", "16"):
        for t in ("set", "get"):
            s = by.get(("stairkv", mode, p, t), [])
            r = by.get(("redis", mode, p, t), [])
            for i, sv in enumerate(s):
                rv = r[i] if i < len(r) else None
                rcells = f"{rv[0]:,.0f} | {sv[1]} | {rv[1]} | {sv[2]:.2f} | {rv[2]:.2f}" if rv else f"– | {sv[1]} | – | {sv[2]:.2f} | –"
                print(f"| {mode} | {p} | {t.upper()} | {i + 1} | {sv[0]:,.0f} | {rcells} |")

if rss:
    print("\n## Memory: RSS after 1,000,000 distinct keys, 32-byte values (cores=1)\n")
    print("Each server freshly started (pinned to CPU 0), then filled with `tools/gen-fill.py 1000000 32 | redis-cli --pipe` (keys `key:%012d`).\n")
    print("| server | RSS before (MB) | RSS after (MB) | growth (MB) | keys |")
    print("|---|---|---|---|---|")
    vals = {}
    for name, before, after, keys in rss:
        b, a = int(before) / 1024, int(after) / 1024
        vals[name] = a
        print(f"| {name} | {b:.1f} | {a:.1f} | {a-b:.1f} | {keys} |")
    if "stairkv" in vals and "redis" in vals:
        print(f"\nRSS ratio stairkv / redis-server after the fill: **{vals['stairkv']/vals['redis']:.2f}×**")
