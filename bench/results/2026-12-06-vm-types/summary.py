"""Summarises run.sh's raw files (argument: the raw directory) as markdown
tables: medians of the alternating rounds, stairkv against redis-server."""
import statistics
import sys
from collections import defaultdict

raw = sys.argv[1]
clk = 100

import os

runs = defaultdict(list)  # (test, P, server) -> [(ops/s, µs CPU per request)]
for line in (open(f"{raw}/runs.txt") if os.path.exists(f"{raw}/runs.txt") else []):
    r, s, p, t, ops, ticks, n = line.split()
    runs[(t, int(p), s)].append((float(ops), int(ticks) * 1e6 / clk / int(n)))

print("## (A) Throughput and server CPU per request (medians of the rounds)\n")
print("| test | pipeline | rounds | stairkv req/s | redis req/s | × redis | stairkv CPU µs/req | redis CPU µs/req | CPU × redis |")
print("|---|---|---|---|---|---|---|---|---|")
for t in ("hset", "sadd", "spop", "bench-hash", "bench-set"):
    for p in (1, 16):
        a, b = runs.get((t, p, "stairkv")), runs.get((t, p, "redis"))
        if not a or not b:
            continue
        ao = statistics.median(x[0] for x in a)
        bo = statistics.median(x[0] for x in b)
        ac = statistics.median(x[1] for x in a)
        bc = statistics.median(x[1] for x in b)
        print(f"| {t} | {p} | {len(a)} | {ao:,.0f} | {bo:,.0f} | {ao / bo:.2f} | {ac:.2f} | {bc:.2f} | {ac / bc:.2f} |")

print("\n## (B) Memory: RSS growth of each dataset on a fresh server\n")
print("| dataset | stairkv RSS MB | redis RSS MB | × redis | stairkv used_memory MB | redis used_memory MB |")
print("|---|---|---|---|---|---|")
mem = {}
for line in (open(f"{raw}/memory.txt") if os.path.exists(f"{raw}/memory.txt") else []):
    d, s, before, after, used = line.split()
    mem[(d, s)] = ((int(after) - int(before)) / 1024, int(used) / 2**20)
for d in ("hashes", "ints", "strings"):
    a, b = mem.get((d, "stairkv")), mem.get((d, "redis"))
    if a and b:
        print(f"| {d} | {a[0]:.1f} | {b[0]:.1f} | {a[0] / b[0]:.2f} | {a[1]:.1f} | {b[1]:.1f} |")

print("\n## (C) Latency (ms) of GET/SET at 20k/s while a 1,000,000-member set's shard moves\n")
lat = defaultdict(list)
for line in (open(f"{raw}/latency.txt") if os.path.exists(f"{raw}/latency.txt") else []):
    r, m, p50, p99, p999, mx = line.split()
    lat[m].append((float(p50), float(p99), float(p999), float(mx)))
print("| run | rounds | p50 | p99 | p99.9 | max |")
print("|---|---|---|---|---|---|")
for m in ("steady", "moving"):
    if lat[m]:
        med = [statistics.median(x[i] for x in lat[m]) for i in range(4)]
        print(f"| {m} | {len(lat[m])} | {med[0]:.3f} | {med[1]:.3f} | {med[2]:.3f} | {med[3]:.3f} |")
if lat["steady"] and lat["moving"]:
    s = statistics.median(x[2] for x in lat["steady"])
    m = statistics.median(x[2] for x in lat["moving"])
    print(f"\np99.9 moving / steady: {m / s:.2f}")
try:
    times = [int(l.split()[3][:-2]) for l in open(f"{raw}/migrations.txt")]
    print(f"\nmigrations of the set's shard: {len(times)}, median {statistics.median(times)} ms, max {max(times)} ms (command to new owner seen)")
except OSError:
    pass
