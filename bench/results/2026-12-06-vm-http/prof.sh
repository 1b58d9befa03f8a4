#!/usr/bin/env bash
# Where a keep-alive HTTP GET's server CPU goes: perf (cpu-clock samples; this VM has no hardware
# counters) on stairkv --cores 1 (CPU 0) under wrk -t1 -c50 (CPU 1) for 10 s, and the same for RESP
# GET under redis-benchmark -c 50 -P 1; strace -c of the server's syscalls for 5 s of each.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/stairkv-http}
port=16510; hport=18510
taskset -c 0 "$B" --cores 1 --port $port --text-port 0 --http-port $hport --log-level warn > /dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p $port set key:__rand_int__ "$(head -c 32 /dev/zero | tr '\0' x)" >/dev/null
for m in http resp; do
  if [ $m = http ]; then load=(wrk -t1 -c50 -d12s "http://127.0.0.1:$hport/v1/keys/key:__rand_int__");
  else load=(redis-benchmark -p $port -t get -c 50 -P 1 -n 1500000 -q); fi
  taskset -c 1 "${load[@]}" > /dev/null & lp=$!
  sleep 1
  perf record -F 4999 -e cpu-clock -g -p $pid -o /tmp/perf-$m.data -- sleep 8 2>/dev/null
  wait $lp || true
  perf report -i /tmp/perf-$m.data --no-children --percent-limit 0.8 --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -45 > "$here/profile-$m.txt"
  taskset -c 1 "${load[@]}" > /dev/null & lp=$!
  sleep 1
  timeout -s INT 5 strace -c -f -p $pid -o "$here/strace-$m.txt" || true
  wait $lp || true
done
kill $pid
