#!/usr/bin/env bash
# Where HSET and SADD into one large collection spend stairkv's CPU: perf (cpu-clock samples; this VM
# has no hardware counters) on stairkv --cores 1 (CPU 0) under redis-benchmark -t hset / -t sadd
# -r 100000 -c 50 -P 16 (CPU 1) for 6 s each, and redis-server the same way for comparison.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/stairkv-types}
port=16640
for s in stairkv redis; do
  if [ $s = stairkv ]; then
    taskset -c 0 "$B" --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn > /dev/null 2>&1 &
  else
    taskset -c 0 redis-server --port $port --save "" --appendonly no > /dev/null 2>&1 &
  fi
  pid=$!
  for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
  for t in hset sadd; do
    taskset -c 1 redis-benchmark -p $port -t $t -r 100000 -c 50 -P 16 -n 20000000 -q > /dev/null & lp=$!
    sleep 1
    perf record -F 4999 -e cpu-clock -g -p $pid -o /tmp/perf-types.data -- sleep 6 2>/dev/null
    kill $lp 2>/dev/null || true; wait $lp 2>/dev/null || true
    perf report -i /tmp/perf-types.data --no-children --percent-limit 0.8 --stdio -g none 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | head -40 > "$here/profile-$s-$t.txt"
  done
  kill $pid; wait $pid 2>/dev/null || true
done
