#!/usr/bin/env bash
# usage: prof.sh TEST P OUT [server]
set -u
T=$1; P=$2; OUT=$3; S=${4:-stairkv}
PORT=17600
B=/work/main/target/release/stairkv
if [ "$S" = redis ]; then
  taskset -c 0 redis-server --port $PORT --save "" --appendonly no >/dev/null 2>&1 & pid=$!
else
  taskset -c 0 $B --cores 1 --port $PORT --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & pid=$!
fi
for _ in $(seq 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.05; done
[ -n "${PREFILL:-}" ] && taskset -c 1 redis-benchmark -p $PORT -c 50 -P 16 -n $PREFILL -r 100000000 -t ${PREFILL_T:-lpush} -q >/dev/null 2>&1
(taskset -c 1 redis-benchmark -p $PORT -c 50 -P $P -n 100000000 -r 100000 -t $T -q >/dev/null 2>&1 &) 
sleep 1
perf record -e cpu-clock --call-graph dwarf,16384 -p $pid -o $OUT -- sleep 3 >/dev/null 2>&1
pkill -f "redis-benchmark -p $PORT"
kill $pid; wait $pid 2>/dev/null
