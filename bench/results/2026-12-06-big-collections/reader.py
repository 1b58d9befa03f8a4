"""Reads the set `strings` whole (SMEMBERS) every INTERVAL seconds for DURATION seconds and prints
each call's time from send to the last byte. A PING follows each SMEMBERS in the same write; the
reply is complete when the bytes end with its +PONG (no member is "+PONG").
Usage: python3 reader.py PORT INTERVAL DURATION"""
import socket
import sys
import time

port, interval, duration = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
end = time.monotonic() + duration
while time.monotonic() < end:
    t0 = time.monotonic()
    s.sendall(b"*2\r\n$8\r\nSMEMBERS\r\n$7\r\nstrings\r\n*1\r\n$4\r\nPING\r\n")
    tail, size = b"", 0
    while not tail.endswith(b"+PONG\r\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            sys.exit("connection closed")
        size += len(chunk)
        tail = (tail + chunk)[-16:]
    print(f"{(time.monotonic() - t0) * 1000:.1f} ms {size} bytes", flush=True)
    time.sleep(max(0.0, interval - (time.monotonic() - t0)))
