#!/usr/bin/env bash
# usage: ROUNDS=5 VARIANTS="new base redis" P=1 run.sh ; prints: round variant rps cpu_us_per_req
set -u
ROUNDS=${ROUNDS:-5}; P=${P:-1}; N=${N:-200000}; PORT=${PORT:-17700}
VARIANTS=${VARIANTS:-"new base redis"}
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
ready() { for _ in $(seq 200); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done; }
for r in $(seq "$ROUNDS"); do
  vs=$VARIANTS; [ $((r % 2)) = 0 ] && vs=$(echo $VARIANTS | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $vs; do
    d=/var/tmp/alw-$v; rm -rf "$d"; mkdir -p "$d"
    case $v in
      redis) taskset -c 0 redis-server --port $PORT --save "" --appendonly yes --appendfsync always --dir $d --loglevel warning >/dev/null 2>&1 & pid=$!;;
      new*) STAIRKV_LAG_US=${v#new} taskset -c 0 /work/main/target/release/stairkv --cores 1 --port $PORT --text-port 0 --http-port 0 --log-level warn --dir $d --appendonly yes --appendfsync always >/dev/null 2>&1 & pid=$!;;
      base) taskset -c 0 /tmp/stairkv-base --cores 1 --port $PORT --text-port 0 --http-port 0 --log-level warn --dir $d --appendonly yes --appendfsync always >/dev/null 2>&1 & pid=$!;;
    esac
    ready
    c0=$(cpu $pid)
    out=$(taskset -c 1 redis-benchmark -p $PORT -t set -n $N -r 1000000 -d 32 -c 50 -P $P --csv 2>/dev/null | tail -1)
    c1=$(cpu $pid)
    rps=$(echo "$out" | cut -d, -f2 | tr -d '"')
    echo "$r $v $rps $(python3 -c "print(round(($c1-$c0)*10000/$N,3))")"
    kill $pid; wait $pid 2>/dev/null; rm -rf "$d"
  done
done
