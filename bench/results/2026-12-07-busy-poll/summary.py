"""Medians of raw.tsv (round variant test ops/s p50_ms cpu_ticks requests) per test and variant."""
import statistics as st, sys, collections
rows = [l.split('\t') for l in open(sys.argv[1] if len(sys.argv) > 1 else 'raw.tsv').read().splitlines() if l.strip()]
d = collections.defaultdict(lambda: collections.defaultdict(list))
for r, v, t, ops, p50, ticks, n in rows:
    if not ops:
        continue
    d[t][v].append((float(ops), float(p50), int(ticks) * 10000 / int(n)))
vs = ['redis', 'spin0', 'spin20']
print('| test | ' + ' | '.join(f'{v} ops/s' for v in vs) + ' | spin20 / spin0 | spin20 / redis | ' + ' | '.join(f'{v} p50 ms' for v in vs) + ' | ' + ' | '.join(f'{v} CPU µs/req' for v in vs) + ' |')
print('|' + '---|' * (3 * len(vs) + 3))
for t in d:
    m = {v: [st.median(x[i] for x in d[t][v]) for i in range(3)] for v in vs if d[t][v]}
    print(f'| {t} | ' + ' | '.join(f'{m[v][0]:,.0f}' for v in vs) + f' | **{m["spin20"][0]/m["spin0"][0]:.2f}×** | **{m["spin20"][0]/m["redis"][0]:.2f}×** | ' + ' | '.join(f'{m[v][1]:.3f}' for v in vs) + ' | ' + ' | '.join(f'{m[v][2]:.2f}' for v in vs) + ' |')
