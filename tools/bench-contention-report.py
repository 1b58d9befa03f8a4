#!/usr/bin/env python3
"""Turn a tools/bench-contention.sh result directory into report.md.

usage: bench-contention-report.py OUT STAIRKV READY_MAX_S

Reads OUT/runs/{unloaded,loaded}/summary.json (stairkv-bench's report
directories) and OUT/raw/ (exact commands, MIGRATE logs, server logs, start
times, load averages). Writes report.md on stdout; its last line starts with
"Verdict: all targets met" when they all are.
"""
import json
import os
import sys

from benchlib import read, sh  # noqa: E402 (tools/ is on sys.path: the script's own folder)

out, stairkv, ready_max = sys.argv[1], sys.argv[2], float(sys.argv[3])
raw = os.path.join(out, "raw")
# The loaded run's largest latency may be at most this many times the unloaded
# run's, and never this many ms.
MAX_RATIO, NEVER_MS = 10.0, 1000.0


def summary(run):
    try:
        return json.load(open(os.path.join(out, "runs", run, "summary.json")))
    except Exception:
        return None


def f(x, digits=3):
    return "–" if x is None or x != x else f"{x:,.{digits}f}"


def moves(run):
    rows = [line.split("\t") for line in read(os.path.join(raw, f"moves-{run}.tsv")).splitlines() if line]
    ok = [float(r[1]) for r in rows if len(r) >= 4 and r[3] == "OK"]
    return len(ok), len(rows) - len(ok), max(ok, default=None)


def warnings(run):
    log = read(os.path.join(raw, f"server-{run}.log"))
    return sum(1 for line in log.splitlines() if "WARN" in line or "ERROR" in line), \
        sum(1 for line in log.splitlines() if "parked for" in line)


print(f"# No silent stalls — {os.path.basename(out.rstrip('/'))}\n")
cpu_model = sh("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo")
print(f"- machine: {sh('nproc')} CPUs ({cpu_model}), `{sh('uname -r')}`, shared with other users; "
      f"load average (1, 5, 15 min) before the runs {read(os.path.join(raw, 'loadavg-before')).strip()}, "
      f"after {read(os.path.join(raw, 'loadavg-after')).strip()}")
rev = os.environ.get("STAIRKV_REV") or sh("git rev-parse --short HEAD")
print(f"- stairkv `{rev}` (`{stairkv}`)")
print("- `tools/bench-contention.sh` wrote this. *Busy loops*: one `sh -c 'while :; do :; done'` of normal "
      "priority pinned to each CPU, running only during the loaded run, the starts and the joins. The server's two "
      "cores, stairkv-bench's two threads and the busy loops all share the same two CPUs.\n")

print("Exact commands, in order:\n")
print("```")
print(read(os.path.join(raw, "cmd.txt")).rstrip())
print("```\n")

print("## Verified open-loop load with forced migrations\n")
print("| run | ops/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | wrong values | unexpected misses "
      "| failed connections | MIGRATEs OK / other | slowest MIGRATE s | server warnings (of them: parks) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
ok = True
maxes = {}
for run in ("unloaded", "loaded"):
    s = summary(run)
    n_ok, n_other, slowest = moves(run)
    warn, parks = warnings(run)
    if not s:
        print(f"| {run} | run failed (raw/bench-{run}.err) | | | | | | | | | {n_ok} / {n_other} | {f(slowest, 2)} | {warn} ({parks}) |")
        ok = False
        continue
    t = s["commands"]["TOTAL"]
    lat = t["latency_ms"]
    maxes[run] = lat["max"]
    print(f"| {run} | {t['ops_per_sec']:,.0f} | {f(lat['p50'])} | {f(lat['p99'])} | {f(lat['p99.9'])} | "
          f"**{f(lat['max'])}** | {t['errors']} | {s['wrong_values']} | {s['unexpected_misses']} | "
          f"{s['failed_connections']} | {n_ok} / {n_other} | {f(slowest, 2)} | {warn} ({parks}) |")
    if t["errors"] or s["wrong_values"] or s["unexpected_misses"] or s["failed_connections"] or not s.get("ok", True):
        ok = False
    if n_ok == 0:
        ok = False
print()
if "unloaded" in maxes and "loaded" in maxes:
    r = maxes["loaded"] / maxes["unloaded"]
    met = r <= MAX_RATIO and maxes["loaded"] < NEVER_MS
    ok = ok and met
    print(f"Largest latency, loaded / unloaded: **{r:.2f}×** ({f(maxes['loaded'])} vs {f(maxes['unloaded'])} ms; "
          f"target ≤ {MAX_RATIO:.0f}× and under {NEVER_MS / 1000:.0f} s): {'met' if met else '**missed**'}.\n")

print("## Starts under the busy loops\n")
rows = [line.split("\t") for line in read(os.path.join(raw, "starts.tsv")).splitlines() if line]
times = []
for _, t in rows:
    try:
        times.append(float(t))
    except ValueError:
        times.append(float("inf"))
within = sum(1 for t in times if t <= ready_max)
print(f"`stairkv --cores 2` started {len(times)} times; time from exec to the first `PING` answered, in s: "
      f"{', '.join('timeout' if t == float('inf') else f'{t:.3f}' for t in times)}.\n")
if times:
    print(f"Ready within {ready_max:g} s: **{within} of {len(times)}**; slowest {max(times):.3f} s, "
          f"median {sorted(times)[len(times) // 2]:.3f} s.\n")
ok = ok and bool(times) and within == len(times)

joins = read(os.path.join(raw, "joins.txt"))
if joins:
    print("## Mesh joins under the busy loops\n")
    print("Two glommio executors pinned to CPUs 0 and 1 join a `MeshBuilder::full(2)`, again and again "
          "(`server::tests::mesh_joins_finish_under_contention`, preempt timer 1 ms so that a preemption "
          "due before a turn's first task is common): the startup step that hung.\n")
    lines = [line for line in joins.splitlines() if "mesh joins" in line or "did not finish" in line
             or line.startswith("join ")]
    print("```")
    print("\n".join(lines) or "(no result: see raw/joins.txt)")
    print("```\n")
    ok = ok and "test result: ok" in joins
print("Verdict: all targets met" if ok else "Verdict: **a target was missed** (see above)")
