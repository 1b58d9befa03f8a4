#!/usr/bin/env bash
# make bench-tx: transactions and scripts (issue 18) against redis-server 7.0,
# with stairkv-bench --tx as the load (each "SET" is a whole transaction).
#
#   A. One core: stairkv --cores 1 and redis-server take turns (order reversed
#      every other round), each fresh and pinned to CPU 0, under
#      `stairkv-bench -c 50 -P 1 --ratio 1:0 --tx multi:5|eval:5` on CPU 1:
#      transactions/s, p99, and the server's user+system CPU per transaction.
#   B. Across cores: stairkv --cores 2 with the keys of every transaction on
#      core 0 (--hash-mod 2:0) and spread over both cores, beside redis-server
#      (one thread); nothing pinned (this machine has 2 CPUs: the client shares
#      them), so these figures say what a transaction across cores costs, not
#      a per-core ratio.
#   C. Plain GET/SET beside transactions: stairkv --cores 2, a main load
#      (-c 50 -P 1, 1:1 over MAIN_KEYS keys) alone, beside an open-loop side load of each of
#      SIDE_RATES cross-core MULTI/5-SET/EXEC transactions/s on other keys, and beside the
#      same 5 SETs sent as a plain pipeline at the same rate (--tx pipe:5: the
#      same work without transactions): main ops/s with each.
#
#   tools/bench-tx.sh                         # 5 rounds of A, 3 of B and C, 5 s per run
#   ROUNDS=3 DURATION=3 tools/bench-tx.sh
#   QUICK=1 tools/bench-tx.sh                 # 1 round, 1 s runs (a smoke test)
#   PARTS=C ROUNDS_BC=5 tools/bench-tx.sh     # only part C, 5 rounds
#
# Writes bench/results/<date>-<host>-tx/: report.md, runs.tsv, raw/ (summary.json per run).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
ROUNDS_BC=${ROUNDS_BC:-3}
DURATION=${DURATION:-5}
SIDE_RATES=${SIDE_RATES:-"1000 5000"}
MAIN_KEYS=${MAIN_KEYS:-1000000}
PARTS=${PARTS:-"A B C"}
if [ "${QUICK:-0}" = 1 ]; then ROUNDS=1; ROUNDS_BC=1; DURATION=1; fi
part() { [[ " $PARTS " == *" $1 "* ]]; }
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-tx"}
mkdir -p "$OUT/raw"
source tools/bench-lib.sh

# bench NAME [ARGS...]: one stairkv-bench run into raw/NAME/, prints "ops/s p99 p99.9".
bench() {
  local name=$1; shift
  "$BENCH" --port "$PORT" --quiet --duration "$DURATION" --report-dir "$OUT/raw/$name" "$@" > /dev/null
  python3 - "$OUT/raw/$name/summary.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
c = j["commands"]["TOTAL"]
l = c["latency_ms"]
if c["errors"]:
    sys.exit(f"{sys.argv[1]}: {c['errors']} errors: {j['samples'][:3]}")
print(f"{c['ops_per_sec']:.0f} {l['p99']} {l['p99.9']}")
EOF
}

# row PART SERVER ROUND WHAT ops p99 p999 [cpu_us]
row() { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$@" >> "$OUT/runs.tsv"; echo "$*"; }

: > "$OUT/runs.tsv"
CLK=$(getconf CLK_TCK)

# A: one core each, pinned.
part A && for r in $(seq "$ROUNDS"); do
  order=("${SERVERS[@]}")
  [ $((r % 2)) = 0 ] && order=($(printf "%s\n" "${SERVERS[@]}" | tac))
  for s in "${order[@]}"; do
    start_server "$s" 1
    for tx in multi:5 eval:5; do
      t0=$(cpu_ticks "$SPID")
      read -r ops p99 p999 < <(bench "A-$s-${tx%%:*}-r$r" --cpus "$CLIENT_CPU" -c 50 -P 1 --ratio 1:0 --tx "$tx")
      t1=$(cpu_ticks "$SPID")
      cpu_us=$(python3 -c "print(f'{($t1-$t0)/$CLK*1e6/($ops*$DURATION):.2f}')")
      row A "$s" "$r" "$tx" "$ops" "$p99" "$p999" "$cpu_us"
    done
    stop_server
  done
done

# B: across cores (stairkv --cores 2, unpinned) beside redis-server.
part B && for r in $(seq "$ROUNDS_BC"); do
  for s in "${SERVERS[@]}"; do
    if [ "$s" = stairkv ]; then start_server stairkv 2; else
      redis-server --port "$PORT" --save "" --appendonly no --daemonize no --loglevel warning >/dev/null &
      SPID=$!; wait_port
    fi
    for tx in multi:5 eval:5; do
      if [ "$s" = stairkv ]; then
        read -r ops p99 p999 < <(bench "B-$s-${tx%%:*}-core0-r$r" -c 50 -P 1 --ratio 1:0 --tx "$tx" --hash-mod 2:0 --key-prefix one:)
        row B "$s" "$r" "$tx one-core" "$ops" "$p99" "$p999" ""
        read -r ops p99 p999 < <(bench "B-$s-${tx%%:*}-spread-r$r" -c 50 -P 1 --ratio 1:0 --tx "$tx" --key-prefix spread:)
        row B "$s" "$r" "$tx spread" "$ops" "$p99" "$p999" ""
      else
        read -r ops p99 p999 < <(bench "B-$s-${tx%%:*}-r$r" -c 50 -P 1 --ratio 1:0 --tx "$tx" --key-prefix spread:)
        row B "$s" "$r" "$tx" "$ops" "$p99" "$p999" ""
      fi
    done
    stop_server
  done
done

# C: a plain load beside transactions on other keys (stairkv --cores 2).
side() {
  "$BENCH" --port "$PORT" --quiet --duration $((DURATION + 2)) --key-prefix side: -c 8 "$@" > /dev/null 2>&1 &
  SIDE=$!
  sleep 1
}
part C && for r in $(seq "$ROUNDS_BC"); do
  variants=(none)
  for rate in $SIDE_RATES; do variants+=("tx@$rate" "plain@$rate"); done
  for variant in "${variants[@]}"; do
    start_server stairkv 2
    "$BENCH" --port "$PORT" --quiet --key-prefix main: --keys "$MAIN_KEYS" --prefill -n 1 -c 8 -P 32 > /dev/null
    SIDE=
    case $variant in
      tx@*) side --rate "${variant#*@}" --ratio 1:0 --tx multi:5 ;;
      plain@*) side --rate "${variant#*@}" --ratio 1:0 --tx pipe:5 ;;
    esac
    read -r ops p99 p999 < <(bench "C-$variant-r$r" -c 50 -P 1 --ratio 1:1 --key-prefix main: --keys "$MAIN_KEYS")
    [ -n "$SIDE" ] && wait "$SIDE" || true
    row C stairkv "$r" "$variant" "$ops" "$p99" "$p999" ""
    stop_server
  done
done

python3 tools/bench-tx-report.py "$OUT" "$DURATION" "$SIDE_RATES" "$MAIN_KEYS"
echo "report: $OUT/report.md"
