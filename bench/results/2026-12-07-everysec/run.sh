#!/usr/bin/env bash
# everysec at pipeline 16 and the rewrite it triggers, two builds side by side.
#   BEFORE=<old binary> NEW=<new binary> ROUNDS=5 bash run.sh > runs.tsv
# Part "a": redis-benchmark -t set -n 2000000 -r 1000000 -d 32 -c 50 -P 16
# against a fresh server per run (--cores 1, pinned to CPU 0; the load on
# CPU 1): before and new with --appendonly yes --appendfsync everysec and
# Redis's rewrite defaults, and new without a log. Prints
#   a <round> <variant> <requests/s> <server CPU us/request> <rewrites>
# Part "b": 1,000,000 keys written (3,000,000 SETs at -P 16 over -r 1000000),
# then three BGREWRITEAOFs one after another; prints
#   b <round> <variant> <keys> <wall ms> <server CPU ms>
set -euo pipefail
BEFORE=${BEFORE:?path to the stairkv built before}
NEW=${NEW:-/work/main/target/release/stairkv}
ROUNDS=${ROUNDS:-5}
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
# The server is not this shell's child (started in a command substitution):
# wait for it to be gone by polling.
stop() { kill $1; while kill -0 $1 2>/dev/null; do sleep 0.05; done; }
start() { # bin dir port args...
  local bin=$1 dir=$2 port=$3; shift 3
  taskset -c 0 $bin --cores 1 --port $port --text-port 0 --http-port 0 --log-level warn --dir $dir "$@" > $dir.log 2>&1 &
  echo $!
}
one() { # round variant bin args...
  local r=$1 v=$2 bin=$3; shift 3
  local d port pid t0 t1 rps rw
  d=$(mktemp -d /var/tmp/everysec.XXXX); port=$((10000 + RANDOM % 10000))
  pid=$(start $bin $d $port "$@"); sleep 0.7
  t0=$(ticks $pid)
  rps=$(taskset -c 1 redis-benchmark -p $port -t set -n 2000000 -r 1000000 -d 32 -c 50 -P 16 --csv | tail -1 | cut -d, -f2 | tr -d '"')
  t1=$(ticks $pid)
  rw=$(redis-cli -p $port info persistence | tr -d '\r' | awk -F: '$1=="aof_rewrites"{print $2}')
  printf "a\t%s\t%s\t%s\t%s\t%s\n" $r $v $rps $(echo "($t1-$t0)*10000/2000000" | bc -l | cut -c1-5) "${rw:-0}"
  stop $pid; rm -rf $d $d.log
}
rewrites() { # round variant bin
  local r=$1 v=$2 bin=$3 d port pid t0 t1 s0 s1
  d=$(mktemp -d /var/tmp/everysec.XXXX); port=$((10000 + RANDOM % 10000))
  pid=$(start $bin $d $port --appendonly yes --auto-aof-rewrite-percentage 0); sleep 0.7
  taskset -c 1 redis-benchmark -p $port -t set -n 3000000 -r 1000000 -d 32 -c 50 -P 16 -q > /dev/null 2>&1; sleep 3
  for i in 1 2 3; do
    t0=$(ticks $pid); s0=$(date +%s%N)
    redis-cli -p $port bgrewriteaof > /dev/null
    while redis-cli -p $port info persistence | grep -q "aof_rewrite_in_progress:1"; do sleep 0.01; done
    s1=$(date +%s%N); t1=$(ticks $pid)
    printf "b\t%s\t%s\t%s\t%s\t%s\n" $r $v $(redis-cli -p $port dbsize) $(( (s1 - s0) / 1000000 )) $(( (t1 - t0) * 10 ))
    sleep 0.5
  done
  stop $pid; rm -rf $d $d.log
}
for r in $(seq 1 "$ROUNDS"); do
  order="before new none"
  [ $((r % 2)) = 0 ] && order="none new before"
  for v in $order; do
    case $v in
      before) one $r before $BEFORE --appendonly yes --appendfsync everysec ;;
      new) one $r new $NEW --appendonly yes --appendfsync everysec ;;
      none) one $r none $NEW ;;
    esac
  done
done
for r in 1 2; do
  rewrites $r before $BEFORE
  rewrites $r new $NEW
done
