"""Sends PING every millisecond on one connection until the file STOP exists, then prints the
slowest round trip in ms. Usage: python3 pinger.py PORT STOP"""
import os
import socket
import sys
import time

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
stop = sys.argv[2]
worst = 0.0
while not os.path.exists(stop):
    t0 = time.monotonic()
    s.sendall(b"PING\r\n")
    if s.recv(64) != b"+PONG\r\n":
        sys.exit("unexpected reply")
    worst = max(worst, time.monotonic() - t0)
    time.sleep(0.001)
print(f"{worst * 1000:.1f}")
