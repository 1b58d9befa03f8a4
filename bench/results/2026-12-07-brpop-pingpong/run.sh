#!/usr/bin/env bash
# BRPOP ping-pong, stairkv against redis-server 7, alternating rounds.
# usage: B=path/to/stairkv ROUNDS=5 SECS=5 run.sh > raw.txt
# BUSY_POLL="0 20" runs each stairkv setup once per --busy-poll-us value
# (lines stairkv-1-bp0, stairkv-2x-bp20, ...; 2026-12-07-busy-poll).
# - redis:      redis-server pinned to CPU 0, both clients on CPU 1.
# - stairkv-1:  stairkv --cores 1 (CPU 0), both clients on CPU 1: the same setup.
# - stairkv-2x: stairkv --cores 2 (CPUs 0 and 1), the two lists on different
#               cores and each client on the core of the list it pops from
#               misses: every hand-off crosses cores. The clients share CPU 1
#               with core 1 (this machine has two CPUs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
B=${B:-./target/release/stairkv}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
PORT=${PORT:-17400}
pp="$here/pingpong.py"

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
ready() { for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done; }
key_on() { # key_on PREFIX CORE: the first PREFIXi on CORE
  for i in $(seq 0 500); do
    c=$(redis-cli -p "$PORT" stairkv keyshard "$1$i" | tail -1)
    [ "$c" = "$2" ] && { echo "$1$i"; return; }
  done
}
for r in $(seq "$ROUNDS"); do
  taskset -c 0 redis-server --port "$PORT" --save "" --appendonly no >/dev/null 2>&1 & pid=$!
  ready; echo "round $r redis $(taskset -c 1 python3 "$pp" "$PORT" "$SECS" ping pong)"; stop $pid
  for bp in ${BUSY_POLL:-default}; do
  flag=(); tag=""; [ "$bp" != default ] && { flag=(--busy-poll-us "$bp"); tag="-bp$bp"; }
  "$B" --port "$PORT" --cores 1 "${flag[@]}" --text-port 0 --http-port 0 >/dev/null 2>&1 & pid=$!
  ready; echo "round $r stairkv-1$tag $(taskset -c 1 python3 "$pp" "$PORT" "$SECS" ping pong)"; stop $pid
  "$B" --port "$PORT" --cores 2 "${flag[@]}" --text-port 0 --http-port 0 >/dev/null 2>&1 & pid=$!
  ready; ping=$(key_on ping 0); pong=$(key_on pong 1)
  # A pops pong (core 1) from core 0; B pops ping (core 0) from core 1.
  echo "round $r stairkv-2x$tag $(python3 "$pp" "$PORT" "$SECS" "$ping" "$pong" 0 1 2)"; stop $pid
  done
done
