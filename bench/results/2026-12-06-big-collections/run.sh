#!/usr/bin/env bash
# Latency of other clients while one reads a 1,000,000-member set whole (SMEMBERS), stairkv against
# Debian's redis-server 7.0.15 on the same CPU: the server pinned to CPU 0 (stairkv --cores 1), the
# load and the reader on CPU 1. Each run loads the set (load.py strings | redis-cli --pipe) and
# 100,000 other keys, then runs stairkv-bench open loop (GET/SET 1:1, 20,000/s, pipeline 1, 50
# connections, 8 s) on the other keys while reader.py sends SMEMBERS every 250 ms (`reading`) or
# nothing (`steady`). Servers and modes alternate round by round.
# Usage: bench/results/2026-12-06-big-collections/run.sh  (SERVERS="name=binary ..." with `redis` for
#        redis-server, BENCH=stairkv-bench, ROUNDS, RAW=output directory)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-/tmp/stairkv-bench-types}
SERVERS=${SERVERS:-"stairkv=/tmp/stairkv-types redis=redis"}
ROUNDS=${ROUNDS:-3}
raw=${RAW:-$here/raw-replies}
port=16650
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
  for entry in $SERVERS; do
    name=${entry%%=*}; bin=${entry#*=}
    modes="steady reading"; [ $((r % 2)) = 0 ] && modes="reading steady"
    for m in $modes; do
      start "$name" "$bin"
      python3 "$here/../2026-12-06-vm-types/load.py" strings | taskset -c 1 redis-cli -p $port --pipe > /dev/null
      taskset -c 1 "$BENCH" --port $port --keys 100000 --value-size 32 -c 50 -P 64 --prefill -n 1 --quiet > /dev/null
      reader=
      if [ "$m" = reading ]; then
        taskset -c 1 python3 "$here/reader.py" $port 0.25 10 > "$raw/reader-$name-$m-r$r.txt" &
        reader=$!
      fi
      taskset -c 1 "$BENCH" --port $port -c 50 -P 1 --rate 20000 --ratio 1:1 --keys 100000 --value-size 32 \
        --duration 8 --quiet --report-dir "$raw/lat-$name-$m-r$r" > /dev/null
      [ -n "$reader" ] && wait "$reader"
      python3 -c "
import json; d=json.load(open('$raw/lat-$name-$m-r$r/summary.json'))['commands']['TOTAL']
l = d['latency_ms']; print('$r $name $m', l['p50'], l['p99'], l['p99.9'], l['max'])" | tee -a "$raw/latency.txt"
      kill $pid; wait $pid 2>/dev/null || true
    done
  done
done
python3 "$here/summary.py" "$raw/latency.txt" | tee "$raw/summary.txt"
