#!/usr/bin/env bash
# single-client latency: rounds of redis-benchmark -c 1 against redis and stairkv, both pinned CPU 0, client CPU 1
B=${B:-/work/main/target/release/stairkv}; R=${ROUNDS:-3}; N=${N:-40000}; T=${T:-set}
for r in $(seq $R); do
 for s in redis stairkv; do
  port=$((10000 + RANDOM % 10000))
  if [ $s = redis ]; then taskset -c 0 redis-server --port $port --save '' --appendonly no >/dev/null 2>&1 & 
  else taskset -c 0 $B --cores 1 --port $port --text-port 0 $EXTRA >/dev/null 2>&1 & fi
  pid=$!; sleep 0.7
  a=$(awk '{print $14+$15}' /proc/$pid/stat)
  out=$(taskset -c 1 redis-benchmark -p $port -t $T -n $N -c 1 -P 1 --csv 2>/dev/null | tail -1)
  b=$(awk '{print $14+$15}' /proc/$pid/stat)
  echo "$r $s $out cpu_us_per_req=$(( (b-a)*10000000/N ))e-3"
  kill $pid; wait $pid 2>/dev/null
 done
done
