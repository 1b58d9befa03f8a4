#!/usr/bin/env python3
"""What an operator's tools do to the server while they watch: the dashboard's two
WebSockets (/v1/stats, a tick a second; /v1/events, subscribed to every keyspace event)
held open and read, and /metrics scraped every second (as Prometheus with a 1 s interval).
Usage: watch.py HTTP_PORT SECONDS. Prints the scrapes made and the frames' bytes read."""
import base64, http.client, os, select, socket, sys, time

port, secs = int(sys.argv[1]), float(sys.argv[2])

def ws_open(path):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s

socks = [ws_open("/v1/stats"), ws_open("/v1/events?patterns=__keyevent@0__:*")]
conn = http.client.HTTPConnection("127.0.0.1", port)
end = time.time() + secs
next_scrape = time.time()
scrapes = read = 0
while time.time() < end:
    wait = max(0.0, min(next_scrape, end) - time.time())
    ready, _, _ = select.select(socks, [], [], wait)
    for s in ready:
        read += len(s.recv(1 << 16))
    if time.time() >= next_scrape:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read()
        assert b"stairkv_up 1" in body
        scrapes += 1
        next_scrape += 1.0
print(f"scrapes={scrapes} ws_bytes={read}")
