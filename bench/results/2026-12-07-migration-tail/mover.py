#!/usr/bin/env python3
"""Move the shard holding KEY to the other core and straight back, COUNT times, over one connection.

usage: mover.py PORT KEY COUNT DELAY LOG [steady]

Starts after DELAY seconds, then every second: STAIRKV MIGRATE to the other core, polls STAIRKV
KEYSHARD every 5 ms until the key's owner changed, then the same back to where it was. Going there
and back keeps the shards where they were between moves: a run that left both shards on one core
would measure that imbalance (one core serving every key, the other forwarding) and not the moves.
With `steady` it polls as often without migrating, so the steady baseline carries the same client
work. Each move is logged to LOG as
`start_unix_ms end_unix_ms`, so requests can be laid against it. While a window is open a thread
asks the moving key itself (SISMEMBER KEY member:N, on its own connection, one per ms) and appends
each of those latencies, in µs, to LOG.key.
"""
import socket
import threading
import sys
import time


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return read(sock.makefile("rb"))


def read(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        return [read(f) for _ in range(int(rest))]
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    return rest.decode()


def main():
    port, key, count, delay, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    steady = len(sys.argv) > 6 and sys.argv[6] == "steady"
    sock = socket.create_connection(("127.0.0.1", int(port)))
    asked, window, done = [], threading.Event(), threading.Event()

    def ask():
        asker = socket.create_connection(("127.0.0.1", int(port)))
        n = 0
        while not done.is_set():
            if not window.wait(0.05):
                continue
            n += 1
            t = time.perf_counter()
            command(asker, "SISMEMBER", key, "member:%d" % (n * 7919 % 1000000))
            asked.append(int((time.perf_counter() - t) * 1e6))
            time.sleep(0.001)

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(delay)
    with open(log, "a") as out:
        for _ in range(count):
            shard, owner = command(sock, "STAIRKV", "KEYSHARD", key)[:2]
            window.set()
            t0 = time.time()
            for to in (1 - int(owner), int(owner)):
                if not steady:
                    command(sock, "STAIRKV", "MIGRATE", shard, to)
                polls = 0
                while True:
                    now = command(sock, "STAIRKV", "KEYSHARD", key)[1]
                    polls += 1
                    if (steady and polls >= 20) or (not steady and int(now) == to):
                        break
                    time.sleep(0.005)
            t1 = time.time()
            window.clear()
            out.write("%d %d %s\n" % (t0 * 1000, t1 * 1000, "steady" if steady else "moved"))
            time.sleep(1)
    done.set()
    asker.join()
    with open(log + ".key", "a") as out:
        out.writelines("%d\n" % us for us in asked)


main()
