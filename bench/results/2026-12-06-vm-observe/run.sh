#!/usr/bin/env bash
# What per-command stats, SLOWLOG and MONITOR cost on the request path.
# redis-benchmark SET and GET at pipeline 1 and 16 against:
#   redis   redis-server 7.0.15 (its defaults: latency tracking on)
#   before  stairkv before per-command stats (BEFORE, main at ffc6b7d)
#   off     stairkv, every timing consumer off:
#           --latency-tracking no --slowlog-log-slower-than -1
#   on      stairkv with its defaults (latency-tracking yes, slowlog 10 ms)
#   monitor stairkv with its defaults and one `redis-cli monitor` reading
# Servers pinned to CPU 0 (stairkv --cores 1), load (and the monitor) to CPU 1.
# Variants alternate in order each round (reversed every other round).
# Prints round, variant, pipeline, test, requests/s, server CPU ticks
# (utime+stime, 100/s) over the test, requests.
#   BEFORE=/tmp/stairkv-before NEW=target/release/stairkv ROUNDS=7 run.sh
# VARIANTS="before off on" picks some of them.
set -euo pipefail
BEFORE=${BEFORE:?path to the stairkv built before this change}
NEW=${NEW:-/work/main/target/release/stairkv}
ROUNDS=${ROUNDS:-5}
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
variants=${VARIANTS:-"redis before off on monitor"}
for r in $(seq 1 "$ROUNDS"); do
  set -- $variants
  [ $((r % 2)) = 0 ] && set -- $(echo $variants | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in "$@"; do
    d=$(mktemp -d)
    # A port below the ephemeral range; another if that one is taken.
    for try in 1 2 3 4 5; do
      port=$((10000 + RANDOM % 10000))
      case $v in
        redis) taskset -c 0 redis-server --port $port --save '' --appendonly no --dir $d > $d/log 2>&1 & ;;
        before) taskset -c 0 $BEFORE --cores 1 --port $port --text-port 0 > $d/log 2>&1 & ;;
        off) taskset -c 0 $NEW --cores 1 --port $port --text-port 0 --latency-tracking no --slowlog-log-slower-than -1 > $d/log 2>&1 & ;;
        on|monitor) taskset -c 0 $NEW --cores 1 --port $port --text-port 0 > $d/log 2>&1 & ;;
      esac
      pid=$!; sleep 0.7
      kill -0 $pid 2>/dev/null && break
    done
    mon=
    if [ $v = monitor ]; then
      taskset -c 1 redis-cli -p $port monitor > /dev/null & mon=$!
      sleep 0.2
    fi
    for p in 1 16; do
      n=$([ $p = 1 ] && echo 300000 || echo 3000000)
      for t in set get; do
        t0=$(ticks $pid)
        rps=$(taskset -c 1 redis-benchmark -p $port -t $t -n $n -c 50 -P $p -r 100000 -d 32 -q \
              | tr '\r' '\n' | grep -i "requests per second" | tail -1 | awk '{print $2}')
        t1=$(ticks $pid)
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" $r $v $p $t $rps $((t1 - t0)) $n
      done
    done
    [ -n "$mon" ] && { kill $mon; wait $mon 2>/dev/null || true; }
    kill $pid; wait $pid 2>/dev/null || true
    rm -rf $d
  done
done
