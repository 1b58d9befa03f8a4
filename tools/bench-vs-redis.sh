#!/usr/bin/env bash
# Side-by-side benchmark: stairkv and Debian's redis-server, one after the other,
# each pinned to CPU 0, with redis-benchmark pinned to CPU 1, in the same run.
# Writes bench/results/<date>-<host>/report.md (+ raw CSV and per-run CPU figures).
#
#   tools/bench-vs-redis.sh            # full: -n 2,000,000 per test
#   QUICK=1 tools/bench-vs-redis.sh    # quick: -n 200,000 per test
#
# CPU per request: utime+stime of the server process from /proc/<pid>/stat,
# read before and after each redis-benchmark run, divided by the requests sent.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-2000000}
[ "${QUICK:-0}" = 1 ] && N=200000
KEYSPACE=${KEYSPACE:-1000000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT_S=${PORT_S:-16379}
PORT_R=${PORT_R:-16380}
STAIRKV=./target/release/stairkv
OUT="bench/results/$(date +%Y-%m-%d)-$(hostname)"
mkdir -p "$OUT/raw"
CLK=$(getconf CLK_TCK)

command -v redis-benchmark >/dev/null || { echo "redis-benchmark not installed (apt-get install redis-tools)"; exit 1; }
HAVE_REDIS=0; command -v redis-server >/dev/null && HAVE_REDIS=1

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }

start_server() { # name port cores-mode
  local name=$1 port=$2 mode=$3
  if [ "$name" = stairkv ]; then
    if [ "$mode" = 1 ]; then
      taskset -c "$SERVER_CPU" $STAIRKV --cores 1 --port "$port" --text-port 0 --log-level warn &
    else
      $STAIRKV --cores 2 --port "$port" --text-port 0 --log-level warn &
    fi
  else
    if [ "$mode" = 1 ]; then
      taskset -c "$SERVER_CPU" redis-server --port "$port" --save "" --appendonly no --daemonize no --loglevel warning &
    else
      redis-server --port "$port" --save "" --appendonly no --daemonize no --loglevel warning --io-threads 2 &
    fi
  fi
  SERVER_PID=$!
  wait_port "$port"
}

stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

# run_bench name port pipeline mode -> appends to results.tsv
run_bench() {
  local name=$1 port=$2 p=$3 mode=$4
  for t in set get; do
    local before after pin=""
    [ "$mode" = 1 ] && pin="taskset -c $CLIENT_CPU"
    before=$(cpu_ticks "$SERVER_PID")
    $pin redis-benchmark -p "$port" -t "$t" -n "$N" -r "$KEYSPACE" -d 32 -c 50 -P "$p" --csv \
      > "$OUT/raw/$name-cores$mode-P$p-$t.csv"
    after=$(cpu_ticks "$SERVER_PID")
    local line rps p50 p99
    line=$(tail -1 "$OUT/raw/$name-cores$mode-P$p-$t.csv" | tr -d '"')
    rps=$(echo "$line" | cut -d, -f2); p50=$(echo "$line" | cut -d, -f5); p99=$(echo "$line" | cut -d, -f7)
    local us
    us=$(awk -v d=$((after - before)) -v clk="$CLK" -v n="$N" 'BEGIN {printf "%.2f", d * 1e6 / clk / n}')
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$name" "$mode" "$p" "$t" "$rps" "$p50/$p99" "$us" >> "$OUT/results.tsv"
    echo "$name cores=$mode P$p $t: $rps ops/s p50/p99 ${p50}/${p99} ms, server CPU ${us} us/req"
  done
}

# RSS after exactly 1,000,000 distinct keys with 32-byte values.
fill_rss() {
  local name=$1 port=$2
  local before after
  before=$(rss_kb "$SERVER_PID")
  python3 tools/gen-fill.py 1000000 32 | redis-cli -p "$port" --pipe > /dev/null
  sleep 1
  after=$(rss_kb "$SERVER_PID")
  local keys; keys=$(redis-cli -p "$port" dbsize)
  printf "%s\t%s\t%s\t%s\n" "$name" "$before" "$after" "$keys" >> "$OUT/rss.tsv"
  echo "$name RSS: before ${before} kB, after 1M keys ${after} kB (dbsize $keys)"
}

: > "$OUT/results.tsv"; : > "$OUT/rss.tsv"
SERVERS=(stairkv); [ $HAVE_REDIS = 1 ] && SERVERS+=(redis)
for mode in 1 2; do
  for s in "${SERVERS[@]}"; do
    port=$PORT_S; [ "$s" = redis ] && port=$PORT_R
    start_server "$s" "$port" "$mode"
    for p in 1 16; do run_bench "$s" "$port" "$p" "$mode"; done
    [ "$mode" = 1 ] && { redis-cli -p "$port" flushall > /dev/null; fill_rss "$s" "$port"; }
    stop_server
  done
done

python3 tools/bench-report.py "$OUT" "$N" "$KEYSPACE" > "$OUT/report.md"
echo "report: $OUT/report.md"
