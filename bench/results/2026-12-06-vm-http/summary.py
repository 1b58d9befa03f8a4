#!/usr/bin/env python3
"""Medians of run.sh's alternating rounds and the ratios the issue asks for."""
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(kind, mode, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == kind and r[1] == mode)
def line(kind, a, b, what):
    oa, ob = med(kind, a, 3), med(kind, b, 3)
    ca, cb = med(kind, a, 4), med(kind, b, 4)
    n = sum(1 for r in rows if r[0] == kind and r[1] == a)
    print(f"{what}: {a} {oa:,.0f} ops/s, {ca:.2f} us CPU/req; {b} {ob:,.0f} ops/s, {cb:.2f} us CPU/req; "
          f"ratio {a}/{b} ops {oa/ob:.3f}, CPU/req {ca/cb:.3f} (medians of {n} rounds)")
line("get", "http", "resp", "GET, 50 connections, pipeline 1")
if any(r[1] == "redis" for r in rows):
    line("get", "http", "redis", "GET, stairkv over HTTP vs redis-server over RESP")
    line("get", "resp", "redis", "GET, stairkv over RESP vs redis-server over RESP")
line("b", "watched", "plain", "workload (b)")
