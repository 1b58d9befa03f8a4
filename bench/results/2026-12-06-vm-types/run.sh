#!/usr/bin/env bash
# Issue 21's measurements, stairkv against Debian's redis-server 7.0.15, same machine, same CPUs:
# every server pinned to CPU 0 (stairkv with --cores 1), every load to CPU 1; the two servers never
# run at once, and they alternate round by round (stairkv first in odd rounds, redis in even ones).
# (A) Throughput and server CPU per request (utime+stime from /proc/<pid>/stat around each run):
#     redis-benchmark -t hset,sadd,spop -r 100000 at -P 1 and -P 16 (50 connections), and
#     stairkv-bench --data-type hash (HSET/HGET 1:1) and --data-type set (SADD/SISMEMBER 1:1) over
#     100,000 keys of up to 10 fields/members, 50 connections, -P 1 and -P 16.
# (B) Memory: RSS growth (VmRSS after load − before) of 1,000,000 hashes of 10 small fields, one set
#     of 10,000,000 integers, one set of 1,000,000 short strings (load.py | redis-cli --pipe), each
#     on a fresh server; used_memory beside it.
# (C) Latency while a 1,000,000-member set moves: stairkv --cores 2, the set's shard migrated to
#     the other core and back while stairkv-bench runs open loop (GET/SET 1:1, 20k/s, P1) on other
#     keys; the same run without migrations is the steady baseline. Alternating rounds. NOSET=1:
#     the control, the same shard moving with a one-member set instead.
# Usage: bench/results/2026-12-06-vm-types/run.sh   (B=server, BENCH=stairkv-bench, ROUNDS, DUR,
#        PARTS=ABC (which of the three to run), RAW=output directory)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/stairkv-types}
BENCH=${BENCH:-/tmp/stairkv-bench-types}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-6}
N1=${N1:-400000}
N16=${N16:-2000000}
port=16610
PARTS=${PARTS:-ABC}
raw=${RAW:-$here/raw}
rm -rf "$raw"; mkdir -p "$raw"
clk=$(getconf CLK_TCK)

start() { # server name, then its extra flags
  local which=$1; shift
  if [ "$which" = stairkv ]; then
    taskset -c 0 "$B" --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn "$@" > "$raw/server.log" 2>&1 &
  else
    taskset -c 0 redis-server --port $port --save "" --appendonly no "$@" > "$raw/server.log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 200); do redis-cli -p $port ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "$which did not start"; exit 1
}
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
stop() { kill $pid; wait $pid 2>/dev/null || true; }

# (A)
[[ $PARTS == *A* ]] && for r in $(seq "$ROUNDS"); do
  order="stairkv redis"; [ $((r % 2)) = 0 ] && order="redis stairkv"
  for s in $order; do
    start $s
    for P in 1 16; do
      n=$N1; [ $P = 16 ] && n=$N16
      for t in hset sadd spop; do
        c0=$(cpu)
        taskset -c 1 redis-benchmark -p $port -t $t -r 100000 -c 50 -P $P -n "$n" --csv > "$raw/rb-$s-$t-p$P-r$r.txt"
        c1=$(cpu)
        ops=$(awk -F'"' 'NR==2 {print $4}' "$raw/rb-$s-$t-p$P-r$r.txt")
        echo "$r $s $P $t $ops $((c1 - c0)) $n" | tee -a "$raw/runs.txt"
      done
      for dt in hash set; do
        c0=$(cpu)
        taskset -c 1 "$BENCH" --port $port -c 50 -P $P --ratio 1:1 --data-type $dt --fields 10 \
          --keys 100000 --key-prefix "$dt:" --duration "$DUR" --quiet --report-dir "$raw/sb-$s-$dt-p$P-r$r" > /dev/null
        c1=$(cpu)
        read -r ops n < <(python3 -c "import json;d=json.load(open('$raw/sb-$s-$dt-p$P-r$r/summary.json'))['commands']['TOTAL'];print(d['ops_per_sec'],d['ops'])")
        echo "$r $s $P bench-$dt $ops $((c1 - c0)) $n" | tee -a "$raw/runs.txt"
      done
    done
    stop
  done
done

# (B)
[[ $PARTS == *B* ]] && for d in ${DATASETS:-hashes ints strings}; do
  for s in stairkv redis; do
    start $s
    before=$(rss)
    python3 "$here/load.py" $d | taskset -c 1 redis-cli -p $port --pipe > "$raw/load-$s-$d.txt"
    sleep 1
    after=$(rss)
    used=$(redis-cli -p $port info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
    echo "$d $s $before $after $used" | tee -a "$raw/memory.txt"
    stop
  done
done

# (C)
if [[ $PARTS == *C* ]]; then
cport=16620
taskset -c 0,1 "$B" --cores 2 --port $cport --text-port 0 --http-port 0 --autoscale off --log-level warn > "$raw/server-c.log" 2>&1 &
pid=$!
for _ in $(seq 200); do redis-cli -p $cport ping >/dev/null 2>&1 && break; sleep 0.05; done
if [ "${NOSET:-0}" = 1 ]; then
  # The control: the same shard moves with one small member in the set.
  redis-cli -p $cport sadd strings one > /dev/null
else
  python3 "$here/load.py" strings | redis-cli -p $cport --pipe > /dev/null
fi
shard=$(redis-cli -p $cport stairkv keyshard strings | head -1)
taskset -c 1 "$BENCH" --port $cport --keys 100000 --value-size 32 -c 50 -P 64 --prefill -n 1 --quiet > /dev/null
for r in $(seq "$ROUNDS"); do
  order="steady moving"; [ $((r % 2)) = 0 ] && order="moving steady"
  for m in $order; do
    mover=
    if [ "$m" = moving ]; then
      ( sleep 2; for i in 1 2 3; do
          owner=$(redis-cli -p $cport stairkv keyshard strings | sed -n 2p)
          to=$((1 - owner))
          t0=$(date +%s%N); redis-cli -p $cport stairkv migrate "$shard" "$to" > /dev/null
          while [ "$(redis-cli -p $cport stairkv keyshard strings | sed -n 2p)" != "$to" ]; do sleep 0.005; done
          echo "migrate $r $i $(( ($(date +%s%N) - t0) / 1000000 ))ms" >> "$raw/migrations.txt"
          sleep 1
        done ) &
      mover=$!
    fi
    taskset -c 1 "$BENCH" --port $cport -c 50 -P 1 --rate 20000 --ratio 1:1 --keys 100000 --value-size 32 \
      --duration 8 --quiet --report-dir "$raw/lat-$m-r$r" > /dev/null
    [ -n "$mover" ] && wait "$mover"
    python3 -c "
import json; d=json.load(open('$raw/lat-$m-r$r/summary.json'))['commands']['TOTAL']
l = d['latency_ms']; print('$r $m', l['p50'], l['p99'], l['p99.9'], l['max'])" | tee -a "$raw/latency.txt"
  done
done
kill $pid; wait $pid 2>/dev/null || true
fi
python3 "$here/summary.py" "$raw" | tee "$raw/summary.txt"
