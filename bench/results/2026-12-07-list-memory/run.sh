#!/usr/bin/env bash
# Memory of lists, stairkv against redis-server 7.0.15, each on a fresh server pinned to CPU 0
# (stairkv --cores 1): RSS growth (VmRSS after the load minus before) and used_memory for
# (a) one list of 1,000,000 elements `element:N` and (b) MANY (default 100,000) lists of 10 such elements,
# loaded with RPUSH batches of 1,000 (or 10) elements through redis-cli --pipe.
# Usage: B=stairkv-binary ROUNDS=3 [MANY=1000000] [DATA="one many"] run.sh > raw.txt
set -euo pipefail
B=${B:-./target/release/stairkv}
ROUNDS=${ROUNDS:-3}
port=16697
gen() { python3 - "$1" "${MANY:-100000}" <<'PY'
import sys
def cmd(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
w = sys.stdout.buffer
if sys.argv[1] == "one":
    for start in range(0, 1000000, 1000):
        w.write(cmd(["RPUSH", "biglist"] + ["element:%d" % i for i in range(start, start + 1000)]))
else:
    for k in range(int(sys.argv[2])):
        w.write(cmd(["RPUSH", "list:%d" % k] + ["element:%d" % i for i in range(10)]))
PY
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
for r in $(seq "$ROUNDS"); do
  for server in stairkv redis; do
    for data in ${DATA:-one many}; do
      if [ $server = stairkv ]; then
        taskset -c 0 "$B" --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 &
      else
        taskset -c 0 redis-server --port $port --save "" --appendonly no >/dev/null 2>&1 &
      fi
      pid=$!
      for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
      before=$(rss $pid)
      gen $data | redis-cli -p $port --pipe >/dev/null
      sleep 1
      after=$(rss $pid)
      used=$(redis-cli -p $port info memory | tr -d '\r' | awk -F: '$1=="used_memory" {print $2}')
      enc=$(redis-cli -p $port object encoding $([ $data = one ] && echo biglist || echo list:7))
      echo "$r $server $data rss_kb=$((after - before)) used_memory=$used encoding=$enc"
      kill $pid; wait $pid 2>/dev/null || true
    done
  done
done
