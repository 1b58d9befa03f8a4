#!/usr/bin/env python3
"""report.md for tools/bench-tx.sh from runs.tsv: medians over rounds and
stairkv/redis ratios from the same run."""
import statistics
import sys
from collections import defaultdict

from benchlib import sh

out, duration, side_rates, main_keys = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
rows = [l.rstrip("\n").split("\t") for l in open(f"{out}/runs.tsv") if l.strip()]
by = defaultdict(list)
for part, server, rnd, what, ops, p99, p999, cpu in rows:
    by[(part, server, what)].append(
        (float(ops), float(p99), float(p999), float(cpu) if cpu else None)
    )


def med(key, i):
    vals = [v[i] for v in by.get(key, []) if v[i] is not None]
    return statistics.median(vals) if vals else None


def fmt(x, nd=0):
    return "—" if x is None else (f"{x:,.{nd}f}" if nd else f"{x:,.0f}")


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


L = []
L.append("# Transactions and scripts against redis-server (issue 18)\n")
redis_version = sh("redis-server --version | cut -d' ' -f3")
L.append(f"- machine: {sh('nproc')} CPUs, {sh('uname -r')}; redis-server {redis_version}")
L.append(f"- stairkv: {sh('git rev-parse --short HEAD')}; runs of {duration} s; medians over rounds")
L.append("- load: `stairkv-bench --tx multi:5` (MULTI, 5 SETs, EXEC in one write) or `--tx eval:5` "
         "(one EVAL of `for i = 1, #KEYS do redis.call('set', KEYS[i], ARGV[1]) end return redis.status_reply('OK')`"
         " over 5 keys), 50 connections, pipeline 1, 32-byte values, 1,000,000 keys; an op is a whole transaction")
L.append("- command: `tools/bench-tx.sh` (`make bench-tx`)\n")

L.append("## A. One core: stairkv `--cores 1` vs redis-server, server on CPU 0, load on CPU 1\n")
L.append("| load | stairkv tx/s | redis tx/s | ratio | stairkv p99 ms | redis p99 ms | stairkv p99.9 | redis p99.9 | stairkv CPU µs/tx | redis CPU µs/tx | CPU ratio |")
L.append("|---|---|---|---|---|---|---|---|---|---|---|")
for tx in ["multi:5", "eval:5"]:
    s, r = ("A", "stairkv", tx), ("A", "redis", tx)
    L.append(
        f"| {tx} | {fmt(med(s, 0))} | {fmt(med(r, 0))} | {ratio(med(s, 0), med(r, 0))} "
        f"| {fmt(med(s, 1), 3)} | {fmt(med(r, 1), 3)} | {fmt(med(s, 2), 3)} | {fmt(med(r, 2), 3)} "
        f"| {fmt(med(s, 3), 2)} | {fmt(med(r, 3), 2)} | {ratio(med(s, 3), med(r, 3))} |"
    )
L.append("\nRounds (tx/s, stairkv / redis):\n")
rounds = sorted({int(x[2]) for x in rows if x[0] == "A"})
for tx in ["multi:5", "eval:5"]:
    cells = []
    for rnd in rounds:
        get = lambda srv: next((float(x[4]) for x in rows if x[0] == "A" and x[1] == srv and x[3] == tx and int(x[2]) == rnd), None)
        a, b = get("stairkv"), get("redis")
        cells.append(f"r{rnd} {fmt(a)} / {fmt(b)} ({ratio(a, b)})")
    L.append(f"- {tx}: " + "; ".join(cells))

L.append("\n## B. Across cores: stairkv `--cores 2` (unpinned; the client shares the 2 CPUs)\n")
L.append("| load | keys | tx/s | p99 ms | p99.9 ms |")
L.append("|---|---|---|---|---|")
for tx in ["multi:5", "eval:5"]:
    for where, label in [("one-core", "all on core 0 (clients on both cores)"), ("spread", "spread over both cores")]:
        k = ("B", "stairkv", f"{tx} {where}")
        L.append(f"| {tx} | {label} | {fmt(med(k, 0))} | {fmt(med(k, 1), 3)} | {fmt(med(k, 2), 3)} |")
    k = ("B", "redis", tx)
    L.append(f"| {tx} | redis-server (one thread), same load | {fmt(med(k, 0))} | {fmt(med(k, 1), 3)} | {fmt(med(k, 2), 3)} |")

L.append("\n## C. Plain GET/SET beside cross-core transactions (stairkv `--cores 2`, unpinned)\n")
L.append(f"Main load: 50 connections, pipeline 1, SET:GET 1:1 over {int(main_keys):,} prefilled keys. "
         "Side load on other keys, open loop, 8 connections: R MULTI/5 SETs/EXEC per second with keys over "
         "both cores, or the same 5 SETs per batch as a plain pipeline (`--tx pipe:5`, no MULTI/EXEC) at the "
         "same rate — the same work without transactions. The side client runs on the same 2 CPUs.\n")
L.append("| beside | main ops/s | vs alone | vs the same work without transactions | p99 ms | p99.9 ms |")
L.append("|---|---|---|---|---|---|")
alone = med(("C", "stairkv", "none"), 0)
k = ("C", "stairkv", "none")
L.append(f"| nothing | {fmt(med(k, 0))} | 1.00× | — | {fmt(med(k, 1), 3)} | {fmt(med(k, 2), 3)} |")
for rate in side_rates:
    t, p = ("C", "stairkv", f"tx@{rate}"), ("C", "stairkv", f"plain@{rate}")
    L.append(f"| {int(rate):,} transactions/s | {fmt(med(t, 0))} | {ratio(med(t, 0), alone)} | {ratio(med(t, 0), med(p, 0))} "
             f"| {fmt(med(t, 1), 3)} | {fmt(med(t, 2), 3)} |")
    L.append(f"| {int(rate):,} plain 5-SET pipelines/s | {fmt(med(p, 0))} | {ratio(med(p, 0), alone)} | — "
             f"| {fmt(med(p, 1), 3)} | {fmt(med(p, 2), 3)} |")
L.append("")
open(f"{out}/report.md", "w").write("\n".join(L) + "\n")
