#!/usr/bin/env python3
"""One report over the runs of tools/bench-elastic-skew-runs.sh.

usage: bench-elastic-skew-summary.py OUT RUNS

Reads OUT/run-N/skew-summary.json (written by bench-elastic-report.py), the
exact commands in OUT/raw/run-N/cmd-skew.txt and OUT/loadavg.tsv, and appends
OUT/notes.md (what the person who ran it observed) when there is one; writes
report.md on stdout.
"""
import json
import os
import sys

from benchlib import read, sh  # noqa: E402 (tools/ is on sys.path: the script's own folder)

out, runs = sys.argv[1], int(sys.argv[2])
GOAL_S = 5.0


def load(i):
    try:
        return json.load(open(os.path.join(out, f"run-{i}", "skew-summary.json")))
    except Exception:
        return None


loadavg = {}
for line in read(os.path.join(out, "loadavg.tsv")).splitlines():
    p = line.split("\t")
    if len(p) == 4:
        loadavg[(int(p[0]), p[1])] = " ".join(p[3].split()[:3])

got = {i: load(i) for i in range(1, runs + 1)}
balance = next((j["balance"] for j in got.values() if j), 0.9)
print(f"# Hot-core skew, {runs} runs — {os.path.basename(out)}\n")
cpu_model = sh("lscpu | sed -n 's/^Model name: *//p'")
print(f"- machine: {sh('nproc')} CPUs ({cpu_model}), `{sh('uname -r')}`; "
      f"stairkv `{sh('git rev-parse --short HEAD')}`")
print("- **a shared 2-CPU VM**: stairkv's two cores, stairkv-bench's two threads and the INFO poller share "
      "the two CPUs, and other people's builds and fuzzers ran beside them (load averages below).")
print(f"- command: `tools/bench-elastic-skew-runs.sh` (RUNS={runs}), which runs `SCENARIOS=skew "
      "tools/bench-elastic.sh` once per run on a fresh server; each run's own report is `run-N/report.md`.\n")
print(f"*Balanced*: the slower core does at least {balance:.0%} of the faster one's ops/s (per-core "
      "`ops_per_sec` of `INFO staircase`, polled every 250 ms) and stays so to the end of the 40 s run. "
      "Time to balanced is counted from the start of the measured run (after the prefill, which is "
      f"skewed load too); 0 means the cores were already balanced at its first poll. Goal: ≤ {GOAL_S:.0f} s.\n")
cmds = read(os.path.join(out, "raw", "run-1", "cmd-skew.txt")).strip()
if cmds:
    print("Exact commands of one run (`tools/bench-elastic.sh`, in order; the port differs if PORT was set):\n")
    print("```")
    print(cmds)
    print("```\n")

print("| run | load avg before (1/5/15 min) | prefill s | time to balanced | moves by run start / end "
      "| slower/faster after (min / mean) | ops/s first 2 s | ops/s last 10 s | whole run ops/s | p99.9 ms | max ms | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
ok = 0
for i, j in got.items():
    la = loadavg.get((i, "before"), "?")
    if not j:
        print(f"| {i} | {la} | run failed: see `run-{i}/report.md` |")
        continue
    b = j.get("balanced_s")
    if b is None:
        when = "**never**"
    else:
        when = f"**{b:.2f} s**"
        ok += b <= GOAL_S
    share = (f"{j['min_share_after_balanced']:.0%} / {j['mean_share_after_balanced']:.0%}"
             if "min_share_after_balanced" in j else "–")
    g = lambda k, fmt="{:,.0f}": fmt.format(j[k]) if k in j else "–"
    print(f"| [{i}](run-{i}/report.md) | {la} | {j['prefill_s']:.1f} | {when} | {j['moves_before_run']} / {j['moves_end']} "
          f"| {share} | {g('ops_first_2s')} | {g('ops_last_10s')} | {g('ops_whole')} | {g('p99_9_ms', '{:.2f}')} "
          f"| {g('max_ms', '{:.1f}')} | {g('errors', '{}')} |")
print(f"\n**{ok} of {runs} runs** balanced within {GOAL_S:.0f} s.\n")
print("The *min* share is usually that of the first balanced poll; the mean is over every poll from "
      "then to the end. Per-core ops/s over time: `run-N/skew-cores.svg`. Raw polls: `run-N/skew-cores.tsv`.\n")
notes = read(os.path.join(out, "notes.md")).strip()
if notes:
    print(notes)
