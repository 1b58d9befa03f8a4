#!/usr/bin/env python3
"""Medians of a runs file: requests/s and server CPU µs per request per
variant, pipeline and test; against `before` both as a ratio of medians and
as the median of each round's own ratio (with its spread), and against
`redis` when it ran."""
import statistics, sys
from collections import defaultdict

runs = defaultdict(dict)  # (p, t, round) -> variant -> (rps, cpu µs/req)
for line in open(sys.argv[1] if len(sys.argv) > 1 else "runs.tsv"):
    r, v, p, t, rps, ticks, n = line.split()
    runs[(int(p), t, int(r))][v] = (float(rps), int(ticks) * 10_000 / int(n))

def values(p, t, v, i):
    return [x[v][i] for (pp, tt, _), x in runs.items() if (pp, tt) == (p, t) and v in x]

def paired(p, t, v, i):
    return [x[v][i] / x["before"][i] for (pp, tt, _), x in runs.items()
            if (pp, tt) == (p, t) and v in x and "before" in x]

variants = ["redis", "redisacl", "before", "new", "acl"]
print("| pipeline | test | variant | rounds | req/s | × before (rounds' median, min–max) | × redis | CPU µs/req | CPU × before (rounds' median) |")
print("|---|---|---|---|---|---|---|---|---|")
for p in (1, 16):
    for t in ("set", "get"):
        for v in variants:
            rps = values(p, t, v, 0)
            if not rps:
                continue
            cpu = statistics.median(values(p, t, v, 1))
            pr, pc = paired(p, t, v, 0), paired(p, t, v, 1)
            redis = values(p, t, "redis", 0)
            vs_redis = f"{statistics.median(rps) / statistics.median(redis):.2f}" if redis else "–"
            print(f"| {p} | {t.upper()} | {v} | {len(rps)} | {statistics.median(rps):,.0f} | "
                  f"{statistics.median(pr):.3f} ({min(pr):.2f}–{max(pr):.2f}) | {vs_redis} | "
                  f"{cpu:.2f} | {statistics.median(pc):.3f} |")
