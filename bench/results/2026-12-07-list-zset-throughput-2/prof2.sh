#!/usr/bin/env bash
# usage: prof2.sh OUT P -- command args (after a 1000-element prefill of mylist)
OUT=$1; P=$2; shift 3
PORT=17601
B=/work/main/target/release/stairkv
taskset -c 0 $B --cores 1 --port $PORT --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & pid=$!
for _ in $(seq 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.05; done
taskset -c 1 redis-benchmark -p $PORT -c 50 -P 16 -n 1000 -t lpush -q >/dev/null 2>&1
(taskset -c 1 redis-benchmark -p $PORT -c 50 -P $P -n 100000000 "$@" >/dev/null 2>&1 &)
sleep 1
perf record -e cpu-clock --call-graph dwarf,16384 -p $pid -o $OUT -- sleep 3 >/dev/null 2>&1
pkill -f "redis-benchmark -p $PORT"
kill $pid; wait $pid 2>/dev/null
