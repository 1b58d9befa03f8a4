#!/usr/bin/env bash
# perf of the server over a fixed SET P16 run of 4M requests, as the
# default user or (USER=app) as a restricted ACL user: OUT BIN
out=$1; B=$2
port=$((10000 + RANDOM % 10000))
taskset -c 0 $B --cores 1 --port $port --text-port 0 > /dev/null 2>&1 &
pid=$!; sleep 0.8
auth=()
if [ -n "${USER_ACL:-}" ]; then
  redis-cli -p $port ACL SETUSER app on '>pw' '~key:*' '+@all' '-@dangerous' > /dev/null
  auth=(--user app -a pw)
fi
perf record -F 4999 -g -p $pid -o $out -- sleep 100 > /dev/null 2>&1 &
ps=$!; sleep 0.3
taskset -c 1 redis-benchmark -p $port "${auth[@]}" -t set -n 4000000 -c 50 -P 16 -r 100000 -d 32 -q > /dev/null 2>&1
kill -INT $ps; wait $ps 2>/dev/null
kill $pid; wait $pid 2>/dev/null
