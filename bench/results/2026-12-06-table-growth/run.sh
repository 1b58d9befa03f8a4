#!/usr/bin/env bash
# Latency of other clients while one set grows to 10,000,000 integers, stairkv against Debian's
# redis-server 7.0.15 on the same CPU: the server pinned to CPU 0 (stairkv --cores 1), the load on
# CPU 1. Each run prefills 100,000 other keys, starts stairkv-bench open loop (GET/SET 1:1,
# 20,000/s, pipeline 1, 50 connections, DURATION s) on them and, meanwhile, pacer.py grows one
# set to 10,000,000 integers (10,000 SADDs of 1,000 integers, RATE SADDs a second) — its table
# grows through every size up to 16,777,216 buckets. The loader is paced, not `redis-cli --pipe`,
# so the load CPU is not saturated and the latencies are the server's. Servers alternate round
# by round; the loader's time and its slowest SADD reply are printed beside the latencies.
# Usage: bench/results/2026-12-06-table-growth/run.sh  (SERVERS="name=binary ..." with `redis` for
#        redis-server, BENCH=stairkv-bench, ROUNDS, DURATION, RATE, RAW=output directory)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-/tmp/stairkv-bench-g}
SERVERS=${SERVERS:-"before=/tmp/stairkv-before after=/tmp/stairkv-after redis=redis"}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-21}
RATE=${RATE:-500}
raw=${RAW:-$here/raw}
port=16750
rm -rf "$raw"; mkdir -p "$raw"

start() { # name binary
  if [ "$2" = redis ]; then
    taskset -c 0 redis-server --port $port --save "" --appendonly no > "$raw/server.log" 2>&1 &
  else
    taskset -c 0 "$2" --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn > "$raw/server.log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "$1 did not start"; exit 1
}

for r in $(seq "$ROUNDS"); do
  order=$SERVERS; [ $((r % 2)) = 0 ] && order=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for entry in $order; do
    name=${entry%%=*}; bin=${entry#*=}
    start "$name" "$bin"
    taskset -c 1 "$BENCH" --port $port --keys 100000 --value-size 32 -c 50 -P 64 --prefill -n 1 --quiet > /dev/null
    fifo=$raw/pacer.out; rm -f "$fifo"; mkfifo "$fifo"
    taskset -c 1 python3 "$here/pacer.py" $port "$RATE" > "$fifo" &
    pacer=$!
    exec 3< "$fifo"
    read -r ready <&3   # the commands are built: start measuring
    taskset -c 1 "$BENCH" --port $port -c 50 -P 1 --rate 20000 --ratio 1:1 --keys 100000 --value-size 32 \
      --duration "$DURATION" --quiet --report-dir "$raw/lat-$name-r$r" > /dev/null &
    bench=$!
    read -r load _ _ _ slowest _ <&3
    exec 3<&-
    wait $pacer; wait $bench
    card=$(redis-cli -p $port scard ints)
    python3 -c "
import json; d=json.load(open('$raw/lat-$name-r$r/summary.json'))['commands']['TOTAL']
l = d['latency_ms']; print('$r $name', l['p50'], l['p99'], l['p99.9'], l['max'], $load, $slowest, $card)" | tee -a "$raw/latency.txt"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
rm -f "$raw/pacer.out"
python3 - "$raw/latency.txt" <<'PY' | tee "$raw/summary.txt"
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r, name, *v = line.split()
    rows.setdefault(name, []).append([float(x) for x in v[:6]])
print("server   p50 ms  p99 ms  p99.9 ms  max ms  load s  slowest SADD ms  (medians of %d rounds)"
      % len(next(iter(rows.values()))))
for name, vs in rows.items():
    med = [statistics.median(c) for c in zip(*vs)]
    print("%-8s %6.2f  %6.2f  %8.2f  %6.1f  %6.2f  %15.1f" % (name, *med))
PY
