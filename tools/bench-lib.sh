# Shared by tools/bench.sh and tools/bench-pubsub.sh (sourced, not run): start
# one server at a time pinned to $SERVER_CPU on $PORT, wait until it answers
# PING, stop it, and read its CPU time and RSS from /proc.
STAIRKV=${STAIRKV:-./target/release/stairkv}
BENCH=${BENCH:-./target/release/stairkv-bench}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-16379}

SERVERS=(stairkv)
if command -v redis-server >/dev/null; then SERVERS+=(redis); else echo "redis-server not installed: stairkv only (apt-get install redis-server)"; fi

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
ping_ok() { python3 - "$1" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
EOF
}
wait_port() { for _ in $(seq 200); do ping_ok "$PORT" && return 0; sleep 0.05; done; echo "server did not start"; return 1; }

SPID=
# start_server stairkv|before|redis [CORES [FLAG...]]: stairkv with CORES > 1 is left unpinned (it
# pins its own cores); FLAGs are passed to stairkv as they are. "before" is stairkv from the binary
# $BEFORE (an A/B of two builds).
start_server() {
  local cores=${2:-1}
  local extra=("${@:3}")
  local STAIRKV=$STAIRKV
  [ "$1" = before ] && STAIRKV=$BEFORE
  if [ "$1" = stairkv ] || [ "$1" = before ]; then
    if [ "$cores" = 1 ]; then
      taskset -c "$SERVER_CPU" $STAIRKV --cores 1 --port "$PORT" --text-port 0 --http-port 0 --log-level warn "${extra[@]}" &
    else
      $STAIRKV --cores "$cores" --port "$PORT" --text-port 0 --http-port 0 --log-level warn "${extra[@]}" &
    fi
  else
    taskset -c "$SERVER_CPU" redis-server --port "$PORT" --save "" --appendonly no --daemonize no --loglevel warning >/dev/null &
  fi
  SPID=$!
  wait_port
}
stop_server() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }
trap stop_server EXIT
