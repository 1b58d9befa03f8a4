#!/usr/bin/env python3
"""A control for latency runs: sleep 1 ms at a time for SECONDS and report how
late the kernel woke this process (the overshoot past each 1 ms).

usage: taskset -c CPU tools/timer-probe.py SECONDS > probe.json

Pinned to a server's CPU beside the server, it tells a server's lateness from
the machine's: on a VM whose idle vCPUs halt, a vCPU can stay descheduled for
10-20 ms with timers due, and every process on that CPU is late together.
Prints one JSON object: sleeps, overshoot p50/p99/max (ms), how many were over
5 ms and when (Unix seconds)."""
import json
import sys
import time

seconds = float(sys.argv[1])
over, late = [], []
end = time.monotonic() + seconds
while time.monotonic() < end:
    t = time.monotonic()
    time.sleep(0.001)
    d = time.monotonic() - t - 0.001
    over.append(d)
    if d > 0.005:
        late.append([round(time.time(), 3), round(d * 1e3, 2)])
over.sort()
n = len(over)
pick = lambda q: round(over[min(n - 1, int(n * q))] * 1e3, 3) if n else None
print(json.dumps({"sleeps": n, "p50_ms": pick(0.5), "p99_ms": pick(0.99),
                  "max_ms": round(over[-1] * 1e3, 3) if n else None,
                  "over_5ms": len(late), "late": late[:50]}))
