#!/usr/bin/env python3
"""Medians of run.sh's output (runs.tsv)."""
import statistics as st
import sys
from collections import defaultdict

a, b = defaultdict(list), defaultdict(list)
rounds = defaultdict(dict)
for line in open(sys.argv[1] if len(sys.argv) > 1 else "runs.tsv"):
    f = line.split()
    if f[0] == "a":
        a[f[2]].append((float(f[3]), float(f[4]), int(f[5])))
        rounds[f[1]][f[2]] = float(f[3])
    elif f[0] == "b":
        b[f[2]].append((int(f[4]), int(f[5])))
print("| variant | runs | SET/s (median) | CPU µs/req (median) | rewrites per run (median) |")
print("|---|---|---|---|---|")
for v in ("before", "new", "none"):
    if a[v]:
        print(f"| {v} | {len(a[v])} | {st.median(x[0] for x in a[v]):,.0f} | "
              f"{st.median(x[1] for x in a[v]):.3f} | {st.median(x[2] for x in a[v])} |")
for num, den in (("new", "none"), ("before", "none"), ("new", "before")):
    rs = [r[num] / r[den] for r in rounds.values() if num in r and den in r]
    if rs:
        print(f"\n{num} / {den}: rounds' median {st.median(rs):.2f}× (min {min(rs):.2f}, max {max(rs):.2f})")
print("\n| variant | rewrites | wall ms (median) | server CPU ms (median) |")
print("|---|---|---|---|")
for v in ("before", "new"):
    if b[v]:
        print(f"| {v} | {len(b[v])} | {st.median(x[0] for x in b[v])} | {st.median(x[1] for x in b[v])} |")
