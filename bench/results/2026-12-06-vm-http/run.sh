#!/usr/bin/env bash
# Issue 20's measurements. Server: stairkv --cores 1 pinned to CPU 0; load pinned to CPU 1.
# (1) GET over HTTP keep-alive (wrk, 1 thread, 50 connections) against RESP GET at pipeline 1
#     (redis-benchmark -c 50 -P 1) on the same server, same 32-byte value, alternating rounds;
#     server CPU per request = utime+stime from /proc/<pid>/stat around each run / requests.
#     Beside them, redis-server (Debian's, pinned to CPU 0 too) under the same redis-benchmark
#     run, started after stairkv's rounds (the two servers never run at once).
# (2) The cost of watching: `make bench` workload (b) (stairkv-bench -c 50 -P 16, 1:1 over 1M keys,
#     32-byte values) with watch.py (the dashboard's two sockets + /metrics every second, on CPU 1)
#     against without, alternating rounds.
# Usage: bench/results/2026-12-06-vm-http/run.sh   (B=server binary, BENCH=stairkv-bench, ROUNDS, DUR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/stairkv-http}
BENCH=${BENCH:-/tmp/stairkv-bench-http}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-10}
RESP_N=${RESP_N:-1500000}
port=16500
hport=18500
raw=$here/raw
rm -rf "$raw"; mkdir -p "$raw"
clk=$(getconf CLK_TCK)

start() {
  taskset -c 0 "$B" --cores 1 --port $port --text-port 0 --http-port $hport --log-level warn "$@" > "$raw/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "server did not start"; exit 1
}
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
stop() { kill $pid; wait $pid 2>/dev/null || true; }

start
redis-cli -p $port set key:__rand_int__ "$(head -c 32 /dev/zero | tr '\0' x)" >/dev/null
for r in $(seq "$ROUNDS"); do
  order="http resp"; [ $((r % 2)) = 0 ] && order="resp http"
  for m in $order; do
    c0=$(cpu)
    if [ "$m" = http ]; then
      taskset -c 1 wrk -t1 -c50 -d"${DUR}s" --latency "http://127.0.0.1:$hport/v1/keys/key:__rand_int__" > "$raw/http-r$r.txt"
      n=$(awk '/requests in/ {print $1}' "$raw/http-r$r.txt")
      ops=$(awk '/Requests\/sec/ {print $2}' "$raw/http-r$r.txt")
    else
      taskset -c 1 redis-benchmark -p $port -t get -c 50 -P 1 -n "$RESP_N" --csv > "$raw/resp-r$r.txt"
      n=$RESP_N
      ops=$(awk -F'"' '/"GET"/ {print $4}' "$raw/resp-r$r.txt")
    fi
    c1=$(cpu)
    echo "get $m $r $ops $(python3 -c "print(($c1-$c0)/$clk/$n*1e6)")" | tee -a "$raw/results.txt"
  done
done
stop

# redis-server under the same RESP GET, same CPUs.
taskset -c 0 redis-server --port $port --save "" --appendonly no --daemonize no > "$raw/redis.log" 2>&1 &
pid=$!
for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p $port set key:__rand_int__ "$(head -c 32 /dev/zero | tr '\0' x)" >/dev/null
for r in $(seq "$ROUNDS"); do
  c0=$(cpu)
  taskset -c 1 redis-benchmark -p $port -t get -c 50 -P 1 -n "$RESP_N" --csv > "$raw/redis-r$r.txt"
  c1=$(cpu)
  ops=$(awk -F'"' '/"GET"/ {print $4}' "$raw/redis-r$r.txt")
  echo "get redis $r $ops $(python3 -c "print(($c1-$c0)/$clk/$RESP_N*1e6)")" | tee -a "$raw/results.txt"
done
stop

start
taskset -c 1 "$BENCH" --port $port --keys 1000000 --value-size 32 -c 50 -P 64 --prefill -n 1 --quiet >/dev/null
for r in $(seq "$ROUNDS"); do
  order="plain watched"; [ $((r % 2)) = 0 ] && order="watched plain"
  for m in $order; do
    wpid=
    if [ "$m" = watched ]; then
      taskset -c 1 python3 "$here/watch.py" $hport $((DUR + 2)) > "$raw/watch-r$r.txt" &
      wpid=$!
      sleep 1
    fi
    c0=$(cpu)
    taskset -c 1 "$BENCH" --port $port -c 50 -P 16 --ratio 1:1 --distribution uniform --keys 1000000 \
      --value-size 32 --duration "$DUR" --quiet --report-dir "$raw/b-$m-r$r" > "$raw/b-$m-r$r.txt"
    c1=$(cpu)
    [ -n "$wpid" ] && wait "$wpid"
    read -r ops n < <(python3 -c "import json;d=json.load(open('$raw/b-$m-r$r/summary.json'))['commands']['TOTAL'];print(d['ops_per_sec'],d['ops'])")
    echo "b $m $r $ops $(python3 -c "print(($c1-$c0)/$clk/$n*1e6)")" | tee -a "$raw/results.txt"
  done
done
stop
python3 "$here/summary.py" "$raw/results.txt" | tee "$here/summary.txt"
