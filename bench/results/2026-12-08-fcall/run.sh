#!/usr/bin/env bash
# FCALL of a one-SET function (and EVALSHA of the same script beside it),
# stairkv --cores 1 against redis-server 7.0.15, each pinned to CPU 0,
# redis-benchmark pinned to CPU 1, 50 connections, keys over 1,000,000,
# alternating rounds (the server order flips every round), with the
# server's user+system CPU (/proc/PID/stat) read around each run.
# usage: B=path/to/stairkv ROUNDS=3 P="1 16" run.sh > raw.txt
# prints: round pipeline server test requests_per_s server_cpu_us_per_request
set -euo pipefail
B=${B:-./target/release/stairkv}
ROUNDS=${ROUNDS:-3}
P=${P:-"1 16"}
PORT=${PORT:-17500}
LIB='#!lua name=bench
redis.register_function("set1", function(keys, args) return redis.call("SET", keys[1], args[1]) end)'
SCRIPT='return redis.call("SET", KEYS[1], ARGV[1])'
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
ready() { for _ in $(seq 200); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done; }
for r in $(seq "$ROUNDS"); do
  order="redis stairkv"; [ $((r % 2)) = 0 ] && order="stairkv redis"
  for p in $P; do
    if [ "$p" = 1 ]; then N=${N1:-300000}; else N=${N16:-1500000}; fi
    for server in $order; do
      if [ $server = redis ]; then
        taskset -c 0 redis-server --port "$PORT" --save "" --appendonly no >/dev/null 2>&1 & pid=$!
      else
        taskset -c 0 "$B" --cores 1 --port "$PORT" --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & pid=$!
      fi
      ready
      redis-cli -p "$PORT" function load "$LIB" >/dev/null
      sha=$(redis-cli -p "$PORT" script load "$SCRIPT")
      for t in fcall evalsha; do
        if [ $t = fcall ]; then cmd=(FCALL set1 1 key:__rand_int__ xxx); else cmd=(EVALSHA "$sha" 1 key:__rand_int__ xxx); fi
        c0=$(cpu $pid)
        out=$(taskset -c 1 redis-benchmark -p "$PORT" -c 50 -P "$p" -n "$N" -r 1000000 --csv "${cmd[@]}" 2>/dev/null | tail -1)
        c1=$(cpu $pid)
        rps=$(echo "$out" | cut -d, -f2 | tr -d '"')
        echo "$r $p $server $t $rps $(python3 -c "print(round(($c1-$c0)*10000/$N,3))")"
      done
      kill $pid; wait $pid 2>/dev/null || true
    done
  done
done
