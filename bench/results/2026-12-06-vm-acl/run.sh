#!/usr/bin/env bash
# What ACL users and client-side caching cost on the request path.
# redis-benchmark SET and GET at pipeline 1 and 16 against:
#   redis   redis-server 7.0.15, default user (no password)
#   before  stairkv before ACL users and tracking (BEFORE, main at 16d9d80)
#   new     stairkv with them, default user (allowed everything: the
#           dispatcher's check is one atomic load and a bit-set test)
#   acl     stairkv, logged in as a restricted user: `on >pw ~key:* +@all
#           -@dangerous` (every request checked: command id, each key's
#           access against the glob `key:*`)
#   redisacl redis-server with the same user
# Servers pinned to CPU 0 (stairkv --cores 1), load to CPU 1. Variants
# alternate in order each round (reversed every other round). Prints round,
# variant, pipeline, test, requests/s, server CPU ticks (utime+stime, 100/s)
# over the test, requests.
#   BEFORE=/tmp/stairkv-16d9d80 NEW=/tmp/stairkv-new ROUNDS=5 run.sh
set -euo pipefail
BEFORE=${BEFORE:?path to the stairkv built before this change}
NEW=${NEW:-/work/main/target/release/stairkv}
ROUNDS=${ROUNDS:-5}
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
variants=${VARIANTS:-"redis before new acl redisacl"}
for r in $(seq 1 "$ROUNDS"); do
  set -- $variants
  [ $((r % 2)) = 0 ] && set -- $(echo $variants | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in "$@"; do
    d=$(mktemp -d)
    for try in 1 2 3 4 5; do
      port=$((10000 + RANDOM % 10000))
      case $v in
        redis|redisacl) taskset -c 0 redis-server --port $port --save '' --appendonly no --dir $d > $d/log 2>&1 & ;;
        before) taskset -c 0 $BEFORE --cores 1 --port $port --text-port 0 > $d/log 2>&1 & ;;
        new|acl) taskset -c 0 $NEW --cores 1 --port $port --text-port 0 > $d/log 2>&1 & ;;
      esac
      pid=$!; sleep 0.7
      kill -0 $pid 2>/dev/null && break
    done
    auth=()
    if [ $v = acl ] || [ $v = redisacl ]; then
      redis-cli -p $port ACL SETUSER app on '>pw' '~key:*' '+@all' '-@dangerous' > /dev/null
      auth=(--user app -a pw)
    fi
    for p in 1 16; do
      n=$([ $p = 1 ] && echo 300000 || echo 3000000)
      for t in set get; do
        t0=$(ticks $pid)
        rps=$(taskset -c 1 redis-benchmark -p $port "${auth[@]}" -t $t -n $n -c 50 -P $p -r 100000 -d 32 -q 2>/dev/null \
              | tr '\r' '\n' | grep -i "requests per second" | tail -1 | awk '{print $2}')
        t1=$(ticks $pid)
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" $r $v $p $t $rps $((t1 - t0)) $n
      done
    done
    kill $pid; wait $pid 2>/dev/null || true
    rm -rf $d
  done
done
