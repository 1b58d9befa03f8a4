#!/usr/bin/env bash
# ev.sh BIN MODE(none|everysec|always) P [extra args]: one run, prints rps, cpu us/req, rewrites
BIN=$1; MODE=$2; P=$3; shift 3
N=${N:-2000000}
d=$(mktemp -d /var/tmp/ev.XXXX)
port=$((10000 + RANDOM % 10000))
case $MODE in
  none) taskset -c 0 $BIN --cores 1 --port $port --text-port 0 --log-level warn --dir $d "$@" > $d.log 2>&1 & ;;
  *) taskset -c 0 $BIN --cores 1 --port $port --text-port 0 --log-level warn --dir $d --appendonly yes --appendfsync $MODE "$@" > $d.log 2>&1 & ;;
esac
pid=$!; sleep 0.7
t0=$(awk '{print $14+$15}' /proc/$pid/stat)
rps=$(taskset -c 1 redis-benchmark -p $port -t set -n $N -r 1000000 -d 32 -c 50 -P $P --csv | tail -1 | cut -d, -f2 | tr -d '"')
t1=$(awk '{print $14+$15}' /proc/$pid/stat)
rw=$(redis-cli -p $port info persistence | grep -E "aof_rewrites:" | tr -d '\r')
echo "$MODE P$P rps=$rps cpu_us=$(echo "($t1-$t0)*10000/$N" | bc -l | cut -c1-5) $rw disk=$(du -sm $d | cut -f1)MB"
kill $pid; wait $pid 2>/dev/null
rm -rf $d $d.log
