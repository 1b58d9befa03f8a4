#!/usr/bin/env bash
# Lists and sorted sets under redis-benchmark, stairkv against redis-server 7,
# alternating rounds. Each server is pinned to CPU 0 (stairkv --cores 1),
# redis-benchmark to CPU 1. Within a round, each server runs the tests in
# redis-benchmark's own order on one instance (LPUSH fills the list LPOP
# drains, ZADD fills the sorted set ZPOPMIN drains), with the server's
# user+system CPU (from /proc/PID/stat) read around each test.
# usage: B=path/to/stairkv ROUNDS=5 P="1 16" run.sh > raw.txt
# prints: round pipeline server test requests_per_s server_cpu_us_per_request
set -euo pipefail
B=${B:-./target/release/stairkv}
ROUNDS=${ROUNDS:-5}
P=${P:-"1 16"}
PORT=${PORT:-17500}
TESTS=${TESTS:-"lpush rpush lpop rpop lrange_100 lrange_600 zadd zpopmin"}
# Requests per test: the LRANGE ones reply 100 or 600 elements each.
n_for() { case "$1" in lrange_600) echo $((N / 10));; lrange_100) echo $((N / 4));; *) echo "$N";; esac; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
ready() { for _ in $(seq 200); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done; }
for r in $(seq "$ROUNDS"); do
  for p in $P; do
    if [ "$p" = 1 ]; then N=${N1:-400000}; else N=${N16:-2000000}; fi
    for server in redis stairkv; do
      if [ $server = redis ]; then
        taskset -c 0 redis-server --port "$PORT" --save "" --appendonly no >/dev/null 2>&1 & pid=$!
      else
        taskset -c 0 "$B" --cores 1 --port "$PORT" --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & pid=$!
      fi
      ready
      for t in $TESTS; do
        n=$(n_for "$t")
        c0=$(cpu $pid)
        out=$(taskset -c 1 redis-benchmark -p "$PORT" -c 50 -P "$p" -n "$n" -r 100000 -t "$t" --csv 2>/dev/null | tail -1)
        c1=$(cpu $pid)
        rps=$(echo "$out" | cut -d, -f2 | tr -d '"')
        # The LRANGE tests first fill the list with LPUSHes (600 of them): negligible.
        echo "$r $p $server $t $rps $(python3 -c "print(round(($c1-$c0)*10000/$n,3))")"
      done
      kill $pid; wait $pid 2>/dev/null || true
    done
  done
done
