#!/usr/bin/env bash
# The longest single pause while one set grows to 10,000,000 integers as fast as the server takes
# it: `redis-cli --pipe` of the `ints` dataset (10,000 SADDs of 1,000 integers,
# ../2026-12-06-vm-types/load.py) with a PING every millisecond beside it (pinger.py). Server
# pinned to CPU 0 (stairkv --cores 1), clients on CPU 1. Reports per run: the load's time, the
# server's CPU for it (user + system, /proc/<pid>/stat), the slowest command in SLOWLOG, the
# slowest PING round trip. Servers alternate round by round.
# Usage: bench/results/2026-12-06-table-growth/pause.sh  (SERVERS, ROUNDS, RAW as run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SERVERS=${SERVERS:-"before=/tmp/stairkv-before after=/tmp/stairkv-after redis=redis"}
ROUNDS=${ROUNDS:-3}
raw=${RAW:-$here/raw-pause}
port=16751
rm -rf "$raw"; mkdir -p "$raw"
ints=$raw/ints.resp
python3 "$here/../2026-12-06-vm-types/load.py" ints > "$ints"
tick=$(getconf CLK_TCK)

for r in $(seq "$ROUNDS"); do
  order=$SERVERS; [ $((r % 2)) = 0 ] && order=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for entry in $order; do
    name=${entry%%=*}; bin=${entry#*=}
    if [ "$bin" = redis ]; then
      taskset -c 0 redis-server --port $port --save "" --appendonly no > "$raw/server.log" 2>&1 &
    else
      taskset -c 0 "$bin" --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn > "$raw/server.log" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
    redis-cli -p $port config set slowlog-log-slower-than 1000 > /dev/null
    redis-cli -p $port config set slowlog-max-len 100000 > /dev/null
    rm -f "$raw/stop"
    taskset -c 1 python3 "$here/pinger.py" $port "$raw/stop" > "$raw/ping.txt" &
    pinger=$!
    sleep 0.2
    c0=$(awk '{print $14 + $15}' /proc/$pid/stat); t0=$(date +%s.%N)
    taskset -c 1 redis-cli -p $port --pipe < "$ints" > /dev/null
    t1=$(date +%s.%N); c1=$(awk '{print $14 + $15}' /proc/$pid/stat)
    touch "$raw/stop"; wait $pinger
    slowest=$(redis-cli -p $port slowlog get 100000 | python3 -c "
import sys
lines = sys.stdin.read().split('\n')
# Each entry: id, time, duration (µs), args...; durations follow a unix time line.
d = [int(lines[i + 1]) for i in range(len(lines) - 1) if lines[i].isdigit() and len(lines[i]) == 10 and lines[i + 1].isdigit()]
print('%.1f' % (max(d) / 1000 if d else 0))")
    echo "$r $name $(echo "$t1 - $t0" | bc) $(( (c1 - c0) * 1000 / tick )) $slowest $(cat "$raw/ping.txt")" \
      | tee -a "$raw/pause.txt"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
rm -f "$ints" "$raw/stop" "$raw/ping.txt"
python3 - "$raw/pause.txt" <<'PY' | tee "$raw/summary.txt"
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r, name, *v = line.split()
    rows.setdefault(name, []).append([float(x) for x in v])
print("server   load s  server CPU ms  slowest command ms  slowest PING ms  (medians of %d rounds)"
      % len(next(iter(rows.values()))))
for name, vs in rows.items():
    med = [statistics.median(c) for c in zip(*vs)]
    print("%-8s %6.2f  %13.0f  %18.1f  %15.1f" % (name, *med))
PY
