#!/usr/bin/env bash
# SCAN for tools: `redis-cli --scan` over KEYS distinct keys (default
# 1,000,000, `key:<i>`, 8-byte values), and a scan by SCAN ... COUNT 10 from
# a Python client timing each call, against redis-server 7.0.15 in the same
# run. Servers pinned to CPU 0 (stairkv --cores 1), clients to CPU 1;
# variants alternate in order each round. Prints round, variant, what,
# seconds, keys listed, calls, server CPU ticks (utime+stime, 100/s).
#   BEFORE=/tmp/stairkv-before NEW=target/release/stairkv ROUNDS=5 run.sh
set -euo pipefail
BEFORE=${BEFORE:-}
NEW=${NEW:-/work/main/target/release/stairkv}
ROUNDS=${ROUNDS:-5}
KEYS=${KEYS:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
variants="redis new"; [ -n "$BEFORE" ] && variants="redis new before"
load() { # port
  python3 - "$KEYS" <<'PY' | taskset -c 1 redis-cli -p "$1" --pipe > /dev/null
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\nvaluexxx\r\n" % (len(k), k))
PY
}
for r in $(seq 1 "$ROUNDS"); do
  set -- $variants
  [ $((r % 2)) = 0 ] && set -- $(echo $variants | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in "$@"; do
    d=$(mktemp -d); port=$((20000 + RANDOM % 20000))
    case $v in
      redis) taskset -c 0 redis-server --port $port --save '' --appendonly no --dir $d > $d/log 2>&1 & ;;
      new) taskset -c 0 $NEW --cores 1 --port $port --text-port 0 > $d/log 2>&1 & ;;
      before) taskset -c 0 $BEFORE --cores 1 --port $port --text-port 0 > $d/log 2>&1 & ;;
    esac
    pid=$!; sleep 0.7
    load $port
    sleep 2  # let the staircase finish the splits the load started
    n=$(redis-cli -p $port dbsize)
    [ "$n" = "$KEYS" ] || { echo "loaded $n of $KEYS keys" >&2; exit 1; }
    t0=$(ticks $pid); s0=$(date +%s.%N)
    listed=$(taskset -c 1 redis-cli -p $port --scan | wc -l)
    s1=$(date +%s.%N); t1=$(ticks $pid)
    printf "%s\t%s\tcli-scan\t%.3f\t%s\t-\t%s\n" $r $v "$(echo "$s1 - $s0" | bc)" $listed $((t1 - t0))
    t0=$(ticks $pid)
    res=$(taskset -c 1 python3 "$HERE/scan_calls.py" $port 10)
    t1=$(ticks $pid)
    printf "%s\t%s\tscan-count10\t%s\t%s\n" $r $v "$res" $((t1 - t0))
    kill $pid; wait $pid 2>/dev/null || true
    rm -rf $d
  done
done
