"""Grows the set `ints` to 10,000,000 integers at a steady pace: 10,000 SADDs of 1,000 integers
each, RATE of them a second, on one connection (the replies are read by a second thread). The
commands are built before the paced part starts; "ready" is printed then. Prints the seconds the
paced part took and the largest time any reply was late against its send.
Usage: python3 pacer.py PORT RATE"""
import socket
import sys
import threading
import time

port, rate = int(sys.argv[1]), float(sys.argv[2])
cmds = []
for start in range(0, 10_000_000, 1000):
    args = [b"SADD", b"ints"] + [str(i).encode() for i in range(start, start + 1000)]
    cmds.append(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
s = socket.create_connection(("127.0.0.1", port))
sent = [0.0] * len(cmds)
worst = [0.0]


def replies():
    buf, n = b"", 0
    while n < len(cmds):
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if not line.startswith(b":"):
                sys.exit(f"unexpected reply {line!r}")
            worst[0] = max(worst[0], time.monotonic() - sent[n])
            n += 1


reader = threading.Thread(target=replies)
reader.start()
print("ready", flush=True)
t0 = time.monotonic()
for i, c in enumerate(cmds):
    delay = t0 + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    sent[i] = time.monotonic()
    s.sendall(c)
reader.join()
print(f"{time.monotonic() - t0:.2f} s, slowest reply {worst[0] * 1000:.1f} ms", flush=True)
