#!/usr/bin/env bash
# No silent stalls: stairkv --cores 2 on a machine whose CPUs are both busy.
#
#   background  one busy loop of normal priority pinned to each CPU
#               (taskset -c N sh -c 'while :; do :; done'), started only for
#               the measurements below and always killed on exit (trap)
#   load        a fresh stairkv --cores 2 (default flags but --text-port 0 --http-port 0),
#               every key prefilled, then a verified open-loop stairkv-bench
#               run (--verify --rate) while a loop moves every shard to the
#               other core and back (STAIRKV MIGRATE, as tools/bench-elastic.sh's
#               migrate scenario): once without the busy loops, once with them
#   starts      STARTS starts of stairkv --cores 2 under the busy loops: the
#               time from exec to the first PING answered
#   joins       JOINS two-core mesh joins under the busy loops, the startup
#               step that hung (the ignored test server::tests::
#               mesh_joins_finish_under_contention; JOINS=0 skips it)
#
# Targets (issue 14): 0 errors, 0 wrong values, the loaded run's max latency
# at most 10x the unloaded run's and never seconds; every start ready within
# READY_MAX_S.
#
#   tools/bench-contention.sh                 # full: 60 s runs, 20 starts
#   QUICK=1 tools/bench-contention.sh         # 10 s runs, 5 starts; *-quick/
#   STAIRKV=/path/to/old/stairkv BENCH=... STAIRKV_REV=<commit> OUT=... tools/bench-contention.sh
#
# Writes bench/results/<date>-<host>-contention/report.md with the exact
# commands; raw/ (logs, per-run stairkv-bench output) is not committed.
# Exits 1 if a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."

STAIRKV=${STAIRKV:-./target/release/stairkv}
BENCH=${BENCH:-./target/release/stairkv-bench}
PORT=${PORT:-16379}
KEYS=${KEYS:-200000}
RATE=${RATE:-20000}
DUR=${DUR:-60}
STARTS=${STARTS:-20}
JOINS=${JOINS:-600}
READY_MAX_S=${READY_MAX_S:-2}
THREADS=${THREADS:-2}; CONNS=${CONNS:-8}; WINDOW=${WINDOW:-16}
SUFFIX=contention
if [ "${QUICK:-0}" = 1 ]; then DUR=10; STARTS=5; JOINS=100; SUFFIX=contention-quick; fi
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-$SUFFIX"}
mkdir -p "$OUT/raw" "$OUT/runs"
rm -f "$OUT"/raw/cmd.txt
NCPU=$(nproc)

SPID=; MPID=; BUSY=()
busy_start() {
  local c
  for c in $(seq 0 $((NCPU - 1))); do
    taskset -c "$c" sh -c 'while :; do :; done' &
    BUSY+=($!)
  done
}
busy_stop() {
  local p
  for p in "${BUSY[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  BUSY=()
}
stop_server() {
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=; fi
}
cleanup() {
  busy_stop
  [ -n "$MPID" ] && { kill "$MPID" 2>/dev/null || true; }
  stop_server
}
trap cleanup EXIT INT TERM

note() { grep -qxF -- "$1" "$OUT/raw/cmd.txt" 2>/dev/null || echo "$1" >> "$OUT/raw/cmd.txt"; }
SERVER_ARGS=(--cores 2 --port "$PORT" --text-port 0 --http-port 0 --log-level warn)

# first_pong SECONDS: poll PING every 5 ms until +PONG; print seconds since $T0.
first_pong() {
  python3 - "$PORT" "$T0" "$1" <<'EOF'
import socket, sys, time
port, t0, limit = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
while time.time() - t0 < limit:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=limit)
        s.settimeout(limit)
        s.sendall(b"PING\r\n")
        if s.recv(16).startswith(b"+PONG"):
            print(f"{time.time() - t0:.3f}")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.005)
print("timeout")
sys.exit(1)
EOF
}

start_server() { # log
  note "$STAIRKV ${SERVER_ARGS[*]}"
  T0=$(date +%s.%N)
  "$STAIRKV" "${SERVER_ARGS[@]}" > "$1" 2>&1 &
  SPID=$!
  first_pong 60 > /dev/null || { echo "stairkv did not answer PING within 60 s (log: $1)"; exit 1; }
}

# Every shard to the other core, then every shard back, again and again, one
# MIGRATE at a time on one connection, from the end of the prefill until the
# stop file appears. One TSV row per MIGRATE: start, seconds, shard, reply.
migrate_loop() {
  exec python3 - "$PORT" "$1" "$OUT/raw/stop" "$KEYS" <<'EOF'
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
while not os.path.exists(stop):
    n = shards()
    for back in (0, 1):
        for i in range(n):
            if os.path.exists(stop):
                break
            t0 = time.time()
            r = call("STAIRKV", "MIGRATE", str(i), str((i + 1 + back) % 2))
            r = r[1:] if r[:1] in ("+", "-") else r
            out.write(f"{t0:.6f}\t{time.time() - t0:.3f}\t{i}\t{r}\n")
            if r != "OK":
                time.sleep(0.5)
EOF
}

load_run() { # label
  local label=$1
  start_server "$OUT/raw/server-$label.log"
  rm -f "$OUT/raw/stop"; : > "$OUT/raw/moves-$label.tsv"
  note "while the load runs: STAIRKV MIGRATE i ((i+1)%2) for every shard i, then every shard back, again and again (each waits for +OK)"
  migrate_loop "$OUT/raw/moves-$label.tsv" & MPID=$!
  local cmd=("$BENCH" --port "$PORT" --threads "$THREADS" -c "$CONNS" --keys "$KEYS" --value-size 32 --prefill --verify
    -P "$WINDOW" --rate "$RATE" --warmup 2 --duration "$DUR" --label "$label" --report-dir "$OUT/runs/$label")
  note "${cmd[*]}"
  "${cmd[@]}" > "$OUT/raw/bench-$label.txt" 2> "$OUT/raw/bench-$label.err" || true
  touch "$OUT/raw/stop"; wait "$MPID" 2>/dev/null || true; MPID=
  stop_server
  echo "$label: $(grep '^TOTAL' "$OUT/raw/bench-$label.txt" || echo 'run failed') ; MIGRATEs OK: $(grep -c $'\tOK$' "$OUT/raw/moves-$label.tsv" || true)"
}

JOIN_TEST=
if [ "$JOINS" -gt 0 ]; then
  # Built before the busy loops start; run under them below.
  JOIN_TEST=$(cargo test --release --lib --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "lib" in m["target"]["kind"]:
        print(m["executable"])')
  [ -x "$JOIN_TEST" ] || { echo "cannot build the library's tests for the join phase"; exit 1; }
fi
echo "machine: $NCPU CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
cut -d' ' -f1-3 /proc/loadavg > "$OUT/raw/loadavg-before"
load_run unloaded
note "background for the next run and the starts: taskset -c N sh -c 'while :; do :; done' for each CPU N"
busy_start
load_run loaded
: > "$OUT/raw/starts.tsv"
for i in $(seq "$STARTS"); do
  T0=$(date +%s.%N)
  "$STAIRKV" "${SERVER_ARGS[@]}" > "$OUT/raw/start-$i.log" 2>&1 &
  SPID=$!
  t=$(first_pong 120 || true)
  printf "%s\t%s\n" "$i" "$t" >> "$OUT/raw/starts.tsv"
  echo "start $i: ${t}s"
  stop_server
done
if [ -n "$JOIN_TEST" ]; then
  note "STAIRKV_JOINS=$JOINS cargo test --release --lib mesh_joins -- --ignored --nocapture"
  STAIRKV_JOINS=$JOINS "$JOIN_TEST" --ignored --nocapture mesh_joins > "$OUT/raw/joins.txt" 2>&1 || true
  echo "joins: $(grep -E 'mesh joins|did not finish' "$OUT/raw/joins.txt" | head -1)"
fi
busy_stop
cut -d' ' -f1-3 /proc/loadavg > "$OUT/raw/loadavg-after"

python3 tools/bench-contention-report.py "$OUT" "$STAIRKV" "$READY_MAX_S" > "$OUT/report.md"
echo "report: $OUT/report.md"
grep -q '^Verdict: all targets met' "$OUT/report.md"
