"""Medians per server and mode of latency.txt lines `round server mode p50 p99 p99.9 max`."""
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    r, server, mode, *vals = line.split()
    runs[(server, mode)].append([float(v) for v in vals])
print("| server | mode | rounds | p50 ms | p99 ms | p99.9 ms | max ms |")
print("|---|---|---|---|---|---|---|")
for (server, mode), rows in sorted(runs.items()):
    med = [statistics.median(col) for col in zip(*rows)]
    print(f"| {server} | {mode} | {len(rows)} | " + " | ".join(f"{v:.3f}" for v in med) + " |")
