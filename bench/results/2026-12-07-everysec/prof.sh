#!/usr/bin/env bash
# prof.sh BIN OUT [server args]: perf (cpu-clock, CPU 0) over a whole 2M SET P16 run
BIN=$1; OUT=$2; shift 2
d=$(mktemp -d /var/tmp/pr.XXXX); port=$((10000 + RANDOM % 10000))
taskset -c 0 $BIN --cores 1 --port $port --text-port 0 --log-level warn --dir $d "$@" > /dev/null 2>&1 & pid=$!
sleep 0.8
perf record -e cpu-clock -C 0 -g -o $OUT -- taskset -c 1 redis-benchmark -p $port -t set -n 2000000 -r 1000000 -d 32 -c 50 -P 16 -q 2>/dev/null | tr '\r' '\n' | tail -1
kill $pid; wait $pid 2>/dev/null; rm -rf $d
