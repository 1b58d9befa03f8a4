#!/usr/bin/env bash
# A/B of stairkv builds (and redis) under redis-benchmark P16, alternating rounds.
# usage: A=bin B=bin ROUNDS=5 TESTS="set get" P=16 run.sh ; prints: round variant test rps cpu_us_per_req
set -u
ROUNDS=${ROUNDS:-5}; P=${P:-16}; N=${N:-1000000}; PORT=${PORT:-17800}
TESTS=${TESTS:-"set get sadd spop lpush"}
VARIANTS=${VARIANTS:-"A B"}
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
ready() { for _ in $(seq 200); do redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && return; sleep 0.05; done; }
for r in $(seq "$ROUNDS"); do
  vs=$VARIANTS; [ $((r % 2)) = 0 ] && vs=$(echo $VARIANTS | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $vs; do
    case $v in
      redis) taskset -c 0 redis-server --port $PORT --save "" --appendonly no >/dev/null 2>&1 & pid=$!;;
      *) bin=${!v}; taskset -c 0 $bin --cores 1 --port $PORT --text-port 0 --http-port 0 --log-level warn >/dev/null 2>&1 & pid=$!;;
    esac
    ready
    for t in $TESTS; do
      c0=$(cpu $pid)
      out=$(taskset -c 1 redis-benchmark -p $PORT -c 50 -P $P -n $N -r 100000 -t $t --csv 2>/dev/null | tail -1)
      c1=$(cpu $pid)
      echo "$r $v $t $(echo "$out" | cut -d, -f2 | tr -d '"') $(python3 -c "print(round(($c1-$c0)*10000/$N,3))")"
    done
    kill $pid; wait $pid 2>/dev/null
  done
done
