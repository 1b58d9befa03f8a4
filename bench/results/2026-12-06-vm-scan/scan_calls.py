"""A full SCAN ... COUNT N over a raw socket, timing each call: prints
"<seconds> <keys listed> <calls> <median call us> <p99 call us>"."""
import socket
import sys
import time

port, count = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")


def read():
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        return [read() for _ in range(int(rest))]
    if kind == b"$":
        n = int(rest)
        data = f.read(n + 2)[:-2] if n >= 0 else None
        return data
    if kind == b"-":
        raise RuntimeError(rest)
    return rest


cursor, listed, calls, times = b"0", 0, 0, []
start = time.perf_counter()
while True:
    req = b"*4\r\n$4\r\nSCAN\r\n$%d\r\n%s\r\n$5\r\nCOUNT\r\n$%d\r\n%s\r\n" % (
        len(cursor), cursor, len(count), count)
    t = time.perf_counter()
    s.sendall(req)
    cursor, keys = read()
    times.append(time.perf_counter() - t)
    listed += len(keys)
    calls += 1
    if cursor == b"0":
        break
total = time.perf_counter() - start
times.sort()
print("%.3f\t%d\t%d\t%.1f\t%.1f" % (total, listed, calls,
      times[len(times) // 2] * 1e6, times[int(len(times) * 0.99)] * 1e6))
