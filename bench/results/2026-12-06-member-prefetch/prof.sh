#!/usr/bin/env bash
# Where the CPU goes before and after, under SADD into one 100,000-member set (redis-benchmark
# -t sadd -r 100000 -c 50 -P 16) and the HSET/HGET mix over 100,000 small hashes (stairkv-bench
# --data-type hash -P 16): perf cpu-clock samples (this VM has no hardware counters) of the server
# on CPU 0 for 5 s, the load on CPU 1. Writes profile-{before,after}-{sadd,hash}.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASE=${BASE:-/tmp/stairkv-base}; B=${B:-/tmp/stairkv-new}; BENCH=${BENCH:-/tmp/stairkv-bench-new}
port=16670
for which in before after; do
  bin=$BASE; [ $which = after ] && bin=$B
  for load in sadd hash; do
    taskset -c 0 "$bin" --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
    if [ $load = sadd ]; then
      taskset -c 1 redis-benchmark -p $port -t sadd -r 100000 -c 50 -P 16 -n 50000000 -q >/dev/null 2>&1 &
    else
      taskset -c 1 "$BENCH" --port $port -c 50 -P 16 --ratio 1:1 --data-type hash --fields 10 --keys 100000 \
        --key-prefix hash: --duration 10 --quiet --report-dir /tmp/prof-sb >/dev/null &
    fi
    lp=$!
    sleep 3
    perf record -F 4999 -e cpu-clock -p $pid -o /tmp/prof-mp.data -- sleep 5 >/dev/null 2>&1
    kill $lp 2>/dev/null || true; wait $lp 2>/dev/null || true
    kill $pid; wait $pid 2>/dev/null || true
    perf report -i /tmp/prof-mp.data --no-children --percent-limit 0.7 --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | head -40 > "$here/profile-$which-$load.txt"
  done
done
