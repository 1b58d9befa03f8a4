#!/usr/bin/env bash
# Issue 21's migration-tail goal, measured again with a fair baseline: stairkv --cores 2 (CPUs 0-1),
# a 1,000,000-member set `strings` (NOSET=1: one member), 100,000 string keys; stairkv-bench open
# loop (GET/SET 1:1, 20k/s, P1, 50 connections) on the strings for 8 s on CPU 1, while mover.py
# moves the set's shard to the other core and straight back, three times, over ONE connection
# (`moving`), or polls the same way without moving it (`steady`). The earlier run
# (2026-12-06-vm-types) spawned a redis-cli process every 5 ms while moving and none while steady,
# and its odd number of one-way moves left every other moving run with both shards on one core.
# Alternating rounds.
# SLOW=0 logs every request (stairkv-bench --slow-log 0) so that summary.py can tell the requests
# sent during the moves from the rest.
# Usage: B=server BENCH=stairkv-bench ROUNDS=5 RAW=dir SLOW=0 [NOSET=1] [HASHMOD=2:R] run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/stairkv-head}
BENCH=${BENCH:-/tmp/stairkv-bench-head}
ROUNDS=${ROUNDS:-5}
raw=${RAW:-$here/raw}
rm -rf "$raw"; mkdir -p "$raw"
cport=16620
taskset -c 0,1 "$B" --cores 2 --port $cport --text-port 0 --http-port 0 --autoscale off --log-level warn "$@" > "$raw/server.log" 2>&1 &
pid=$!
trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null || true" EXIT
for _ in $(seq 200); do redis-cli -p $cport ping >/dev/null 2>&1 && break; sleep 0.05; done
if [ "${NOSET:-0}" = 1 ]; then
  redis-cli -p $cport sadd strings one > /dev/null
else
  python3 "$here/../2026-12-06-vm-types/load.py" strings | redis-cli -p $cport --pipe > /dev/null
fi
taskset -c 1 "$BENCH" --port $cport --keys 100000 --value-size 32 -c 50 -P 64 --prefill -n 1 ${HASHMOD:+--hash-mod $HASHMOD} --quiet > /dev/null
for r in $(seq "$ROUNDS"); do
  order="steady moving"; [ $((r % 2)) = 0 ] && order="moving steady"
  for m in $order; do
    arg=; [ "$m" = steady ] && arg=steady
    python3 "$here/mover.py" $cport strings 3 2 "$raw/moves-$m-r$r.txt" $arg &
    mover=$!
    taskset -c 1 "$BENCH" --port $cport -c 50 -P 1 --rate 20000 --ratio 1:1 --keys 100000 --value-size 32 ${HASHMOD:+--hash-mod $HASHMOD} \
      --duration 8 --quiet --report-dir "$raw/lat-$m-r$r" ${SLOW:+--slow-log $SLOW} > /dev/null
    wait "$mover"
    [ "${SLOW:-}" = 0 ] && python3 "$here/summary.py" cut "$raw/lat-$m-r$r" "$raw/moves-$m-r$r.txt"
    python3 -c "
import json; d=json.load(open('$raw/lat-$m-r$r/summary.json'))['commands']['TOTAL']
l = d['latency_ms']; print('$r $m', l['p50'], l['p99'], l['p99.9'], l['max'])" | tee -a "$raw/latency.txt"
  done
done
[ "${SLOW:-}" = 0 ] && python3 "$here/summary.py" "$raw" | tee "$raw/summary.txt"
