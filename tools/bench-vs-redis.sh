#!/usr/bin/env bash
# Side-by-side benchmark: stairkv and Debian's redis-server, both running at
# once and both pinned to CPU 0, with redis-benchmark pinned to CPU 1. Each
# workload runs ROUNDS times, alternating which server goes first, and the
# report takes the median of each: on a shared machine run-to-run noise is
# larger than the differences being measured, and interleaving makes both
# servers see the same noise.
# Writes bench/results/<date>-<host>/report.md (+ raw CSVs and per-run figures).
#
#   tools/bench-vs-redis.sh              # full: 3 rounds, -n 1,000,000 (P1) / 4,000,000 (P16)
#   QUICK=1 tools/bench-vs-redis.sh      # quick: 1 round, -n 200,000
#   ONLY_RSS=1 tools/bench-vs-redis.sh   # only the 1M-key RSS comparison
#
# CPU per request: utime+stime of the server process from /proc/<pid>/stat,
# read before and after each redis-benchmark run, divided by the requests sent.
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-1000000}
N16=${N16:-4000000}
ROUNDS=${ROUNDS:-3}
if [ "${QUICK:-0}" = 1 ]; then N1=200000; N16=200000; ROUNDS=1; fi
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

declare -A PID
start_server() { # name cores-mode
  local name=$1 mode=$2
  if [ "$name" = stairkv ]; then
    if [ "$mode" = 1 ]; then
      taskset -c "$SERVER_CPU" $STAIRKV --cores 1 --port "$PORT_S" --text-port 0 --log-level warn &
    else
      $STAIRKV --cores 2 --port "$PORT_S" --text-port 0 --log-level warn &
    fi
    PID[stairkv]=$!
    wait_port "$PORT_S"
  else
    if [ "$mode" = 1 ]; then
      taskset -c "$SERVER_CPU" redis-server --port "$PORT_R" --save "" --appendonly no --daemonize no --loglevel warning > /dev/null &
    else
      redis-server --port "$PORT_R" --save "" --appendonly no --daemonize no --loglevel warning --io-threads 2 > /dev/null &
    fi
    PID[redis]=$!
    wait_port "$PORT_R"
  fi
}

stop_server() { kill "${PID[$1]}" 2>/dev/null || true; wait "${PID[$1]}" 2>/dev/null || true; }
port_of() { if [ "$1" = stairkv ]; then echo "$PORT_S"; else echo "$PORT_R"; fi; }

# run_bench name mode pipeline test round -> appends to runs.tsv
run_bench() {
  local name=$1 mode=$2 p=$3 t=$4 round=$5 port n pin="" before after
  port=$(port_of "$name")
  n=$N1; [ "$p" != 1 ] && n=$N16
  [ "$mode" = 1 ] && pin="taskset -c $CLIENT_CPU"
  local csv="$OUT/raw/$name-cores$mode-P$p-$t-r$round.csv"
  before=$(cpu_ticks "${PID[$name]}")
  $pin redis-benchmark -p "$port" -t "$t" -n "$n" -r "$KEYSPACE" -d 32 -c 50 -P "$p" --csv > "$csv"
  after=$(cpu_ticks "${PID[$name]}")
  local line rps p50 p99 us
  line=$(tail -1 "$csv" | tr -d '"')
  rps=$(echo "$line" | cut -d, -f2); p50=$(echo "$line" | cut -d, -f5); p99=$(echo "$line" | cut -d, -f7)
  us=$(awk -v d=$((after - before)) -v clk="$CLK" -v n="$n" 'BEGIN {printf "%.2f", d * 1e6 / clk / n}')
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$name" "$mode" "$p" "$t" "$round" "$rps" "$p50/$p99" "$us" >> "$OUT/runs.tsv"
  echo "round $round $name cores=$mode P$p $t: $rps ops/s p50/p99 ${p50}/${p99} ms, server CPU ${us} us/req"
}

# RSS of a freshly started server after exactly 1,000,000 distinct keys with
# 32-byte values. Fresh, because after a benchmark and FLUSHALL an allocator
# may keep freed memory, which would hide the fill's real growth.
fill_rss() {
  local name=$1 port before after keys
  port=$(port_of "$name")
  start_server "$name" 1
  before=$(rss_kb "${PID[$name]}")
  python3 tools/gen-fill.py 1000000 32 | redis-cli -p "$port" --pipe > /dev/null
  sleep 1
  after=$(rss_kb "${PID[$name]}")
  keys=$(redis-cli -p "$port" dbsize)
  stop_server "$name"
  printf "%s\t%s\t%s\t%s\n" "$name" "$before" "$after" "$keys" >> "$OUT/rss.tsv"
  echo "$name RSS: before ${before} kB, after 1M keys ${after} kB (dbsize $keys)"
}

SERVERS=(stairkv); [ $HAVE_REDIS = 1 ] && SERVERS+=(redis)
if [ "${ONLY_RSS:-0}" != 1 ]; then
  : > "$OUT/runs.tsv"
  for mode in 1 2; do
    rounds=$ROUNDS; [ "$mode" = 2 ] && rounds=1
    for s in "${SERVERS[@]}"; do start_server "$s" "$mode"; done
    for round in $(seq "$rounds"); do
      order=("${SERVERS[@]}")
      [ $((round % 2)) = 0 ] && [ ${#order[@]} = 2 ] && order=("${order[1]}" "${order[0]}")
      for p in 1 16; do
        for t in set get; do
          for s in "${order[@]}"; do run_bench "$s" "$mode" "$p" "$t" "$round"; done
        done
      done
    done
    for s in "${SERVERS[@]}"; do stop_server "$s"; done
  done
fi
: > "$OUT/rss.tsv"
for s in "${SERVERS[@]}"; do fill_rss "$s"; done

python3 tools/bench-report.py "$OUT" "$N1" "$N16" "$KEYSPACE" "$ROUNDS" > "$OUT/report.md"
echo "report: $OUT/report.md"
