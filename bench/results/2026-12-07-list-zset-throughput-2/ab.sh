#!/usr/bin/env bash
# usage: ab.sh BIN|redis -- command... : ops/s of the command at P16 on a 1000-element list
S=$1; shift 2
PORT=17602
if [ "$S" = redis ]; then taskset -c 0 redis-server --port $PORT --save "" --appendonly no >/dev/null 2>&1 & pid=$!
else taskset -c 0 $S --cores 1 --port $PORT --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & pid=$!; fi
for _ in $(seq 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.05; done
taskset -c 1 redis-benchmark -p $PORT -c 50 -P 16 -n 1000 -t lpush -q >/dev/null 2>&1
taskset -c 1 redis-benchmark -p $PORT -c 50 -P 16 -n 2000000 --csv "$@" 2>/dev/null | tail -1
kill $pid; wait $pid 2>/dev/null
