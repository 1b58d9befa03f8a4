#!/usr/bin/env bash
# Issue 21, fourth pass: HSET/SADD/SPOP into one big collection and the HSET/HGET and SADD/SISMEMBER
# mixes, before (BASE) and after (B) the member prefetch and the in-place HSET of packed hashes,
# against redis-server 7.0.15, in alternating rounds (the order of the three rotates each round).
# Every server is pinned to CPU 0 (stairkv --cores 1), every load to CPU 1.
#   redis-benchmark -t T -r 100000 -c 50 -P P: a warm-up of N_WARM requests fills the one key, then
#     N requests are timed (T = hset, sadd, spop; P = 1 and 16). SPOP's set is empty after its
#     warm-up, so its timed requests are the bare request path (a pop of a missing key).
#   stairkv-bench --data-type hash|set --fields 10 --keys 100000 --ratio 1:1 -c 50 -P 16, DUR s.
# Server CPU per request: utime+stime from /proc/<pid>/stat around the timed run.
# Usage: BASE=/tmp/stairkv-base B=/tmp/stairkv-new BENCH=/tmp/stairkv-bench-new ROUNDS=5 run.sh
# Output: raw/runs.txt, one line per run: round server test pipeline req/s cpu-µs/req.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASE=${BASE:-/tmp/stairkv-base}; B=${B:-/tmp/stairkv-new}; BENCH=${BENCH:-/tmp/stairkv-bench-new}
ROUNDS=${ROUNDS:-5}; DUR=${DUR:-5}; N=${N:-2000000}; N1=${N1:-300000}; N_WARM=${N_WARM:-1000000}
raw=${RAW:-$here/raw}; mkdir -p "$raw"; : > "$raw/runs.txt"
port=16660; clk=$(getconf CLK_TCK)
start() {
  if [ "$1" = redis ]; then taskset -c 0 redis-server --port $port --save "" --appendonly no >/dev/null 2>&1 &
  else taskset -c 0 "$1" --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & fi
  pid=$!
  for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "$1 did not start"; exit 1
}
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
stop() { kill $pid; wait $pid 2>/dev/null || true; }
name() { case $1 in redis) echo redis;; "$BASE") echo before;; *) echo after;; esac; }
per() { python3 -c "print(round(($2 - $1) * 1e6 / $clk / $3, 3))"; }
servers=("$BASE" "$B" redis)
for r in $(seq "$ROUNDS"); do
  k=$(( (r - 1) % 3 ))
  for s in "${servers[@]:$k}" "${servers[@]:0:$k}"; do
    for t in hset sadd spop; do
      for P in 1 16; do
        n=$N; [ $P = 1 ] && n=$N1
        start "$s"
        taskset -c 1 redis-benchmark -p $port -t $t -r 100000 -c 50 -P 16 -n $N_WARM -q >/dev/null 2>&1
        c0=$(cpu)
        ops=$(taskset -c 1 redis-benchmark -p $port -t $t -r 100000 -c 50 -P $P -n $n --csv | awk -F'"' 'NR==2 {print $4}')
        c1=$(cpu)
        echo "$r $(name "$s") rb-$t $P $ops $(per "$c0" "$c1" "$n")" | tee -a "$raw/runs.txt"
        stop
      done
    done
    for dt in hash set; do
      start "$s"
      c0=$(cpu)
      rm -rf "$raw/sb"
      taskset -c 1 "$BENCH" --port $port -c 50 -P 16 --ratio 1:1 --data-type $dt --fields 10 --keys 100000 \
        --key-prefix "$dt:" --duration "$DUR" --quiet --report-dir "$raw/sb" >/dev/null
      c1=$(cpu)
      read -r ops n < <(python3 -c "import json;d=json.load(open('$raw/sb/summary.json'))['commands']['TOTAL'];print(d['ops_per_sec'],d['ops'])")
      echo "$r $(name "$s") bench-$dt 16 $ops $(per "$c0" "$c1" "$n")" | tee -a "$raw/runs.txt"
      stop
    done
  done
done
rm -rf "$raw/sb"
