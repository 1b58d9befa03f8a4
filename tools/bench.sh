#!/usr/bin/env bash
# make bench: stairkv and (when installed) Debian's redis-server, one after the
# other, each freshly started and pinned to CPU 0 (stairkv --cores 1, redis
# with persistence off), under the same stairkv-bench workloads pinned to
# CPU 1. Every workload runs ROUNDS times with the servers taking turns (the
# order alternates by round); the report takes the median of the rounds,
# because on a shared machine run-to-run noise is larger than the differences
# being measured.
#
#   tools/bench.sh                 # full: 3 rounds, 10 s per run, 1,000,000 keys
#   QUICK=1 tools/bench.sh         # quick: 1 round, 3 s per run, 100,000 keys
#   WORKLOADS="a b" tools/bench.sh # only some workloads
#   WORKLOADS="a o" ROUNDS=5 SETTLE=5 EXTRAS=0 tools/bench.sh
#       # pipeline 1 closed loop, then open loop at 70% of redis-server's
#       # closed-loop rate (or RATE=ops/s), each after a 5 s pause past the
#       # prefill; EXTRAS=0 skips the memory and generator sections
#
# Writes bench/results/<date>-<host>/: report.md, one SVG per workload, and
# raw/ (each run's stairkv-bench report directory; not committed).
# Server CPU per request: utime+stime of the server from /proc/<pid>/stat
# around the measured run, divided by the requests it answered.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10}
KEYS=${KEYS:-1000000}
if [ "$QUICK" = 1 ]; then ROUNDS=1; DUR=3; KEYS=100000; fi
WORKLOADS=${WORKLOADS:-"a b c d"}
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)"}
mkdir -p "$OUT/raw"
source tools/bench-lib.sh
CLK=$(getconf CLK_TCK)
pin_client="taskset -c $CLIENT_CPU"

# Workload (o)'s offered load: $RATE, else 70% of redis-server's median
# closed-loop ops/s in workload (a) of this run (so list a before o).
open_rate() {
  if [ -n "${RATE:-}" ]; then echo "$RATE"; return; fi
  python3 - "$OUT/raw" <<'PY'
import glob, json, os, statistics, sys
ops = [json.load(open(f))["commands"]["TOTAL"]["ops_per_sec"] for f in glob.glob(os.path.join(sys.argv[1], "a-redis-r*", "summary.json"))]
if not ops:
    sys.exit("workload o needs RATE=<ops/s> or workload a with redis-server before it")
print(int(0.7 * statistics.median(ops)))
PY
}

# The workloads of issue 3 (and o, issue 17's open loop): name, whether to
# prefill, stairkv-bench flags.
workload_args() {
  case $1 in
    a) echo "-c 50 -P 1 --ratio 1:1 --distribution uniform --keys $KEYS --value-size 32 --duration $DUR" ;;
    b) echo "-c 50 -P 16 --ratio 1:1 --distribution uniform --keys $KEYS --value-size 32 --duration $DUR" ;;
    c) echo "-c 50 -P 1 --ratio 1:10 --distribution zipf:0.99 --keys $KEYS --value-size 32 --duration $DUR" ;;
    # The seed's headline: 100 clients, a million unique keys, each written once and read back.
    d) echo "-c 100 -P 1 --ratio 1:1 --distribution sequential --keys $KEYS --value-size 32 -n $((KEYS * 2))" ;;
    # As (a), open loop: requests at fixed intended times whatever the server
    # does, latency from each intended time (no coordinated omission).
    o) echo "$(workload_args a) --rate $(open_rate)" ;;
  esac
}
workload_prefill() { case $1 in d) echo 0 ;; *) echo 1 ;; esac; }

run_one() { # workload server round
  local w=$1 s=$2 r=$3 dir before after
  dir="$OUT/raw/$w-$s-r$r"
  rm -rf "$dir"
  start_server "$s"
  if [ "$(workload_prefill "$w")" = 1 ]; then
    $pin_client $BENCH --port "$PORT" --keys "$KEYS" --value-size 32 -c 50 -P 64 --prefill -n 1 --quiet >/dev/null
    # Give every server the same pause after its bulk load (stairkv splits
    # its shards meanwhile): SETTLE=5 measures the steady state.
    sleep "${SETTLE:-0}"
  fi
  before=$(cpu_ticks "$SPID")
  # shellcheck disable=SC2046
  $pin_client $BENCH --port "$PORT" $(workload_args "$w") --quiet --label "$s" --report-dir "$dir" > "$OUT/raw/$w-$s-r$r.txt" || true
  after=$(cpu_ticks "$SPID")
  echo $((after - before)) > "$dir/server_cpu_ticks"
  rss_kb "$SPID" > "$dir/server_rss_kb"
  stop_server
  echo "workload $w round $r $s: $(grep '^TOTAL' "$OUT/raw/$w-$s-r$r.txt" || echo failed)"
}

for r in $(seq "$ROUNDS"); do
  order=("${SERVERS[@]}")
  [ $((r % 2)) = 0 ] && [ ${#order[@]} = 2 ] && order=("${order[1]}" "${order[0]}")
  for w in $WORKLOADS; do
    for s in "${order[@]}"; do run_one "$w" "$s" "$r"; done
  done
done

if [ "${EXTRAS:-1}" = 1 ]; then
# Memory: RSS of a fresh server before and after exactly $KEYS distinct keys
# (16-byte keys key:%012d, 32-byte values), written by stairkv-bench.
: > "$OUT/raw/rss.tsv"
for s in "${SERVERS[@]}"; do
  start_server "$s"
  before=$(rss_kb "$SPID")
  $pin_client $BENCH --port "$PORT" -c 50 -P 16 --ratio 1:0 --distribution sequential --keys "$KEYS" -n "$KEYS" --quiet >/dev/null
  sleep 1
  after=$(rss_kb "$SPID")
  keys=$(python3 -c "
import socket; s=socket.create_connection(('127.0.0.1',$PORT)); s.sendall(b'DBSIZE\r\n'); print(s.recv(64).decode().strip(':\r\n'))")
  stop_server
  printf "%s\t%s\t%s\t%s\n" "$s" "$before" "$after" "$keys" >> "$OUT/raw/rss.tsv"
  echo "$s RSS: ${before} kB -> ${after} kB after $keys keys"
done

# Is the generator the bottleneck? redis-benchmark and stairkv-bench, same key
# space and value size, against the same redis-server on CPU 0, from CPU 1.
if command -v redis-benchmark >/dev/null && [ ${#SERVERS[@]} = 2 ]; then
  : > "$OUT/raw/generator.tsv"
  start_server redis
  # Fill the key space once so GETs of both tools hit alike.
  $pin_client $BENCH --port "$PORT" --keys "$KEYS" -c 50 -P 64 --prefill -n 1 --quiet >/dev/null
  for r in $(seq "$ROUNDS"); do
    for p in 1 16; do
      n=$((p == 1 ? 500000 : 2000000)); [ "$QUICK" = 1 ] && n=$((n / 5))
      for t in set get; do
        ratio=1:0; [ $t = get ] && ratio=0:1
        tools=(redis-benchmark stairkv-bench); [ $((r % 2)) = 0 ] && tools=(stairkv-bench redis-benchmark)
        for tool in "${tools[@]}"; do
          if [ "$tool" = redis-benchmark ]; then
            csv="$OUT/raw/gen-redis-benchmark-P$p-$t-r$r.csv"
            $pin_client redis-benchmark -p "$PORT" -t $t -n $n -r "$KEYS" -d 32 -c 50 -P $p --csv > "$csv"
            printf "redis-benchmark\t%s\t%s\t%s\t%s\n" "$p" "$t" "$r" "$csv" >> "$OUT/raw/generator.tsv"
          else
            dir="$OUT/raw/gen-stairkv-bench-P$p-$t-r$r"
            rm -rf "$dir"
            $pin_client $BENCH --port "$PORT" -c 50 -P $p --ratio $ratio --keys "$KEYS" --value-size 32 -n $n --quiet --report-dir "$dir" >/dev/null || true
            printf "stairkv-bench\t%s\t%s\t%s\t%s\n" "$p" "$t" "$r" "$dir" >> "$OUT/raw/generator.tsv"
          fi
        done
        echo "generator round $r P$p $t: done"
      done
    done
  done
  stop_server
fi
fi

python3 tools/bench-report.py "$OUT" "$ROUNDS" "$CLK" "$BENCH" "$WORKLOADS" > "$OUT/report.md"
echo "report: $OUT/report.md"
