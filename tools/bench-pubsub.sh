#!/usr/bin/env bash
# make bench-pubsub: expiry notifications and pub/sub fan-out, stairkv against
# Debian's redis-server (when installed, with notify-keyspace-events Ex set by
# the tool), one server at a time, each fresh and pinned to CPU 0, with
# stairkv-bench pinned to CPU 1. A last fan-out run gives stairkv both cores
# (--cores 2), so subscribers sit on both; there the client shares the CPUs.
#
#   tools/bench-pubsub.sh            # 1,000,000 keys over 10 s; 100 subscribers x 100,000 messages
#   QUICK=1 tools/bench-pubsub.sh    # 100,000 keys over 3 s; 20,000 messages
#
# stairkv's expiry run is repeated EXPIRY_RUNS times (3; redis-server's once: its
# delay is seconds). Beside each, tools/timer-probe.py sleeps 1 ms at a time on
# the server's CPU: how late the machine woke a process there, so a late event
# that came with a stalled CPU is told from one the server caused.
#
# Writes bench/results/<date>-<host>-pubsub/report.md and raw/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${KEYS:-1000000}; SPREAD=${SPREAD:-10}; MSGS=${MSGS:-100000}; ROUNDS=${ROUNDS:-3}
EXPIRY_RUNS=${EXPIRY_RUNS:-3}
if [ "${QUICK:-0}" = 1 ]; then KEYS=100000; SPREAD=3; MSGS=20000; ROUNDS=1; EXPIRY_RUNS=1; fi
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-pubsub"}
mkdir -p "$OUT/raw"

source tools/bench-lib.sh

# Expiry: RSS before the keys, the peak while they live, and 2 s after the last
# deadline; the timer probe from the start of the writes to 1 s past the last
# deadline (stairkv-bench's default --lead is 5 s).
for s in "${SERVERS[@]}"; do
  runs=$EXPIRY_RUNS; [ "$s" = redis ] && runs=1
  for k in $(seq "$runs"); do
    id="expiry-$s-r$k"
    start_server "$s" 1
    before=$(rss_kb "$SPID"); peak=$before
    taskset -c "$SERVER_CPU" python3 tools/timer-probe.py "$((5 + SPREAD + 1))" > "$OUT/raw/$id-probe.json" 2>&1 &
    ppid=$!
    taskset -c "$CLIENT_CPU" $BENCH expiry --port "$PORT" --keys "$KEYS" --spread "$SPREAD" --label "$s" \
      --report-dir "$OUT/raw/$id" --cpu "$CLIENT_CPU" > "$OUT/raw/$id.txt" 2>&1 &
    bpid=$!
    while kill -0 $bpid 2>/dev/null; do r=$(rss_kb "$SPID"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.1; done
    wait $bpid || true
    wait $ppid || true
    sleep 2
    after=$(rss_kb "$SPID")
    printf "%s\t%s\t%s\t%s\n" "$s" "$before" "$peak" "$after" > "$OUT/raw/$id-rss.tsv"
    stop_server
    cat "$OUT/raw/$id.txt"; echo "$s RSS kB: before $before, peak $peak, 2 s after the last deadline $after"
  done
done

# Fan-out: 100 subscribers on one channel, one publisher pipelining 16 PUBLISHes.
for r in $(seq "$ROUNDS"); do
  order=("${SERVERS[@]}")
  [ $((r % 2)) = 0 ] && [ ${#order[@]} = 2 ] && order=("${order[1]}" "${order[0]}")
  for s in "${order[@]}"; do
    start_server "$s" 1
    taskset -c "$CLIENT_CPU" $BENCH fanout --port "$PORT" --subscribers 100 --messages "$MSGS" --label "$s" \
      --report-dir "$OUT/raw/fanout-$s-r$r" --cpu "$CLIENT_CPU" | tee "$OUT/raw/fanout-$s-r$r.txt" || true
    stop_server
  done
done
start_server stairkv 2
$BENCH fanout --port "$PORT" --subscribers 100 --messages "$MSGS" --label "stairkv --cores 2" \
  --report-dir "$OUT/raw/fanout-stairkv2" | tee "$OUT/raw/fanout-stairkv2.txt" || true
stop_server

python3 - "$OUT" "$ROUNDS" "$KEYS" "$SPREAD" "$MSGS" "$EXPIRY_RUNS" > "$OUT/report.md" <<'EOF'
import json, os, statistics, subprocess, sys
out, rounds, keys, spread, msgs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
expiry_runs = int(sys.argv[6])
raw = os.path.join(out, "raw")
def j(p):
    try: return json.load(open(p))
    except Exception: return None
def sh(c):
    try: return subprocess.check_output(c, shell=True, text=True, stderr=subprocess.DEVNULL).strip()
    except Exception: return "?"
name = lambda s: "redis-server" if s == "redis" else s
servers = [s for s in ("stairkv", "redis") if os.path.exists(os.path.join(raw, f"expiry-{s}-r1.txt"))]
print(f"# Expiry notifications and pub/sub fan-out — {os.path.basename(out)}\n")
print(f"- machine: {sh('nproc')} CPUs, `{sh('uname -r')}`; stairkv `{sh('git rev-parse --short HEAD')}`; {sh('redis-server --version')}")
print("- each server fresh and **pinned to CPU 0** (stairkv `--cores 1`), one at a time; **stairkv-bench pinned to CPU 1**; redis-server with `--save \"\" --appendonly no` and `notify-keyspace-events Ex` (set by the tool).")
print("- exact commands: `make bench-pubsub` runs `tools/bench-pubsub.sh`.\n")
print(f"## Expiry: {keys} keys, deadlines spread over {spread} s, one subscriber to `__keyevent@0__:expired`\n")
print(f"`stairkv-bench expiry --keys {keys} --spread {spread}`: keys written with `SET key v PXAT <deadline>` in deadline order (4 connections, pipelined); the delay is from each key's deadline to its event reaching the subscriber (client clock, µs). stairkv ran {expiry_runs} time(s), redis-server once.\n")
print("*timer probe*: `tools/timer-probe.py` on the server's CPU during the run, sleeping 1 ms at a time: the most the machine overslept it, and how many sleeps overshot by more than 5 ms. A late event at a moment the probe was late too is the machine's (a stalled vCPU), not the server's.\n")
print("| server, run | heard | missing | repeated | delay p50 ms | p90 | p99 | p99.9 | max | timer probe max ms (> 5 ms) | RSS before MB | peak MB | 2 s after last deadline MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
rows = {}
for s in servers:
    for k in range(1, (expiry_runs if s == "stairkv" else 1) + 1):
        id = f"expiry-{s}-r{k}"
        e = j(os.path.join(raw, id, "summary.json"))
        if not e: continue
        b, p, a = [int(x) / 1024 for x in open(os.path.join(raw, f"{id}-rss.tsv")).read().split()[1:4]]
        pr = j(os.path.join(raw, f"{id}-probe.json")) or {}
        probe = f"{pr['max_ms']:.1f} ({pr['over_5ms']})" if pr.get("max_ms") is not None else "?"
        d = e["delay_ms"]; rows.setdefault(s, []).append((d, p, a))
        print(f"| {name(s)} {k} | {e['heard']} | {e['missing']} | {e['repeated']} | {d['p50']:.3f} | {d['p90']:.3f} | {d['p99']:.3f} | {d['p99.9']:.3f} | {d['max']:.3f} | {probe} | {b:.1f} | {p:.1f} | {a:.1f} |")
if len(rows) == 2:
    med = statistics.median
    ds_p99 = med([r[0]["p99"] for r in rows["stairkv"]]); ds_max = med([r[0]["max"] for r in rows["stairkv"]])
    ps = med([r[1] for r in rows["stairkv"]]); as_ = med([r[2] for r in rows["stairkv"]])
    dr, pr_, ar = rows["redis"][0]
    print(f"\nredis-server's delay is {dr['p99'] / ds_p99:,.0f}× stairkv's (median of its runs) at p99 and {dr['max'] / ds_max:,.0f}× at the max; stairkv / redis-server RSS: peak {ps / pr_:.2f}×, 2 s after the last deadline {as_ / ar:.2f}×")
print(f"\n## Fan-out: 100 subscribers on one channel, {msgs} messages of 32 B, one publisher (16 PUBLISH per round trip)\n")
print("| server | deliveries/s (median) | every round | all delivered in order |")
print("|---|---|---|---|")
med = {}
for s in servers:
    rs = [j(os.path.join(raw, f"fanout-{s}-r{r}", "summary.json")) for r in range(1, rounds + 1)]
    rs = [x for x in rs if x]
    if not rs: continue
    m = statistics.median([x["deliveries_per_sec"] for x in rs]); med[s] = m
    every = ", ".join("{:,.0f}".format(x["deliveries_per_sec"]) for x in rs)
    ok = "yes" if all(x["ok"] for x in rs) else "NO"
    print(f"| {name(s)} | {m:,.0f} | {every} | {ok} |")
two = j(os.path.join(raw, "fanout-stairkv2", "summary.json"))
if two:
    ok2 = "yes" if two["ok"] else "NO"
    print(f"| stairkv `--cores 2` (subscribers on both cores; CPUs shared with the client) | {two['deliveries_per_sec']:,.0f} | one round | {ok2} |")
if len(med) == 2:
    print(f"\nstairkv / redis-server fan-out (one core each): **{med['stairkv'] / med['redis']:.2f}×**")
EOF
echo "report: $OUT/report.md"
