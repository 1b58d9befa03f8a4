#!/usr/bin/env bash
# perf -C 0 over a single-client SET run: OUT SERVER(redis|stairkv)
out=$1; s=$2; port=$((10000 + RANDOM % 10000))
if [ $s = redis ]; then taskset -c 0 redis-server --port $port --save '' --appendonly no >/dev/null 2>&1 &
else taskset -c 0 ${B:-/work/main/target/release/stairkv} --cores 1 --port $port --text-port 0 >/dev/null 2>&1 & fi
pid=$!; sleep 0.7
perf record -e cpu-clock -F 9999 -g -C 0 -o $out -- sleep 3 > /dev/null 2>&1 &
ps=$!
taskset -c 1 redis-benchmark -p $port -t set -n 200000 -c 1 -q > /dev/null 2>&1 &
bp=$!
wait $ps; kill $bp 2>/dev/null; wait $bp 2>/dev/null
kill $pid; wait $pid 2>/dev/null
