#!/usr/bin/env python3
"""Write RESP SET commands for N distinct keys (key:%012d) with V-byte values to stdout,
for `redis-cli --pipe`: the same bytes for every server in a comparison."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
v = int(sys.argv[2]) if len(sys.argv) > 2 else 32
val = b"x" * v
out = sys.stdout.buffer
chunk = []
for i in range(n):
    k = b"key:%012d" % i
    chunk.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, v, val))
    if len(chunk) == 10000:
        out.write(b"".join(chunk))
        chunk = []
out.write(b"".join(chunk))
