#!/usr/bin/env python3
"""Turn a tools/bench-persist.sh result directory into report.md (stdout).

usage: bench-persist-report.py OUT

Reads OUT/meta.txt, a.tsv (one redis-benchmark run a line: server, mode,
round, pipeline, requests, SET/s, p50 ms, p99 ms, user ticks, system ticks,
bytes left in the directory), a-skip.txt, b.tsv (server, round, the snapshot
probe's JSON), c.tsv (dump sizes, then server, round, the restart probe's
JSON), d-<mode>.txt (the crash test's lines) and commands.txt. Tables show
medians of the rounds; each goal of issue 16 is marked met or not.
"""
import json
import os
import statistics
import sys

from benchlib import read  # noqa: E402 (tools/ is on sys.path: the script's own folder)

out = sys.argv[1]
clk = os.sysconf("SC_CLK_TCK")
meta = dict(l.split(": ", 1) for l in read(os.path.join(out, "meta.txt")).splitlines() if ": " in l)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fx(x, fmt="{:.2f}×"):
    return "–" if x is None else fmt.format(x)


def goal(x, op, target):
    if x is None:
        return "not measured"
    ok = x >= target if op == ">=" else x <= target
    return f"{'met' if ok else '**not met**'} (goal {op.replace('>=', '≥').replace('<=', '≤')} {target})"


name = os.path.basename(out.rstrip("/"))
print(f"# Persistence: stairkv beside redis-server — {name}\n")
print(f"- machine: {meta.get('cpus', '?')} CPUs, kernel `{meta.get('kernel', '?')}`".replace(" (", " CPUs (", 1).replace(") CPUs", ")", 1))
print(f"- stairkv: {meta.get('stairkv', '?')} (release build); redis-server: `{meta.get('redis', '?')}`")
print(f"- data directory: {meta.get('data', '?')}")
fs = [l for l in read(os.path.join(out, "meta.txt")).splitlines() if l.startswith("fdatasync")]
if fs:
    print(f"- disk: {fs[0]} (what one `always` group commit waits for at least)")
print(f"- run: {meta.get('date', '?')}, `make bench-persist` (tools/bench-persist.sh), {meta.get('knobs', '')}")
print("- servers: one at a time, freshly started on an empty directory, **pinned to CPU 0** "
      "(`taskset -c 0`; stairkv `--cores 1`) unless a section says otherwise; the load **pinned to CPU 1**.")
print("- the machine is shared: absolute figures are noisy, compare the ratios of one run. "
      "Every command is listed at the end.\n")

# ---------------------------------------------------------------------------
print("## a. Throughput with the append-only log\n")
runs = []
for line in read(os.path.join(out, "a.tsv")).splitlines():
    f = line.split("\t")
    if len(f) < 11:
        continue
    s, m, r, p, n, ops, p50, p99, ut, st, b = f
    n = int(n)
    runs.append({"s": s, "m": m, "r": int(r), "p": int(p), "n": n, "ops": float(ops), "p50": p50, "p99": p99,
                 "cpu": (int(ut) + int(st)) * 1e6 / clk / n, "bytes": int(b)})
skip = read(os.path.join(out, "a-skip.txt")).strip()
if not runs:
    print("Not run (`PARTS` without `a`).\n")
else:
    if skip:
        print(f"**stairkv's logged runs were skipped:** {skip}\n")
    print("`redis-benchmark -t set -n <N> -r 1000000 -d 32 -c 50 -P <1|16> --csv`, a fresh server per run. "
          "stairkv: no flag (none), `--appendonly yes --appendfsync everysec|always`; redis-server: "
          "`--save \"\" --appendonly no`, `--appendonly yes --appendfsync everysec|always`, `--dir` an empty "
          "directory. CPU per request: the server's user + system time over the run / requests. "
          "\"on disk\": bytes the run left in the directory (the log: proof it was written).\n")
    print("| pipeline | server | mode | SET/s (median) | p50 / p99 ms | CPU µs/req | on disk (MB) | rounds |")
    print("|---|---|---|---|---|---|---|---|")
    for p in (1, 16):
        for s in ("stairkv", "redis"):
            for m in ("none", "everysec", "always"):
                rs = [r for r in runs if (r["s"], r["m"], r["p"]) == (s, m, p)]
                if not rs:
                    continue
                mid = sorted(rs, key=lambda r: r["ops"])[len(rs) // 2]
                print(f"| {p} | {s} | {m} | {med([r['ops'] for r in rs]):,.0f} | {mid['p50']} / {mid['p99']} "
                      f"| {med([r['cpu'] for r in rs]):.2f} | {med([r['bytes'] for r in rs]) / 1e6:.1f} | {len(rs)} |")

    def per_round(a, b, p):
        """Ratio of two configurations round by round, then the median."""
        xs = []
        for rnd in sorted({r["r"] for r in runs}):
            x = [r["ops"] for r in runs if (r["s"], r["m"], r["p"], r["r"]) == (*a, p, rnd)]
            y = [r["ops"] for r in runs if (r["s"], r["m"], r["p"], r["r"]) == (*b, p, rnd)]
            if x and y:
                xs.append(x[0] / y[0])
        return (med(xs), min(xs), max(xs)) if xs else (None, None, None)

    print("\n| pipeline | ratio | median of rounds (min–max) | goal |")
    print("|---|---|---|---|")
    for p in (1, 16):
        for label, a, b, op, target in (
                ("stairkv everysec / stairkv none", ("stairkv", "everysec"), ("stairkv", "none"), ">=", 0.9),
                ("stairkv always / redis-server always", ("stairkv", "always"), ("redis", "always"), ">=", 1.5),
                ("stairkv everysec / redis-server everysec", ("stairkv", "everysec"), ("redis", "everysec"), None, None),
                ("redis-server everysec / redis-server no log", ("redis", "everysec"), ("redis", "none"), None, None)):
            m, lo, hi = per_round(a, b, p)
            spread = f"{fx(m)} ({fx(lo, '{:.2f}')}–{fx(hi, '{:.2f}')})" if m is not None else "–"
            print(f"| {p} | {label} | {spread} | {goal(m, op, target) if op else ''} |")
    print()

# ---------------------------------------------------------------------------
print("## b. BGSAVE under a 1:1 write load\n")
b = []
for line in read(os.path.join(out, "b.tsv")).splitlines():
    f = line.split("\t", 2)
    if len(f) == 3:
        try:
            b.append((f[0], int(f[1]), json.loads(f[2])))
        except ValueError:
            pass
knobs = dict(kv.split("=", 1) for kv in meta.get("knobs", "").split() if "=" in kv)
if not b:
    print("Not run (`PARTS` without `b`).\n")
else:
    keys = knobs.get("KEYS", "?")
    print(f"Each server freshly started (stairkv `--cores {knobs.get('B_CORES', '1')}`), filled with exactly "
          f"{int(keys):,} keys (`stairkv-bench -c 50 -P 64 --ratio 1:0 --distribution sequential`, 32-byte values) "
          "and left until its CPU use falls under 5% for 0.5 s (stairkv splits shards for a while after a fast fill), "
          f"then loaded open-loop (`stairkv-bench --rate {knobs.get('B_RATE', '?')} -c 50 -P {knobs.get('B_PIPELINE', '?')} "
          f"--ratio 1:1 --distribution uniform --keys {keys} --warmup {knobs.get('B_WARMUP', '?')} "
          f"--duration {knobs.get('B_WINDOW', '?')}`) in back-to-back windows, each its own process (the "
          "warmup, load not measured, covers its connections' start; a few ms between windows carry no load); "
          f"`BGSAVE` 0.1 s into the measured part of window {knobs.get('B_STEADY', '?')} (counting from 0), its end "
          "seen by polling `INFO persistence` every 20 ms. "
          "redis-server's fork inherits its pin: child and parent share CPU 0, as stairkv's capture shares its core. "
          "RSS: VmRSS sampled every 20 ms, redis-server's forked child added (the sum counts the pages "
          "parent and child still share twice); PSS (`/proc/<pid>/smaps_rollup`, every 250 ms) splits "
          "shared pages, so it is the memory really used. p99.9: the windows before the BGSAVE merged, "
          "against every window that overlaps the save, from their `.hgrm` files (open loop: latency from "
          "the intended send time, so a stall shows as the queueing it causes).\n")
    print("| server | round | save time (s) | RSS before (MB) | peak RSS during (MB) | peak / before "
          "| PSS before → peak (MB) | p99.9 steady (ms) | p99.9 during (ms) | during / steady | max during (ms) "
          "| windows steady / during | load errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s, r, j in b:
        rb, rp = j.get("rss_before_kb"), j.get("rss_peak_kb")
        pb, pp = j.get("pss_before_kb"), j.get("pss_peak_kb")
        ps, pd = j.get("p999_steady_ms"), j.get("p999_during_ms")
        pss = f"{pb / 1024:.0f} → {pp / 1024:.0f}" if pb and pp else "–"
        print(f"| {s} | {r} | {fx(j.get('save_s'), '{:.2f}')} | {fx(rb and rb / 1024, '{:.0f}')} "
              f"| {fx(rp and rp / 1024, '{:.0f}')} | {fx(ratio(rp, rb))} | {pss} | {fx(ps, '{:.2f}')} "
              f"| {fx(pd, '{:.2f}')} | {fx(ratio(pd, ps))} | {fx(j.get('max_during_ms'), '{:.1f}')} "
              f"| {j.get('steady_windows')} / {j.get('during_windows')} "
              f"| {j.get('window_errors')}{' (failed windows: %d)' % j['windows_failed'] if j.get('windows_failed') else ''} |")
    st = [j for s, _, j in b if s == "stairkv"]
    rd = [j for s, _, j in b if s == "redis"]
    if st:
        mem = med([ratio(j.get("rss_peak_kb"), j.get("rss_before_kb")) for j in st])
        lat = med([ratio(j.get("p999_during_ms"), j.get("p999_steady_ms")) for j in st])
        print(f"\n- stairkv peak RSS / before: **{fx(mem)}** — {goal(mem, '<=', 1.2)}")
        print(f"- stairkv p99.9 during / steady: **{fx(lat)}** — {goal(lat, '<=', 2)}")
    if st and rd:
        t = ratio(med([j.get("save_s") for j in st]), med([j.get("save_s") for j in rd]))
        m2 = ratio(med([j.get("rss_peak_kb") for j in st]), med([j.get("rss_peak_kb") for j in rd]))
        print(f"- save time stairkv / redis-server: {fx(t)}; peak RSS stairkv / redis-server (parent + child): {fx(m2)}")
    print()

# ---------------------------------------------------------------------------
print("## c. Restart with the keys on disk\n")
files, c = {}, []
for line in read(os.path.join(out, "c.tsv")).splitlines():
    f = line.split("\t")
    if f[0] == "file" and len(f) == 3:
        files[f[1]] = int(f[2])
    elif f[0] == "run" and len(f) == 4:
        try:
            c.append((f[1], int(f[2]), json.loads(f[3])))
        except ValueError:
            pass
if not c:
    print("Not run (`PARTS` without `c`).\n")
else:
    print(f"Both servers hold the same {int(knobs.get('KEYS', '0')):,} keys (b's fill, then b's load, which "
          "rewrites values but adds no key), saved with a foreground `SAVE`; dump.rdb: "
          + ", ".join(f"{s} {n / 1e6:.1f} MB" for s, n in files.items())
          + f". Each restart: stairkv `--cores {knobs.get('C_CORES', '2')}` (not pinned: it pins its cores "
          "itself) loading its dump.rdb, redis-server pinned to CPU 0 loading its own; the time from the "
          "spawn to the first `PING` answered `+PONG` (the probe sends PING every 5 ms; `-LOADING` and refused "
          "connections do not count), and to `DBSIZE` = the key count. The file is in the page cache for both "
          "(nobody drops caches on a shared machine).\n")
    print("| server | round | first PONG (s) | all keys (s) | DBSIZE at first PONG | -LOADING replies | RSS after (MB) |")
    print("|---|---|---|---|---|---|---|")
    for s, r, j in sorted(c, key=lambda x: (x[0] != "stairkv", x[1])):
        print(f"| {s} | {r} | {fx(j.get('ping_s'), '{:.3f}')} | {fx(j.get('all_keys_s'), '{:.3f}')} "
              f"| {j.get('dbsize_at_ping')} | {j.get('loading_replies')} | {fx(j.get('rss_kb') and j['rss_kb'] / 1024, '{:.0f}')} |")
    sp = med([j.get("ping_s") for s, _, j in c if s == "stairkv"])
    rp = med([j.get("ping_s") for s, _, j in c if s == "redis"])
    sa = med([j.get("all_keys_s") for s, _, j in c if s == "stairkv"])
    ra = med([j.get("all_keys_s") for s, _, j in c if s == "redis"])
    print(f"\n- ready (first PONG), stairkv / redis-server, medians: **{fx(ratio(sp, rp))}** — {goal(ratio(sp, rp), '<=', 0.5)}")
    print(f"- all keys, stairkv / redis-server: {fx(ratio(sa, ra))}\n")

# ---------------------------------------------------------------------------
print("## d. kill -9 crash cycles\n")
any_d = False
for mode, what in (("always", "`--appendonly yes --appendfsync always`: goal **0 acknowledged writes lost, none older**"),
                   ("everysec", "`--appendfsync everysec`: the loss window reported"),
                   ("snapshot", "snapshots only (SAVE now and then): nothing outside the last acknowledged SAVE's window")):
    text = read(os.path.join(out, f"d-{mode}.txt"))
    if not text:
        continue
    any_d = True
    lines = text.splitlines()
    rc = lines[0].replace("exit: ", "") if lines else "?"
    total = [l for l in lines if " total: " in l]
    print(f"### {mode}: {what}\n")
    print(f"Test exit status {rc}{' (passed)' if rc == '0' else ' (**failed**)'}. "
          + (f"Total: `{total[0]}`" if total else "No total line (the test did not run its cycles)."))
    print("\n```")
    for l in lines[1:]:
        print(l)
    print("```\n")
if not any_d:
    print("Not run (`PARTS` without `d`).\n")
else:
    print("The test (tests/aof_crash.rs): `stairkv --cores 2 --shard-max-keys 64 --controller-interval-ms 20 "
          "--migrate-batch 2 --dir <tmp>`; 4 writer threads with disjoint keys (SET, SET PX far, SET PX 20–300 ms, "
          "INCR, DEL, EXPIRE), a thread forcing STAIRKV MIGRATE/SPLIT/MERGE/REBALANCE without pause, "
          "BGREWRITEAOF/BGSAVE (logs) or SAVE (snapshots) every 50–500 ms, FLUSHALL in every third cycle; "
          "`kill -9` after 100–1500 ms; restart on the same directory; each key checked against every "
          "acknowledged state. `kill -9` ends the process, not the machine: the page cache survives it, so "
          "the everysec window measures writes the server had not yet handed to the kernel.\n")

print("## Commands\n")
print("```")
print(read(os.path.join(out, "commands.txt")).rstrip())
print("```")
