#!/usr/bin/env bash
# Cross-core MULTI/5 (and EVAL/5) with the logs on: OLD (writes logged plain;
# built from 4353f9c) against NEW (TxWrite records, ends or a commit),
# alternating order each round, stairkv --cores 2, nothing pinned (2 CPUs:
# two server cores and the client share them). Prints round, fsync, variant,
# tx, ops/s, p99 ms, errors, server CPU ticks (utime+stime, 100/s) in the run.
#   OLD=/tmp/old-target/release/stairkv NEW=target/release/stairkv ROUNDS=5 TXS="multi:5" run.sh
set -euo pipefail
BENCH=${BENCH:-/work/main/target/release/stairkv-bench}
OLD=${OLD:-/tmp/old-target/release/stairkv}
NEW=${NEW:-/work/main/target/release/stairkv}
ROUNDS=${ROUNDS:-3}
TXS=${TXS:-"multi:5 eval:5"}
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
for r in $(seq 1 $ROUNDS); do
  order="old new"; [ $((r % 2)) = 0 ] && order="new old"
  for fsync in everysec always; do
    for v in $order; do
      bin=$OLD; [ $v = new ] && bin=$NEW
      for tx in $TXS; do
        d=$(mktemp -d); port=$((20000 + RANDOM % 20000))
        $bin --cores 2 --port $port --text-port 0 --appendonly yes --appendfsync $fsync --dir $d --autoscale off > $d/log 2>&1 &
        pid=$!; sleep 0.5
        t0=$(ticks $pid)
        $BENCH --port $port --quiet --duration 5 -c 50 -P 1 --ratio 1:0 --tx $tx --keys 100000 --key-prefix spread: --report-dir $d/rep > /dev/null
        t1=$(ticks $pid)
        res=$(python3 -c "import json;j=json.load(open('$d/rep/summary.json'));c=j['commands']['TOTAL'];print(round(c['ops_per_sec']), c['latency_ms']['p99'], c['errors'])")
        kill $pid; wait $pid 2>/dev/null || true
        printf "%s\t%s\t%s\t%s\t%s\t%s\n" $r $fsync $v $tx "$res" $((t1 - t0))
        rm -rf $d
      done
    done
  done
done
