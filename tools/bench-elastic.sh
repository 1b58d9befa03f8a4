#!/usr/bin/env bash
# make bench-elastic: what the elastic staircase costs and buys, in three
# scenarios (bench/README.md says how to read them):
#
#   migrate  stairkv --cores 2 with exactly two shards, one per core, 2,000,000
#            keys; open-loop load at 70% of the closed-loop maximum, verified,
#            once steady and once while a loop moves shards between the cores
#            (STAIRKV MIGRATE) for the whole run.
#   skew     stairkv --cores 2 with autoscale on; every key on core 0's shards
#            (stairkv-bench --hash-mod 2:0); INFO staircase polled every 250 ms
#            for per-core ops/s: how long until the cores share the load.
#   growth   0 -> 10,000,000 keys at full speed, stairkv --cores 1 and
#            redis-server (persistence off) each pinned to CPU 0, the load on
#            CPU 1: the worst single-request latency while the tables grow.
#
#   tools/bench-elastic.sh                      # everything, full size
#   SCENARIOS="growth" tools/bench-elastic.sh   # some scenarios
#   QUICK=1 tools/bench-elastic.sh              # a tenth of the keys, short runs; writes *-elastic-quick/
#
# Writes bench/results/<date>-<host>-elastic/: report.md, SVGs, runs/ (each
# run's stairkv-bench report: summary.json, .hgrm, latency.svg), the per-core
# poll of the skew run, and raw/ (logs; not committed). A scenario the server
# cannot run yet (no --autoscale, no STAIRKV MIGRATE) is reported as not run
# and the script exits 1 after writing the report.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
SCENARIOS=${SCENARIOS:-"migrate skew growth"}
# migrate: keys, seconds per measured run, seconds of the closed-loop maximum run, load shape.
MIG_KEYS=${MIG_KEYS:-2000000}; MIG_DUR=${MIG_DUR:-60}; MAX_DUR=${MAX_DUR:-10}
MIG_THREADS=${MIG_THREADS:-2}; MIG_CONNS=${MIG_CONNS:-8}; MIG_PIPELINE=${MIG_PIPELINE:-1}; MIG_WINDOW=${MIG_WINDOW:-16}
RATE_PCT=${RATE_PCT:-70}
# skew: keys (all on core 0's shards) and seconds of load.
SKEW_KEYS=${SKEW_KEYS:-1000000}; SKEW_DUR=${SKEW_DUR:-40}
# growth: keys written, load shape, rounds (servers alternate by round).
GROW_KEYS=${GROW_KEYS:-10000000}; GROW_CONNS=${GROW_CONNS:-50}; GROW_PIPELINE=${GROW_PIPELINE:-16}; GROW_ROUNDS=${GROW_ROUNDS:-2}
SUFFIX=elastic
if [ "$QUICK" = 1 ]; then
  MIG_KEYS=200000; MIG_DUR=10; MAX_DUR=3; SKEW_KEYS=100000; SKEW_DUR=10; GROW_KEYS=1000000; GROW_ROUNDS=1
  # A quick run is a smoke test: keep it out of the real report's directory.
  SUFFIX=elastic-quick
fi
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-$SUFFIX"}
mkdir -p "$OUT/raw" "$OUT/runs"
source tools/bench-lib.sh

cli() { timeout 300 redis-cli -p "$PORT" "$@" 2>&1 | tr -d '\r'; }
# staircase_field NAME: a field of INFO staircase (empty if the server has none).
staircase_field() { cli INFO staircase | awk -F: -v k="$1" '$1 == k {print $2}'; }
now() { date +%s.%N; }

# note SCENARIO LINE: add LINE (once) to the scenario's list of exact commands in the report.
note() { grep -qxF -- "$2" "$OUT/raw/cmd-$1.txt" 2>/dev/null || echo "$2" >> "$OUT/raw/cmd-$1.txt"; }
# rec SCENARIO CMD...: note the command, then run it.
rec() { local sc=$1; shift; note "$sc" "$*"; "$@"; }
# rec_server SCENARIO CORES [FLAG...]: start_server stairkv (bench-lib.sh), noting its command line.
rec_server() {
  local sc=$1 cores=$2 pin=""; shift 2
  [ "$cores" = 1 ] && pin="taskset -c $SERVER_CPU "
  note "$sc" "${pin}$STAIRKV --cores $cores --port $PORT --text-port 0 --http-port 0 --log-level warn${*:+ $*}"
  start_server stairkv "$cores" "$@"
}

BG=()
# wait_bg: wait for the background helpers to finish by themselves; stop_bg: end them.
wait_bg() { for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done; BG=(); }
stop_bg() { for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; BG=(); }
trap 'stop_bg; stop_server' EXIT

# skip SCENARIO REASON: record why a scenario could not run; the report says so.
FAILED=0
skip() { echo "$1: NOT RUN: $2" >&2; echo "$2" > "$OUT/raw/$1.not-run"; FAILED=1; }

# The server side of migrate and skew: stairkv must know --autoscale and
# STAIRKV MIGRATE. The reason goes on stdout (empty when all is there).
elastic_missing() {
  if ! $STAIRKV --help 2>/dev/null | grep -q -- '--autoscale'; then
    echo "this stairkv has no --autoscale flag ($STAIRKV --help): the elastic server side is not built into it yet"
    return
  fi
  # No arguments: a server that knows MIGRATE answers with an arity error and moves nothing.
  start_server stairkv 2
  local reply
  reply=$(cli STAIRKV MIGRATE) || true
  stop_server
  if grep -qi 'unknown subcommand\|unknown command' <<<"$reply"; then
    echo "this stairkv does not know STAIRKV MIGRATE yet (it answered: $reply)"
  fi
}

# --- migrate -------------------------------------------------------------------
# MIG_MODE=sweep (default): the staircase as it is by default (shards of up to
# 4,096 keys; the controller splits but never rebalances), and the loop moves
# every shard to the other core and back, shard by shard: the shards moving
# hold all 2,000,000 keys. MIG_MODE=big: exactly two shards of ~1,000,000 keys,
# one per core, moved back and forth whole.
MIG_MODE=${MIG_MODE:-sweep}
if [ "$MIG_MODE" = big ]; then
  MIG_FLAGS=(--autoscale off --initial-shards 2 --shard-max-keys 100000000)
else
  MIG_FLAGS=(--rebalance-threshold 1000000000)
fi
mig_load() { # label extra-flags...: one verified run on a fresh server, report dir runs/migrate-<label>
  local label=$1; shift
  rec migrate $BENCH --port "$PORT" --threads "$MIG_THREADS" -c "$MIG_CONNS" --keys "$MIG_KEYS" --value-size 32 \
    --prefill --verify --label "$label" --report-dir "$OUT/runs/migrate-$label" "$@" \
    > "$OUT/raw/migrate-$label.txt" 2> "$OUT/raw/migrate-$label.err" || true
  grep '^TOTAL' "$OUT/raw/migrate-$label.txt" || { echo "migrate $label: the run failed:"; tail -5 "$OUT/raw/migrate-$label.err"; }
}
# Move shard 0 to core 1 and back, then shard 1 to core 0 and back, ... until
# the stop file appears; one TSV row per MIGRATE (start, seconds, command,
# reply). Starts once the prefill is in (DBSIZE), so the moves overlap the
# warmup and the whole measured run. One python process on one connection, so
# the loop adds no fork per move to the CPUs the load and the server share.
migrate_loop() {
  exec python3 - "$PORT" "$1" "$OUT/raw/stop" "$MIG_KEYS" <<'EOF'
import os, socket, sys, time
port, log, stop, keys = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port), timeout=300)
f = s.makefile("rb")
def call(*args):
    s.sendall(b"".join([f"*{len(args)}\r\n".encode()] + [f"${len(a)}\r\n{a}\r\n".encode() for a in args]))
    return f.readline().decode(errors="replace").strip()
while not os.path.exists(stop) and int(call("DBSIZE").lstrip(":") or 0) < keys:
    time.sleep(0.1)
out = open(log, "a", buffering=1)
def shards():
    s.sendall(b"INFO staircase\r\n")
    head = f.readline()
    body = f.read(int(head[1:]) + 2).decode(errors="replace")
    return int(next(l.split(":")[1] for l in body.splitlines() if l.startswith("shards:")))
def moves():
    # big: shard 0 to core 1 and back, then shard 1 to core 0 and back.
    # sweep: every shard to the other core (shard i starts on core i % 2), then every one back.
    if mode == "big":
        for m in [("0", "1"), ("0", "0"), ("1", "0"), ("1", "1")]:
            yield m
        return
    n = shards()
    for back in (0, 1):
        for i in range(n):
            yield str(i), str((i + 1 + back) % 2)
mode = os.environ.get("MIG_MODE", "sweep")
while not os.path.exists(stop):
    for shard, core in moves():
        if os.path.exists(stop):
            break
        t0 = time.time()
        r = call("STAIRKV", "MIGRATE", shard, core)
        t1 = time.time()
        r = r[1:] if r[:1] in ("+", "-") else r
        out.write(f"{t0:.6f}\t{t1 - t0:.3f}\tMIGRATE {shard} {core}\t{r}\n")
        # An error reply comes back at once; do not spin on it.
        if r != "OK":
            time.sleep(0.5)
EOF
}
scenario_migrate() {
  local why
  why=$(elastic_missing)
  if [ -n "$why" ]; then skip migrate "$why"; return; fi
  # The maximum: closed loop, same connections and pipeline, a fresh server.
  rec_server migrate 2 "${MIG_FLAGS[@]}"
  mig_load max -P "$MIG_PIPELINE" --duration "$MAX_DUR"
  stop_server
  local max rate
  if [ ! -s "$OUT/runs/migrate-max/summary.json" ]; then
    skip migrate "the closed-loop run that measures the maximum failed (raw/migrate-max.err)"; return
  fi
  max=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['commands']['TOTAL']['ops_per_sec'])" "$OUT/runs/migrate-max/summary.json")
  rate=$(python3 -c "print(round($max * $RATE_PCT / 100))")
  echo "migrate: closed-loop maximum ${max%.*} ops/s; open loop at $rate ops/s"
  printf "max_ops_per_sec\t%s\nrate\t%s\n" "$max" "$rate" > "$OUT/raw/migrate-rate.tsv"
  for label in steady migrating; do
    rec_server migrate 2 "${MIG_FLAGS[@]}"
    staircase_field migrations_done > "$OUT/raw/migrate-$label-before"
    staircase_field keys_migrated >> "$OUT/raw/migrate-$label-before"
    rm -f "$OUT/raw/stop"
    : > "$OUT/raw/migrate-$label-moves.tsv"
    if [ $label = migrating ]; then
      if [ "$MIG_MODE" = big ]; then
        note migrate "while the load runs: redis-cli -p $PORT STAIRKV MIGRATE 0 1, then 0 0, 1 0, 1 1, 0 1, ... (each waits for +OK)"
      else
        note migrate "while the load runs: for each shard i (INFO staircase shards:), redis-cli -p $PORT STAIRKV MIGRATE i ((i+1)%2), then every shard back (i%2), again and again (each waits for +OK)"
      fi
      MIG_MODE=$MIG_MODE migrate_loop "$OUT/raw/migrate-$label-moves.tsv" & BG+=($!); fi
    mig_load $label -P "$MIG_WINDOW" --rate "$rate" --warmup 2 --duration "$MIG_DUR"
    # Let the MIGRATE under way finish, so the counts below include it.
    touch "$OUT/raw/stop"; wait_bg; rm -f "$OUT/raw/stop"
    staircase_field migrations_done > "$OUT/raw/migrate-$label-after"
    staircase_field keys_migrated >> "$OUT/raw/migrate-$label-after"
    cli INFO staircase > "$OUT/raw/migrate-$label-info.txt"
    stop_server
    echo "migrate $label: $(grep -c $'\tOK$' "$OUT/raw/migrate-$label-moves.tsv" || true) MIGRATEs answered OK"
  done
}

# --- skew ----------------------------------------------------------------------
# Poll INFO staircase every 250 ms on one connection; one TSV row per core per
# poll: time, core, ops_per_sec, rebalance_moves, the whole core line.
poll_cores() {
  exec python3 - "$PORT" "$1" <<'EOF'
import re, socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
out = open(path, "a", buffering=1)
while True:
    t = time.time()
    s.sendall(b"INFO staircase\r\n")
    head = f.readline()
    if not head.startswith(b"$"):
        sys.exit(f"INFO staircase: {head!r}")
    body = f.read(int(head[1:]) + 2).decode(errors="replace")
    moves = re.search(r"^rebalance_moves:(\d+)", body, re.M)
    for m in re.finditer(r"^core(\d+):(.*?)\r?$", body, re.M):
        ops = re.search(r"ops_per_sec=([\d.]+)", m.group(2))
        out.write(f"{t:.3f}\t{m.group(1)}\t{ops.group(1) if ops else ''}\t{moves.group(1) if moves else ''}\t{m.group(2)}\n")
    time.sleep(max(0.0, 0.25 - (time.time() - t)))
EOF
}
scenario_skew() {
  local why
  why=$(elastic_missing)
  if [ -n "$why" ]; then skip skew "$why"; return; fi
  rec_server skew 2
  local info
  info=$(cli INFO staircase)
  if ! grep -q '^rebalance_moves:' <<<"$info" || ! grep -q '^core1:.*ops_per_sec=' <<<"$info"; then
    stop_server
    skip skew "INFO staircase has no rebalance_moves or no per-core 'coreN:...,ops_per_sec=N' lines yet"
    return
  fi
  : > "$OUT/skew-cores.tsv"
  note skew "from before the prefill to the end: INFO staircase every 250 ms on one connection (per-core ops_per_sec, rebalance_moves)"
  poll_cores "$OUT/skew-cores.tsv" & BG+=($!)
  # Python takes a moment to start: let the first poll land before the load does.
  for _ in $(seq 50); do [ -s "$OUT/skew-cores.tsv" ] && break; sleep 0.1; done
  # The prefill is load on core 0 too: its time is recorded, and the report
  # says whether the cores were already balanced when the measured run began.
  printf "prefill_start\t%s\n" "$(now)" > "$OUT/skew-events.tsv"
  rec skew $BENCH --port "$PORT" --keys "$SKEW_KEYS" --hash-mod 2:0 --value-size 32 -c 50 -P 64 --prefill -n 1 --quiet >/dev/null
  printf "run_start\t%s\n" "$(now)" >> "$OUT/skew-events.tsv"
  # Not --quiet: the per-second progress lines on stderr give the first 2 s and the last 10 s.
  rec skew $BENCH --port "$PORT" --threads 2 -c 50 -P 1 --keys "$SKEW_KEYS" --hash-mod 2:0 --value-size 32 \
    --duration "$SKEW_DUR" --label "skew" --report-dir "$OUT/runs/skew" \
    > "$OUT/raw/skew.txt" 2> "$OUT/skew-progress.txt" || true
  printf "run_end\t%s\n" "$(now)" >> "$OUT/skew-events.tsv"
  sleep 0.5
  stop_bg
  cli INFO staircase > "$OUT/raw/skew-info.txt"
  stop_server
  echo "skew: $(grep '^TOTAL' "$OUT/raw/skew.txt" || echo failed); rebalance_moves $(awk -F: '$1 == "rebalance_moves" {print $2}' "$OUT/raw/skew-info.txt")"
}

# --- growth --------------------------------------------------------------------
scenario_growth() {
  local order r s dir
  : > "$OUT/raw/growth.tsv"
  for r in $(seq "$GROW_ROUNDS"); do
    order=("${SERVERS[@]}")
    [ $((r % 2)) = 0 ] && [ ${#order[@]} = 2 ] && order=("${order[1]}" "${order[0]}")
    for s in "${order[@]}"; do
      dir="$OUT/runs/growth-$s-r$r"
      rm -rf "$dir"
      if [ "$s" = stairkv ]; then
        rec_server growth 1
      else
        note growth "taskset -c $SERVER_CPU redis-server --port $PORT --save \"\" --appendonly no"
        start_server redis
      fi
      rec growth taskset -c "$CLIENT_CPU" $BENCH --port "$PORT" -c "$GROW_CONNS" -P "$GROW_PIPELINE" --distribution sequential \
        --ratio 1:0 --keys "$GROW_KEYS" --requests "$GROW_KEYS" --value-size 32 --quiet \
        --label "$s" --report-dir "$dir" > "$OUT/raw/growth-$s-r$r.txt" || true
      printf "%s\t%s\t%s\t%s\n" "$s" "$r" "$(cli DBSIZE)" "$(rss_kb "$SPID")" >> "$OUT/raw/growth.tsv"
      stop_server
      echo "growth round $r $s: $(grep '^TOTAL' "$OUT/raw/growth-$s-r$r.txt" || echo failed)"
    done
  done
}

rm -f "$OUT"/raw/*.not-run "$OUT"/raw/cmd-*.txt
for sc in $SCENARIOS; do
  case $sc in
    migrate) scenario_migrate ;;
    skew) scenario_skew ;;
    growth) scenario_growth ;;
    *) echo "unknown scenario '$sc' (migrate, skew, growth)" >&2; exit 2 ;;
  esac
done

MIG_MODE=$MIG_MODE python3 tools/bench-elastic-report.py "$OUT" "$BENCH" "$SCENARIOS" > "$OUT/report.md"
echo "report: $OUT/report.md"
exit "$FAILED"
