#!/usr/bin/env python3
"""BRPOP ping-pong: two clients hand one token back and forth through two
lists. A: LPUSH ping + BRPOP pong (one write); B: BRPOP ping, then
LPUSH pong + BRPOP ping (one write). One cycle = two blocking hand-offs.
Prints cycles/s and the cycle time's median, p99 and p99.9 in microseconds.

usage: pingpong.py PORT SECONDS PING PONG [CORE_A CORE_B NCORES]
(with CORE_A/CORE_B, each client reconnects until `CLIENT ID % NCORES`
names that core: stairkv's client ids carry their core.)"""
import os
import socket
import sys
import time
from multiprocessing import Process, Queue


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, core=None, ncores=1):
        while True:
            self.s = socket.create_connection(("127.0.0.1", port))
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
            if core is None:
                return
            self.s.sendall(cmd("CLIENT", "ID"))
            cid = int(self.reply()[1:])
            if cid % ncores == core:
                return
            self.s.close()

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def reply(self):
        l = self.line()
        if l[:1] == b"*":
            n = int(l[1:])
            return [self.reply() for _ in range(max(n, 0))] if n >= 0 else None
        if l[:1] == b"$":
            n = int(l[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if l[:1] == b"-":
            raise RuntimeError(l.decode())
        return l


def player_b(port, ping, pong, core, ncores, stop_at):
    c = Conn(port, core, ncores)
    c.s.sendall(cmd("BRPOP", ping, 0))
    while True:
        r = c.reply()
        if r is None or r[1] == b"stop":
            return
        c.s.sendall(cmd("LPUSH", pong, "t") + cmd("BRPOP", ping, 0))
        c.reply()  # LPUSH's count


def main():
    port, secs, ping, pong = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    core_a = core_b = None
    ncores = 1
    if len(sys.argv) > 7:
        core_a, core_b, ncores = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    a = Conn(port, core_a, ncores)
    a.s.sendall(cmd("DEL", ping, pong))
    a.reply()
    b = Process(target=player_b, args=(port, ping, pong, core_b, ncores, 0))
    b.start()
    time.sleep(0.3)
    lat = []
    end = time.perf_counter() + secs
    t_start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        a.s.sendall(cmd("LPUSH", ping, "t") + cmd("BRPOP", pong, 0))
        a.reply()
        a.reply()
        lat.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_start
    a.s.sendall(cmd("LPUSH", ping, "stop"))
    a.reply()
    b.join()
    lat.sort()
    n = len(lat)
    pick = lambda q: lat[min(n - 1, int(q * n))] * 1e6
    print("cycles_per_s=%.0f median_us=%.1f p99_us=%.1f p999_us=%.1f cycles=%d"
          % (n / total, pick(0.5), pick(0.99), pick(0.999), n))


if __name__ == "__main__":
    main()
