#!/usr/bin/env bash
# Single-key HSET/SADD/SPOP at pipeline 1, stairkv against redis-server, same CPUs: each server on
# CPU 0 (stairkv --cores 1), redis-benchmark on CPU 1, one server at a time, alternating; each run
# first fills the collection (-P 16, 1,000,000 requests), then measures -n N at -P P and reads the
# server's CPU (utime+stime) around it. Prints: round server test req/s CPU-us-per-request.
# Usage: P=1 N=400000 run.sh ROUNDS "hset sadd spop" STAIRKV_BINARY redis
ROUNDS=$1; TESTS=$2; shift 2
port=16650
for r in $(seq $ROUNDS); do
 for B in "$@"; do
  for t in $TESTS; do
   if [ "$B" = redis ]; then taskset -c 0 redis-server --port $port --save "" --appendonly no >/dev/null 2>&1 & pid=$!
   else taskset -c 0 $B --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & pid=$!; fi
   for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
   # warm: fill the collection first
   taskset -c 1 redis-benchmark -p $port -t $t -r 100000 -c 50 -P 16 -n 1000000 -q >/dev/null 2>&1
   c0=$(awk '{print $14+$15}' /proc/$pid/stat)
   out=$(taskset -c 1 redis-benchmark -p $port -t $t -r 100000 -c 50 -P ${P:-16} -n ${N:-3000000} -q 2>/dev/null | tr '\r' '\n' | grep -a "requests per second" | tail -1)
   c1=$(awk '{print $14+$15}' /proc/$pid/stat)
   rps=$(echo "$out" | grep -oE '[0-9.]+ requests per second' | cut -d' ' -f1)
   cpu=$(python3 -c "print(round(($c1-$c0)*10000/${N:-3000000},3))")
   echo "$r $(basename $B) $t $rps $cpu"
   kill $pid; wait $pid 2>/dev/null
  done
 done
done
