#!/usr/bin/env python3
"""Medians of run.sh's rounds and the ratios to redis-server: summary.py [RAW_DIR]"""
import collections, statistics, sys
raw = sys.argv[1] if len(sys.argv) > 1 else __file__.rsplit('/', 1)[0] + '/raw'
ops, cpu = collections.defaultdict(list), collections.defaultdict(list)
for line in open(raw + '/runs.txt'):
    r, server, test, p, o, c = line.split()
    ops[(test, p, server)].append(float(o)); cpu[(test, p, server)].append(float(c))
print('| test | P | rounds | before req/s | after req/s | redis req/s | before × redis | after × redis '
      '| before CPU µs/req | after CPU µs/req | redis CPU µs/req | after CPU × redis |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|')
tests = sorted({(t, p) for t, p, _ in ops}, key=lambda k: (k[0], int(k[1])))
for t, p in tests:
    m = {s: statistics.median(ops[(t, p, s)]) for s in ('before', 'after', 'redis')}
    c = {s: statistics.median(cpu[(t, p, s)]) for s in ('before', 'after', 'redis')}
    print(f"| {t} | {p} | {len(ops[(t, p, 'after')])} | {m['before']:,.0f} | {m['after']:,.0f} | {m['redis']:,.0f} "
          f"| {m['before'] / m['redis']:.2f} | **{m['after'] / m['redis']:.2f}** | {c['before']:.3f} | {c['after']:.3f} "
          f"| {c['redis']:.3f} | {c['after'] / c['redis']:.2f} |")
