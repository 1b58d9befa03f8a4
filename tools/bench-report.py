#!/usr/bin/env python3
"""Turn a bench-vs-redis run directory (results.tsv, rss.tsv) into report.md."""
import os
import platform
import subprocess
import sys

out, n, keyspace = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "results.tsv")) if l.strip()]
rss = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "rss.tsv")) if l.strip()]


def cmd(c):
    try:
        return subprocess.check_output(c, shell=True, text=True).strip()
    except Exception:
        return "?"


print(f"# stairkv vs redis-server — {os.path.basename(out)}\n")
print(f"- machine: {cmd('nproc')} CPUs, `{cmd('uname -r')}`, {cmd('grep -m1 \"model name\" /proc/cpuinfo | cut -d: -f2')}")
print(f"- redis-server: `{cmd('redis-server --version')}`")
print(f"- stairkv: `{cmd('git rev-parse --short HEAD')}` (release build)")
print("- cores=1 rows: server pinned to CPU 0 (`taskset -c 0`, stairkv `--cores 1`), redis-benchmark pinned to CPU 1.")
print("- cores=2 rows: stairkv `--cores 2` (CPUs 0 and 1) and redis-server `--io-threads 2`, **both CPUs shared with the client** (no pinning).")
print(f"- load: `redis-benchmark -t set,get -n {n} -r {keyspace} -d 32 -c 50 -P <1|16> --csv`")
print("- server CPU per request: (utime + stime) of the server process from `/proc/<pid>/stat` around each run, divided by the requests.")
print("- redis-server runs with `--save \"\" --appendonly no`.\n")

by = {}
for name, mode, p, t, rps, lat, us in rows:
    by[(name, mode, p, t)] = (float(rps), lat, float(us))

print("| cores | pipeline | test | stairkv ops/s | redis ops/s | ratio | stairkv p50/p99 ms | redis p50/p99 ms | stairkv CPU µs/req | redis CPU µs/req | CPU ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for mode in ("1", "2"):
    for p in ("1", "16"):
        for t in ("set", "get"):
            s = by.get(("stairkv", mode, p, t))
            r = by.get(("redis", mode, p, t))
            if not s:
                continue
            if r:
                print(f"| {mode} | {p} | {t.upper()} | {s[0]:,.0f} | {r[0]:,.0f} | {s[0]/r[0]:.2f}× | {s[1]} | {r[1]} | {s[2]:.2f} | {r[2]:.2f} | {s[2]/r[2]:.2f}× |")
            else:
                print(f"| {mode} | {p} | {t.upper()} | {s[0]:,.0f} | – | – | {s[1]} | – | {s[2]:.2f} | – | – |")

print("\n## Memory: RSS after 1,000,000 distinct keys, 32-byte values (cores=1)\n")
print("Filled with `tools/gen-fill.py 1000000 32 | redis-cli --pipe` (keys `key:%012d`).\n")
print("| server | RSS before (MB) | RSS after (MB) | growth (MB) | keys |")
print("|---|---|---|---|---|")
vals = {}
for name, before, after, keys in rss:
    b, a = int(before) / 1024, int(after) / 1024
    vals[name] = a
    print(f"| {name} | {b:.1f} | {a:.1f} | {a-b:.1f} | {keys} |")
if "stairkv" in vals and "redis" in vals:
    print(f"\nRSS ratio stairkv / redis-server after the fill: **{vals['stairkv']/vals['redis']:.2f}×**")
