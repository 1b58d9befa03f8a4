#!/usr/bin/env bash
# make bench-persist: issue 16's "Measured", stairkv beside Debian's
# redis-server 7.0 with the same settings in the same run. One server at a
# time, freshly started on an empty directory on disk ($DATA), pinned to CPU 0
# (stairkv --cores 1) unless said otherwise; the load pinned to CPU 1.
#
#  a. Throughput: `redis-benchmark -t set -n N -r 1000000 -d 32 -c 50 -P 1|16
#     --csv`, against stairkv without persistence, --appendonly yes with
#     --appendfsync everysec, and always; and redis-server --save "" with
#     --appendonly no, yes + everysec, yes + always. ROUNDS rounds, the order
#     reversed every other round, a fresh server (and directory) per run;
#     server CPU (utime + stime from /proc/<pid>/stat) per request, and the
#     bytes the run left in the directory (the log). If stairkv does not take
#     --appendonly (or CONFIG GET appendonly does not answer yes), its logged
#     rows are skipped with the reason and the rest runs.
#  b. BGSAVE of KEYS keys (default 10,000,000; written once each by
#     stairkv-bench --distribution sequential, 32-byte values; then until the
#     server's CPU falls under 5% for 0.5 s, its splits done) under a 1:1
#     SET:GET open-loop load (stairkv-bench --rate B_RATE -P B_PIPELINE -c 50,
#     uniform over the same keys) run as back-to-back windows of B_WINDOW s
#     (after B_WARMUP s of unmeasured load each, the connections' start): RSS
#     (VmRSS, redis-server's fork added) sampled every 20 ms, before against
#     peak during; p99.9 of the windows before against the windows during;
#     the save's time. See tools/bench-persist-probe.py.
#  c. Restart with KEYS keys: from the spawn to the first PING answered
#     +PONG, and to DBSIZE = KEYS: stairkv --cores C_CORES (default 2, its own
#     pinning) loading its dump.rdb against redis-server (pinned to CPU 0)
#     loading its own RDB of the same keys. C_ROUNDS rounds, alternating.
#     The files are in the page cache (warm) for both.
#  d. The kill -9 crash cycles: tests/aof_crash.rs, AOF_CYCLES cycles, with
#     appendfsync always, then everysec, then snapshots only.
#
#   tools/bench-persist.sh                       # everything, full size
#   PARTS="b c" KEYS=200000 tools/bench-persist.sh
#   QUICK=1 tools/bench-persist.sh               # a smoke test (KEYS=200000, 1 round,
#                                                # 4 cycles; any knob still applies), own directory
#
# Knobs: PARTS ("a b c d"), ROUNDS (3), N1 (1000000), N16 (2000000), KEYS
# (10000000), B_ROUNDS (1), B_RATE (50000), B_WINDOW (1), B_WARMUP (0.2),
# B_PIPELINE (16), B_STEADY (5),
# B_CORES (1), C_ROUNDS (3), C_CORES (2), AOF_CYCLES (50), DATA (a directory
# on the disk to measure; default a fresh one under /var/tmp, removed at the
# end), OUT, PORT, SERVER_CPU, CLIENT_CPU.
# Writes bench/results/<date>-<host>-persist/: report.md, a.tsv, b.tsv,
# c.tsv, d-*.txt, meta.txt, commands.txt, and raw/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

PARTS=${PARTS:-"a b c d"}
SUFFIX=persist
if [ "${QUICK:-0}" = 1 ]; then
  # Small defaults (each still overridable) and a directory of its own.
  : "${ROUNDS:=1}" "${N1:=100000}" "${N16:=200000}" "${KEYS:=200000}" "${B_STEADY:=3}" "${C_ROUNDS:=1}" "${AOF_CYCLES:=4}"
  SUFFIX=persist-quick
fi
ROUNDS=${ROUNDS:-3}
N1=${N1:-1000000}
N16=${N16:-2000000}
KEYS=${KEYS:-10000000}
B_ROUNDS=${B_ROUNDS:-1}
B_RATE=${B_RATE:-50000}
B_WINDOW=${B_WINDOW:-1}
B_STEADY=${B_STEADY:-5}
B_WARMUP=${B_WARMUP:-0.2}
B_PIPELINE=${B_PIPELINE:-16}
B_CORES=${B_CORES:-1}
C_ROUNDS=${C_ROUNDS:-3}
C_CORES=${C_CORES:-2}
AOF_CYCLES=${AOF_CYCLES:-50}
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-$SUFFIX"}
mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)
source tools/bench-lib.sh
command -v redis-server >/dev/null || { echo "redis-server not installed (apt-get install redis-server)"; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not installed (apt-get install redis-tools)"; exit 1; }
[ -x "$STAIRKV" ] && [ -x "$BENCH" ] || { echo "build first: cargo build --release --bins"; exit 1; }
has() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }

OWN_DATA=0
if [ -z "${DATA:-}" ]; then DATA=$(mktemp -d -p /var/tmp stairkv-bench-persist.XXXXXX); OWN_DATA=1; fi
mkdir -p "$DATA"
cleanup() { stop_server; if [ "$OWN_DATA" = 1 ]; then rm -rf "$DATA"; fi; }
trap cleanup EXIT

user_sys() { awk '{print $14, $15}' "/proc/$1/stat"; }
log_cmd() { echo "$*" >> "$OUT/commands.txt"; }
# The same for an argv, quoted so that it can be pasted back (--save "").
log_argv() { local q; printf -v q '%q ' "$@"; echo "${q% }" >> "$OUT/commands.txt"; }
: > "$OUT/commands.txt"

# The machine, and what a sync costs on the disk measured: fdatasync after a
# 64-byte append, 2000 times.
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "stairkv: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (src modified)'), binary $STAIRKV built $(date -u -r "$STAIRKV" +%Y-%m-%dT%H:%M:%SZ)"
  echo "redis: $(redis-server --version)"
  echo "kernel: $(uname -r)"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
  echo "data: $DATA on $(df -T "$DATA" | awk 'NR==2 {print $2, $1}')"
  python3 - "$DATA" <<'EOF'
import os, statistics, sys, time
p = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
lat = []
for _ in range(2000):
    os.write(fd, b"x" * 64)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1e6)
os.close(fd)
os.unlink(p)
lat.sort()
print(f"fdatasync after a 64-byte append: median {statistics.median(lat):.0f} us, p99 {lat[int(len(lat) * 0.99)]:.0f} us")
EOF
  echo "knobs: PARTS=\"$PARTS\" ROUNDS=$ROUNDS N1=$N1 N16=$N16 KEYS=$KEYS B_ROUNDS=$B_ROUNDS B_RATE=$B_RATE B_WINDOW=$B_WINDOW B_STEADY=$B_STEADY B_WARMUP=$B_WARMUP B_PIPELINE=$B_PIPELINE B_CORES=$B_CORES C_ROUNDS=$C_ROUNDS C_CORES=$C_CORES AOF_CYCLES=$AOF_CYCLES SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU"
} > "$OUT/meta.txt"
cat "$OUT/meta.txt"

# start_persist stairkv|redis MODE DIR [CORES]: MODE none (no log; snapshots
# only on request), everysec or always. stairkv with CORES > 1 is not pinned.
start_persist() {
  local s=$1 mode=$2 dir=$3 cores=${4:-1} aof=() cmd
  mkdir -p "$dir"
  if [ "$s" = stairkv ]; then
    [ "$mode" != none ] && aof=(--appendonly yes --appendfsync "$mode")
    cmd=($STAIRKV --cores "$cores" --port "$PORT" --text-port 0 --http-port 0 --log-level warn --dir "$dir" "${aof[@]}")
    [ "$cores" = 1 ] && cmd=(taskset -c "$SERVER_CPU" "${cmd[@]}")
  else
    aof=(--appendonly no)
    [ "$mode" != none ] && aof=(--appendonly yes --appendfsync "$mode")
    cmd=(taskset -c "$SERVER_CPU" redis-server --port "$PORT" --save "" "${aof[@]}" --dir "$dir" --daemonize no --loglevel warning)
  fi
  log_argv "${cmd[@]}"
  "${cmd[@]}" >/dev/null &
  SPID=$!
  wait_port
}

# Whether stairkv takes --appendonly and says so in CONFIG GET; the reason if not.
AOF_SKIP=
check_stairkv_aof() {
  local d="$DATA/detect" reply
  rm -rf "$d"; mkdir -p "$d"
  $STAIRKV --cores 1 --port "$PORT" --text-port 0 --http-port 0 --log-level error --dir "$d" \
    --appendonly yes --appendfsync everysec >/dev/null 2>"$OUT/raw/detect.err" &
  SPID=$!
  for _ in $(seq 100); do
    ping_ok "$PORT" && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  if ! ping_ok "$PORT"; then
    AOF_SKIP="stairkv does not start with --appendonly yes --appendfsync everysec: $(grep -v '^$' "$OUT/raw/detect.err" | head -1)"
  else
    reply=$(redis-cli -p "$PORT" config get appendonly | tail -1)
    [ "$reply" = yes ] || AOF_SKIP="stairkv started with --appendonly yes, but CONFIG GET appendonly answers '$reply'"
  fi
  stop_server
  rm -rf "$d"
  [ -z "$AOF_SKIP" ] || echo "skipping stairkv's logged runs: $AOF_SKIP"
}

# ---------------------------------------------------------------------------
# a. Throughput.
a_run() { # server mode round pipeline
  local s=$1 m=$2 r=$3 p=$4 n=$N1 csv u0 s0 u1 s1 line bytes dir
  [ "$p" != 1 ] && n=$N16
  dir="$DATA/a-$s-$m"
  rm -rf "$dir"
  start_persist "$s" "$m" "$dir"
  csv="$OUT/raw/a-$s-$m-P$p-r$r.csv"
  read -r u0 s0 < <(user_sys "$SPID")
  log_cmd "taskset -c $CLIENT_CPU redis-benchmark -p $PORT -t set -n $n -r 1000000 -d 32 -c 50 -P $p --csv"
  taskset -c "$CLIENT_CPU" redis-benchmark -p "$PORT" -t set -n "$n" -r 1000000 -d 32 -c 50 -P "$p" --csv > "$csv"
  read -r u1 s1 < <(user_sys "$SPID")
  bytes=$(du -sb "$dir" | cut -f1)
  stop_server
  rm -rf "$dir"
  line=$(tail -1 "$csv" | tr -d '"')
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$s" "$m" "$r" "$p" "$n" \
    "$(echo "$line" | cut -d, -f2)" "$(echo "$line" | cut -d, -f5)" "$(echo "$line" | cut -d, -f7)" \
    $((u1 - u0)) $((s1 - s0)) "$bytes" >> "$OUT/a.tsv"
  echo "a: round $r $s $m P$p: $(echo "$line" | cut -d, -f2) SET/s, $bytes bytes on disk"
}

if has a; then
  check_stairkv_aof
  echo "$AOF_SKIP" > "$OUT/a-skip.txt"
  configs=("stairkv none")
  [ -z "$AOF_SKIP" ] && configs+=("stairkv everysec" "stairkv always")
  configs+=("redis none" "redis everysec" "redis always")
  : > "$OUT/a.tsv"
  for r in $(seq "$ROUNDS"); do
    order=("${configs[@]}")
    if [ $((r % 2)) = 0 ]; then
      order=(); for ((i = ${#configs[@]} - 1; i >= 0; i--)); do order+=("${configs[i]}"); done
    fi
    for p in 1 16; do
      for c in "${order[@]}"; do
        read -r s m <<< "$c"
        a_run "$s" "$m" "$r" "$p"
      done
    done
  done
fi

# ---------------------------------------------------------------------------
# b. BGSAVE under load, and c's data.

# Writes exactly KEYS distinct keys (key:%012d, 32-byte values) and checks DBSIZE.
fill() {
  local s=$1 got
  log_cmd "taskset -c $CLIENT_CPU $BENCH --port $PORT -c 50 -P 64 --ratio 1:0 --distribution sequential --keys $KEYS -n $KEYS --value-size 32 --quiet"
  taskset -c "$CLIENT_CPU" $BENCH --port "$PORT" -c 50 -P 64 --ratio 1:0 --distribution sequential \
    --keys "$KEYS" -n "$KEYS" --value-size 32 --quiet > "$OUT/raw/fill-$s.txt"
  got=$(redis-cli -p "$PORT" dbsize)
  [ "$got" = "$KEYS" ] || { echo "$s holds $got keys after the fill, not $KEYS"; exit 1; }
}

# Waits (up to 120 s) until the server has used under 5% of a CPU for 0.5 s:
# stairkv's controller goes on splitting shards for a while after a fast fill,
# which is not the steady state b compares the snapshot against.
settle() {
  local t0 t1 clk
  clk=$(getconf CLK_TCK)
  for _ in $(seq 240); do
    t0=$(cpu_ticks "$SPID"); sleep 0.5; t1=$(cpu_ticks "$SPID")
    [ $(( (t1 - t0) * 100 )) -lt $((clk * 5 / 2)) ] && return 0
  done
  echo "the server is still busy 120 s after the fill; measuring anyway"
}

# A foreground SAVE, for c: the file c's restarts load.
save_for_c() {
  local s=$1 reply
  reply=$(redis-cli -p "$PORT" save)
  [ "$reply" = OK ] || { echo "$s: SAVE answered $reply"; exit 1; }
  log_cmd "redis-cli -p $PORT save"
}

C_READY=
if has b; then
  : > "$OUT/b.tsv"
  for r in $(seq "$B_ROUNDS"); do
    order=(stairkv redis)
    [ $((r % 2)) = 0 ] && order=(redis stairkv)
    for s in "${order[@]}"; do
      dir="$DATA/c-$s"
      rm -rf "$dir"
      cores=1; [ "$s" = stairkv ] && cores=$B_CORES
      start_persist "$s" none "$dir" "$cores"
      fill "$s"
      settle
      echo "b: round $r $s: $KEYS keys, RSS $(rss_kb "$SPID") kB; BGSAVE under ${B_RATE} ops/s"
      log_cmd "taskset -c $CLIENT_CPU python3 tools/bench-persist-probe.py snapshot OUT --port $PORT --pid PID --keys $KEYS --rate $B_RATE --window $B_WINDOW --warmup $B_WARMUP --pipeline $B_PIPELINE --steady $B_STEADY --cpu $CLIENT_CPU"
      taskset -c "$CLIENT_CPU" python3 tools/bench-persist-probe.py snapshot "$OUT/raw/b-$s-r$r" \
        --port "$PORT" --pid "$SPID" --bench "$BENCH" --keys "$KEYS" --rate "$B_RATE" \
        --window "$B_WINDOW" --warmup "$B_WARMUP" --pipeline "$B_PIPELINE" --steady "$B_STEADY" \
        --cpu "$CLIENT_CPU" | tee "$OUT/raw/b-$s-r$r.json"
      printf "%s\t%s\t%s\n" "$s" "$r" "$(cat "$OUT/raw/b-$s-r$r.json")" >> "$OUT/b.tsv"
      if has c && [ "$r" = "$B_ROUNDS" ]; then save_for_c "$s"; fi
      stop_server
    done
  done
  has c && C_READY=1
fi

# ---------------------------------------------------------------------------
# c. Restart.
if has c; then
  if [ -z "$C_READY" ]; then
    for s in stairkv redis; do
      dir="$DATA/c-$s"
      rm -rf "$dir"
      start_persist "$s" none "$dir" 1
      fill "$s"
      save_for_c "$s"
      stop_server
    done
  fi
  : > "$OUT/c.tsv"
  for s in stairkv redis; do
    echo "c: $s dump.rdb: $(stat -c %s "$DATA/c-$s/dump.rdb") bytes"
    printf "file\t%s\t%s\n" "$s" "$(stat -c %s "$DATA/c-$s/dump.rdb")" >> "$OUT/c.tsv"
  done
  for r in $(seq "$C_ROUNDS"); do
    order=(stairkv redis)
    [ $((r % 2)) = 0 ] && order=(redis stairkv)
    for s in "${order[@]}"; do
      if [ "$s" = stairkv ]; then
        cmd=($STAIRKV --cores "$C_CORES" --port "$PORT" --text-port 0 --http-port 0 --log-level warn --dir "$DATA/c-$s")
      else
        cmd=(taskset -c "$SERVER_CPU" redis-server --port "$PORT" --save "" --appendonly no --dir "$DATA/c-$s" --daemonize no --loglevel warning)
      fi
      log_argv python3 tools/bench-persist-probe.py restart OUT --port "$PORT" --keys "$KEYS" -- "${cmd[@]}"
      # Not pinned: the server inherits the probe's CPUs.
      python3 tools/bench-persist-probe.py restart "$OUT/raw/c-$s-r$r.json" --port "$PORT" --keys "$KEYS" -- "${cmd[@]}" > /dev/null
      printf "run\t%s\t%s\t%s\n" "$s" "$r" "$(cat "$OUT/raw/c-$s-r$r.json")" >> "$OUT/c.tsv"
      echo "c: round $r $s: $(cat "$OUT/raw/c-$s-r$r.json")"
    done
  done
fi

# ---------------------------------------------------------------------------
# d. Crash cycles.
if has d; then
  for mode in always everysec snapshot; do
    if [ "$mode" = snapshot ]; then
      test=snapshot_kill_9_cycles; envs=(AOF_CYCLES="$AOF_CYCLES")
    else
      test=aof_kill_9_cycles; envs=(AOF_CYCLES="$AOF_CYCLES" AOF_FSYNC="$mode")
    fi
    log_cmd "${envs[*]} ${CARGO:-cargo} test --release --test aof_crash -- --nocapture --exact $test"
    echo "d: $mode: ${envs[*]} cargo test --release --test aof_crash -- --nocapture --exact $test"
    set +e
    env "${envs[@]}" ${CARGO:-cargo} test --release --test aof_crash -- --nocapture --exact "$test" > "$OUT/raw/d-$mode.log" 2>&1
    rc=$?
    set -e
    {
      echo "exit: $rc"
      grep -E '^aof_crash ' "$OUT/raw/d-$mode.log" || true
      grep -E -A24 'panicked at' "$OUT/raw/d-$mode.log" | grep -v -E '^stack backtrace|^ +[0-9]+: |^ +at ' | head -24 || true
    } > "$OUT/d-$mode.txt"
    tail -3 "$OUT/d-$mode.txt"
  done
fi

awk '!seen[$0]++' "$OUT/commands.txt" > "$OUT/commands.tmp" && mv "$OUT/commands.tmp" "$OUT/commands.txt"
python3 tools/bench-persist-report.py "$OUT" > "$OUT/report.md"
echo "report: $OUT/report.md"
