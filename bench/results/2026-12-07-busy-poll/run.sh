#!/usr/bin/env bash
# busy-poll-us: redis-server 7.0.15 and stairkv with the spin off (0) and at
# its default (20 µs), alternating test by test, server on CPU 0 (stairkv
# --cores 1), load on CPU 1.
# usage: B=path/to/stairkv SB=path/to/stairkv-bench ROUNDS=3 run.sh > raw.tsv
# Columns: round variant test ops/s p50_ms server_cpu_ticks requests
set -uo pipefail
B=${B:-./target/release/stairkv}; SB=${SB:-./target/release/stairkv-bench}
ROUNDS=${ROUNDS:-3}; VARIANTS=${VARIANTS:-"redis spin0 spin20"}
start() { # variant -> pid on $port
  port=$((10000 + RANDOM % 10000))
  case $1 in
    redis) taskset -c 0 redis-server --port $port --save '' --appendonly no >/dev/null 2>&1 & ;;
    spin*) taskset -c 0 "$B" --cores 1 --busy-poll-us "${1#spin}" --port $port --text-port 0 --http-port 0 >/dev/null 2>&1 & ;;
  esac
  pid=$!
  for _ in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && return; sleep 0.05; done
}
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
rb() { # round variant label n redis-benchmark-args...
  local r=$1 v=$2 label=$3 n=$4; shift 4
  start "$v"; local a; a=$(ticks $pid)
  local out; out=$(taskset -c 1 redis-benchmark -p $port -n "$n" -d 32 -r 100000 --csv "$@" 2>/dev/null | tail -1)
  local b; b=$(ticks $pid)
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$r" "$v" "$label" "$(echo "$out" | cut -d, -f2 | tr -d '"')" "$(echo "$out" | cut -d, -f5 | tr -d '"')" $((b - a)) "$n"
  kill $pid; wait $pid 2>/dev/null
}
sb() { # round variant: stairkv-bench workload (a), 1M keys, 10 s closed loop
  local r=$1 v=$2
  start "$v"
  taskset -c 1 "$SB" --port $port --keys 1000000 --value-size 32 -c 50 -P 64 --prefill -n 1 --quiet >/dev/null
  sleep 5
  local a; a=$(ticks $pid)
  local out; out=$(taskset -c 1 "$SB" --port $port -c 50 -P 1 --ratio 1:1 --distribution uniform --keys 1000000 --value-size 32 --duration 10 --quiet 2>&1 | grep '^TOTAL')
  local b; b=$(ticks $pid)
  # TOTAL requests ops/s ... p50 is the 6th field
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$r" "$v" "a-c50-P1" "$(echo "$out" | awk '{print $3}')" "$(echo "$out" | awk '{print $7}')" $((b - a)) "$(echo "$out" | awk '{print $2}')"
  kill $pid; wait $pid 2>/dev/null
}
# ONLY=1 (run2.sh): pipeline 16 and (a) only.
for r in $(seq "$ROUNDS"); do
  order=($VARIANTS); [ $((r % 2)) = 0 ] && order=($(echo $VARIANTS | tr ' ' '\n' | tac))
  if [ -z "${ONLY:-}" ]; then
  for v in "${order[@]}"; do rb $r $v c1-set 40000 -t set -c 1 -P 1; done
  for v in "${order[@]}"; do rb $r $v c50-P1-set 300000 -t set -c 50 -P 1; done
  for v in "${order[@]}"; do rb $r $v c50-P1-get 300000 -t get -c 50 -P 1; done
  fi
  for v in "${order[@]}"; do rb $r $v c50-P16-set 3000000 -t set -c 50 -P 16; done
  for v in "${order[@]}"; do rb $r $v c50-P16-get 3000000 -t get -c 50 -P 16; done
  for v in "${order[@]}"; do sb $r $v; done
done
