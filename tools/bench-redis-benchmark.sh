#!/usr/bin/env bash
# make bench-redis-benchmark: the server issue's own measurement, with Debian's
# redis-benchmark as the load. stairkv (--cores 1) and redis-server
# (persistence off) take turns, each freshly started and pinned to CPU 0,
# under `redis-benchmark -t set|get -n N -r 1000000 -d 32 -c 50 -P 1|16`
# pinned to CPU 1. Every run records the server's user and system CPU from
# /proc/<pid>/stat before and after, divided by the requests: at pipeline 1
# one client CPU limits throughput here, so CPU per request is the per-core
# figure that counts. Then the same once with stairkv --cores 2 and
# redis-server --io-threads 2, unpinned (both CPUs shared with the client),
# and RSS after 1,000,000 keys with 32-byte values.
#
#   tools/bench-redis-benchmark.sh            # 5 rounds, -n 2,000,000 at P1 and 4,000,000 at P16
#   ROUNDS=3 N1=1000000 tools/bench-redis-benchmark.sh
#   QUICK=1 tools/bench-redis-benchmark.sh    # 1 round, -n 200,000 (a smoke test)
#   BEFORE=/path/to/old/stairkv tools/bench-redis-benchmark.sh
#       # an A/B of two builds: the old binary runs as server "before" in every
#       # pinned round too (order reversed every other round), and the report
#       # adds after/before ratios per round and their medians
#
# Writes bench/results/<date>-<host>-redis-benchmark/: report.md, runs.tsv,
# rss.tsv, and raw/ (redis-benchmark's CSV per run; not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
N1=${N1:-2000000}
N16=${N16:-4000000}
if [ "${QUICK:-0}" = 1 ]; then ROUNDS=1; N1=200000; N16=200000; fi
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-redis-benchmark"}
mkdir -p "$OUT/raw"
source tools/bench-lib.sh
if [ -n "${BEFORE:-}" ]; then
  [ -x "$BEFORE" ] || { echo "BEFORE=$BEFORE is not an executable"; exit 1; }
  SERVERS=(before "${SERVERS[@]}")
fi
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not installed (apt-get install redis-tools)"; exit 1; }
CLK=$(getconf CLK_TCK)
user_sys() { awk '{print $14, $15}' "/proc/$1/stat"; }

# run cores server round pipeline test: appends one line to runs.tsv
run() {
  local cores=$1 s=$2 r=$3 p=$4 t=$5 n pin="" csv u0 s0 u1 s1 line
  n=$N1; [ "$p" != 1 ] && n=$N16
  [ "$cores" = 1 ] && pin="taskset -c $CLIENT_CPU"
  csv="$OUT/raw/$s-cores$cores-P$p-$t-r$r.csv"
  read -r u0 s0 < <(user_sys "$SPID")
  $pin redis-benchmark -p "$PORT" -t "$t" -n "$n" -r 1000000 -d 32 -c 50 -P "$p" --csv > "$csv"
  read -r u1 s1 < <(user_sys "$SPID")
  line=$(tail -1 "$csv" | tr -d '"')
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$cores" "$s" "$r" "$p" "$t" "$n" \
    "$(echo "$line" | cut -d, -f2)" "$(echo "$line" | cut -d, -f5)/$(echo "$line" | cut -d, -f7)" \
    $((u1 - u0)) $((s1 - s0)) >> "$OUT/runs.tsv"
  echo "cores=$cores round $r $s P$p $t: $(echo "$line" | cut -d, -f2) ops/s"
}

: > "$OUT/runs.tsv"
for r in $(seq "$ROUNDS"); do
  order=("${SERVERS[@]}")
  if [ $((r % 2)) = 0 ]; then
    order=(); for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[i]}"); done
  fi
  for p in 1 16; do
    for s in "${order[@]}"; do
      start_server "$s" 1
      for t in set get; do run 1 "$s" "$r" "$p" "$t"; done
      stop_server
    done
  done
done

# Both CPUs shared by server and client: indicative only.
for s in "${SERVERS[@]}"; do
  [ "$s" = before ] && continue
  if [ "$s" = stairkv ]; then
    start_server stairkv 2
  else
    redis-server --port "$PORT" --save "" --appendonly no --daemonize no --loglevel warning --io-threads 2 >/dev/null &
    SPID=$!
    wait_port
  fi
  for p in 1 16; do
    for t in set get; do run 2 "$s" 1 "$p" "$t"; done
  done
  stop_server
done

# RSS of a fresh server before and after exactly 1,000,000 distinct keys
# (key:%012d, as redis-benchmark -r names them) with 32-byte values.
: > "$OUT/rss.tsv"
for s in "${SERVERS[@]}"; do
  start_server "$s" 1
  before=$(rss_kb "$SPID")
  taskset -c "$CLIENT_CPU" $BENCH --port "$PORT" -c 50 -P 16 --ratio 1:0 --distribution sequential \
    --keys 1000000 -n 1000000 --value-size 32 --quiet >/dev/null
  sleep 1
  after=$(rss_kb "$SPID")
  keys=$(redis-cli -p "$PORT" dbsize)
  stop_server
  printf "%s\t%s\t%s\t%s\n" "$s" "$before" "$after" "$keys" >> "$OUT/rss.tsv"
  echo "$s RSS: ${before} kB -> ${after} kB after $keys keys"
done

python3 tools/bench-redis-benchmark-report.py "$OUT" "$ROUNDS" "$CLK" "$N1" "$N16" > "$OUT/report.md"
echo "report: $OUT/report.md"
