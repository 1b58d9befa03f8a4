#!/usr/bin/env bash
# make bench-cache: stairkv as a cache. The GET miss ratio of each eviction
# policy with maxmemory at 10% of the working set, against redis-server's
# allkeys-lru and allkeys-lfu on the same key sequence, and what the limit
# costs in throughput.
#
#   workloads  zipf99  Zipf 0.99 over KEYS keys
#              zipf08  Zipf 0.8 over KEYS keys
#              scan    Zipf 0.99, and after every 10,000 requests a scan of
#                      2,000 keys never used before or after (one-hit wonders;
#                      stairkv-bench --scan 10000:2000)
#   servers    redis-server allkeys-lru and allkeys-lfu (maxmemory-samples 5,
#              the default); stairkv --cores 1 with allkeys-lru, allkeys-lfu,
#              allkeys-random and allkeys-s3fifo (the default policy).
#              noeviction is not a cache and volatile-* evict nothing without
#              TTLs, so they are left out.
#
# The limit: for each server and policy, used_memory (INFO memory) of a fresh
# server (u0) and after writing every key of the working set once (u1,
# stairkv-bench --ratio 1:0 --distribution sequential); maxmemory is then
# u0 + 10% of (u1 - u0), so each server holds about a tenth of the keys in its
# own encoding. Each run is a fresh server pinned to CPU 0 with CONFIG SET
# maxmemory-policy / maxmemory, and stairkv-bench pinned to CPU 1 in cache-aside
# mode (a GET that misses is followed by a SET of that key), all GETs
# (--ratio 0:1), one connection pipelining PIPELINE requests, so the server sees
# the seeded key sequence itself:
#   1. warm: WARM GETs of the workload without scans, --seed 2 (fills the cache);
#   2. measured: N GETs of the workload, --seed 1; the miss ratio, DBSIZE,
#      evicted_keys, used_memory and the server's CPU time are read around it.
# Throughput, stairkv allkeys-s3fifo and redis-server allkeys-lru: the zipf99
# cache-aside run again with maxmemory 0 (no limit), and a plain SET:GET 1:1
# Zipf 0.99 mix (closed loop, TPUT_CONNS x TPUT_PIPELINE, 2 s of warm-up then
# TPUT_DUR s) with and without the limit, TPUT_ROUNDS rounds in alternating order.
#
#   tools/bench-cache.sh                  # 1,000,000 keys, 3,000,000 GETs per run; ~15 min on 2 CPUs
#   QUICK=1 tools/bench-cache.sh          # 100,000 keys, 300,000 GETs; writes *-cache-quick/
#   WORKLOADS="scan" SERVERS_ONLY=redis tools/bench-cache.sh
#
# Knobs: KEYS, N (measured GETs), WARM (warm-up GETs), VALUE_SIZE (bytes,
# 32), MISS_TARGET (the report's bar, 0.9), POLICIES_stairkv and
# POLICIES_redis (space-separated), PIPELINE, SCAN
# (EVERY:LEN), TPUT_DUR, TPUT_ROUNDS, TPUT_CONNS, TPUT_PIPELINE, WORKLOADS,
# SERVERS_ONLY (stairkv or redis), OUT, and bench-lib.sh's PORT, SERVER_CPU,
# CLIENT_CPU. Writes bench/results/<date>-<host>-cache/: report.md, cache.tsv
# and memory.tsv (every figure the report uses), runs/ (each stairkv-bench
# report directory), and raw/ (logs; not committed). A server or policy that
# cannot run (a stairkv without maxmemory or that policy yet) is reported as
# not run and the script exits 1 after writing the report.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
KEYS=${KEYS:-1000000}; N=${N:-3000000}; WARM=${WARM:-1000000}
PIPELINE=${PIPELINE:-128}; SCAN=${SCAN:-10000:2000}; VALUE_SIZE=${VALUE_SIZE:-32}
TPUT_DUR=${TPUT_DUR:-10}; TPUT_ROUNDS=${TPUT_ROUNDS:-2}; TPUT_CONNS=${TPUT_CONNS:-8}; TPUT_PIPELINE=${TPUT_PIPELINE:-16}
WORKLOADS=${WORKLOADS:-"zipf99 zipf08 scan"}
SUFFIX=cache
if [ "$QUICK" = 1 ]; then
  KEYS=100000; N=300000; WARM=100000; TPUT_DUR=3; TPUT_ROUNDS=1
  # A quick run is a smoke test: keep it out of the real report's directory.
  SUFFIX=cache-quick
fi
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-$SUFFIX"}
rm -rf "$OUT/raw" "$OUT/runs"
mkdir -p "$OUT/raw" "$OUT/runs"
source tools/bench-lib.sh
if [ -n "${SERVERS_ONLY:-}" ]; then SERVERS=("$SERVERS_ONLY"); fi
POLICIES_redis=${POLICIES_redis:-"allkeys-lru allkeys-lfu"}
POLICIES_stairkv=${POLICIES_stairkv:-"allkeys-lru allkeys-lfu allkeys-random allkeys-s3fifo"}
DEFAULT_POLICY=allkeys-s3fifo
pin_client="taskset -c $CLIENT_CPU"

cli() { timeout 60 redis-cli -p "$PORT" "$@" 2>&1 | tr -d '\r'; }
# info SECTION FIELD: one field of INFO (empty if the server has none).
info() { cli INFO "$1" | awk -F: -v k="$2" '$1 == k {print $2}'; }
# note LINE: add LINE (once) to the report's list of exact commands.
note() { grep -qxF -- "$1" "$OUT/raw/commands.txt" 2>/dev/null || echo "$1" >> "$OUT/raw/commands.txt"; }

dist_of() { case $1 in zipf99|scan) echo zipf:0.99 ;; zipf08) echo zipf:0.8 ;; esac; }
scan_of() { case $1 in scan) echo "--scan $SCAN" ;; *) echo "" ;; esac; }

FAILED=0
# not_run ID REASON: the report shows REASON for this run.
not_run() { echo "$1: NOT RUN: $2" >&2; echo "$2" > "$OUT/raw/$1.not-run"; FAILED=1; }

# stairkv gets the limit on its command line when it has the flags, and
# CONFIG SET as well (redis-server only CONFIG SET): either way is enough, and
# INFO memory must show it took.
STAIRKV_FLAGS=0
if $STAIRKV --help 2>/dev/null | grep -q -- '--maxmemory-policy'; then STAIRKV_FLAGS=1; fi
# start SERVER MAXMEMORY POLICY: a fresh server (bench-lib.sh), its command line noted.
start() {
  local extra=()
  if [ "$1" = stairkv ]; then
    if [ $STAIRKV_FLAGS = 1 ]; then extra=(--maxmemory "$2" --maxmemory-policy "$3"); fi
    note "taskset -c $SERVER_CPU $STAIRKV --cores 1 --port $PORT --text-port 0 --http-port 0 --log-level warn${extra[*]:+ ${extra[*]}}"
  else
    note "taskset -c $SERVER_CPU redis-server --port $PORT --save \"\" --appendonly no"
  fi
  start_server "$1" 1 "${extra[@]}"
}
# configure MAXMEMORY POLICY: CONFIG SET both, then check that INFO memory
# shows them. On failure prints why on stdout and returns 1.
configure() {
  local r1 r2 mp m
  note "redis-cli -p $PORT CONFIG SET maxmemory-policy POLICY; redis-cli -p $PORT CONFIG SET maxmemory BYTES"
  r1=$(cli CONFIG SET maxmemory-policy "$2")
  r2=$(cli CONFIG SET maxmemory "$1")
  mp=$(info memory maxmemory_policy); m=$(info memory maxmemory)
  if [ "$mp" != "$2" ] || [ "$m" != "$1" ]; then
    echo "wanted maxmemory $1 and maxmemory-policy $2; INFO memory says maxmemory:${m:-(none)}, maxmemory_policy:${mp:-(none)}; CONFIG SET maxmemory-policy answered: $r1; CONFIG SET maxmemory answered: $r2"
    return 1
  fi
}
# bench ARGS...: stairkv-bench pinned to the client CPU, its command line noted
# with the run-specific parts (--label, --report-dir) left out.
bench() {
  local shown=() skip=0 a
  for a in "$@"; do
    if [ $skip = 1 ]; then skip=0; continue; fi
    case $a in --label|--report-dir) skip=1; continue ;; esac
    shown+=("$a")
  done
  note "$pin_client $BENCH --port $PORT ${shown[*]}"
  $pin_client $BENCH --port "$PORT" --cpus "$CLIENT_CPU" "$@"
}
ca_args() { # the cache-aside flags shared by the warm and measured passes
  echo "-c 1 -P $PIPELINE --keys $KEYS --value-size $VALUE_SIZE --ratio 0:1 --cache-aside --quiet"
}

# --- the limit: u0, u1 per server and policy ------------------------------------
# memory.tsv: server policy u0 u1 used_after_flushall maxmemory
echo -e "server\tpolicy\tu0\tu1\tafter_flushall\tmaxmemory" > "$OUT/memory.tsv"
measure_memory() { # server policy
  local s=$1 p=$2 why u0 u1 u2 mm
  if ! start "$s" 0 "$p"; then stop_server; not_run "mem-$s-$p" "$s did not start (with maxmemory 0, policy $p)"; return 1; fi
  if ! why=$(configure 0 "$p"); then stop_server; not_run "mem-$s-$p" "$why"; return 1; fi
  u0=$(info memory used_memory)
  bench -c 4 -P 64 --keys "$KEYS" --value-size "$VALUE_SIZE" --ratio 1:0 --distribution sequential -n "$KEYS" --quiet \
    > "$OUT/raw/fill-$s-$p.txt" 2>&1 || true
  u1=$(info memory used_memory)
  local dbsize; dbsize=$(cli DBSIZE)
  cli FLUSHALL >/dev/null
  u2=$(info memory used_memory)
  stop_server
  if [ "$dbsize" != "$KEYS" ] || [ -z "$u0" ] || [ -z "$u1" ] || [ "$u1" -le "$u0" ]; then
    not_run "mem-$s-$p" "the fill did not work: DBSIZE $dbsize after writing $KEYS keys, used_memory $u0 -> $u1 (raw/fill-$s-$p.txt)"
    return 1
  fi
  mm=$(( u0 + (u1 - u0) / 10 ))
  echo -e "$s\t$p\t$u0\t$u1\t$u2\t$mm" >> "$OUT/memory.tsv"
  echo "$s $p: used_memory empty $u0, with $KEYS keys $u1 -> maxmemory $mm"
}
maxmemory_of() { awk -F'\t' -v s="$1" -v p="$2" '$1 == s && $2 == p {print $6}' "$OUT/memory.tsv"; }

# --- cache-aside runs -------------------------------------------------------------
# cache.tsv: one row per measured pass.
echo -e "kind\tworkload\tserver\tpolicy\tmaxmemory\tused_memory\tdbsize\tevicted_keys\tserver_cpu_ms\trun" > "$OUT/cache.tsv"
CLK=$(getconf CLK_TCK)
# cache_run KIND WORKLOAD SERVER POLICY MAXMEMORY: warm then measured pass on a fresh server.
cache_run() {
  local kind=$1 w=$2 s=$3 p=$4 mm=$5 id why e0 e1 t0 t1
  id="$kind-$w-$s-$p"
  if ! start "$s" "$mm" "$p"; then stop_server; not_run "$id" "$s did not start (with maxmemory $mm, policy $p)"; return; fi
  if ! why=$(configure "$mm" "$p"); then stop_server; not_run "$id" "$why"; return; fi
  # shellcheck disable=SC2046
  bench $(ca_args) --distribution "$(dist_of "$w")" --seed 2 -n "$WARM" --label "$s $p warm" \
    --report-dir "$OUT/runs/$id-warm" > "$OUT/raw/$id-warm.txt" 2>&1 || true
  e0=$(info stats evicted_keys); t0=$(cpu_ticks "$SPID" 2>/dev/null || echo 0)
  # shellcheck disable=SC2046
  bench $(ca_args) --distribution "$(dist_of "$w")" $(scan_of "$w") --seed 1 -n "$N" --label "$s $p" \
    --report-dir "$OUT/runs/$id" > "$OUT/raw/$id.txt" 2>&1 || true
  t1=$(cpu_ticks "$SPID" 2>/dev/null || echo 0); e1=$(info stats evicted_keys)
  echo -e "$kind\t$w\t$s\t$p\t$mm\t$(info memory used_memory)\t$(cli DBSIZE)\t$(( ${e1:-0} - ${e0:-0} ))\t$(( (t1 - t0) * 1000 / CLK ))\t$id" >> "$OUT/cache.tsv"
  stop_server
  echo "$kind $w $s $p: $(grep -h 'miss ratio' "$OUT/raw/$id.txt" | head -1 || echo "failed (raw/$id.txt)")"
}

# --- throughput: the plain 1:1 mix ------------------------------------------------
mix_run() { # server policy maxmemory label round
  local s=$1 p=$2 mm=$3 l=$4 r=$5 id why e0 e1 t0 t1
  id="mix-$s-$l-r$r"
  if ! start "$s" "$mm" "$p"; then stop_server; not_run "$id" "$s did not start (with maxmemory $mm, policy $p)"; return; fi
  if ! why=$(configure "$mm" "$p"); then stop_server; not_run "$id" "$why"; return; fi
  local mix_args=(-c "$TPUT_CONNS" -P "$TPUT_PIPELINE" --keys "$KEYS" --value-size "$VALUE_SIZE" --ratio 1:1 --distribution zipf:0.99 --quiet)
  # Warm-up: its own run, so the server CPU and evictions below are the measured run's alone.
  bench "${mix_args[@]}" --seed 2 --duration 2 > "$OUT/raw/$id-warm.txt" 2>&1 || true
  e0=$(info stats evicted_keys); t0=$(cpu_ticks "$SPID" 2>/dev/null || echo 0)
  bench "${mix_args[@]}" --duration "$TPUT_DUR" --label "$s $p $l" --report-dir "$OUT/runs/$id" > "$OUT/raw/$id.txt" 2>&1 || true
  t1=$(cpu_ticks "$SPID" 2>/dev/null || echo 0); e1=$(info stats evicted_keys)
  echo -e "mix\t$l\t$s\t$p\t$mm\t$(info memory used_memory)\t$(cli DBSIZE)\t$(( ${e1:-0} - ${e0:-0} ))\t$(( (t1 - t0) * 1000 / CLK ))\t$id" >> "$OUT/cache.tsv"
  stop_server
  echo "mix $s $p $l round $r: $(grep -h '^TOTAL' "$OUT/raw/$id.txt" || echo "failed (raw/$id.txt)")"
}

for s in "${SERVERS[@]}"; do
  pols=POLICIES_$s
  for p in ${!pols}; do
    measure_memory "$s" "$p" || continue
    mm=$(maxmemory_of "$s" "$p")
    for w in $WORKLOADS; do
      cache_run miss "$w" "$s" "$p" "$mm"
    done
    if { [ "$s" = stairkv ] && [ "$p" = "$DEFAULT_POLICY" ]; } || { [ "$s" = redis ] && [ "$p" = allkeys-lru ]; }; then
      case " $WORKLOADS " in *" zipf99 "*) cache_run nolimit zipf99 "$s" "$p" 0 ;; esac
      for r in $(seq "$TPUT_ROUNDS"); do
        order=("limit $mm" "nolimit 0")
        [ $((r % 2)) = 0 ] && order=("nolimit 0" "limit $mm")
        for o in "${order[@]}"; do
          set -- $o
          mix_run "$s" "$p" "$2" "$1" "$r"
        done
      done
    fi
  done
done

KEYS=$KEYS N=$N WARM=$WARM VALUE_SIZE=$VALUE_SIZE MISS_TARGET=${MISS_TARGET:-0.9} PIPELINE=$PIPELINE SCAN=$SCAN TPUT_DUR=$TPUT_DUR TPUT_ROUNDS=$TPUT_ROUNDS \
  TPUT_CONNS=$TPUT_CONNS TPUT_PIPELINE=$TPUT_PIPELINE DEFAULT_POLICY=$DEFAULT_POLICY SERVERS="${SERVERS[*]}" \
  python3 tools/bench-cache-report.py "$OUT" > "$OUT/report.md"
echo "report: $OUT/report.md"
exit "$FAILED"
