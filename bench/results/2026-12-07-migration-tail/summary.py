#!/usr/bin/env python3
"""run.sh's figures. `summary.py cut RUN_DIR MOVES` (run.sh calls it after each run) keeps, of the
run's slow.csv (every request, with SLOW=0), the requests sent inside the mover's windows
(window.csv.gz) and those slower than 5 ms anywhere (stalls.csv), then deletes slow.csv.
`summary.py RAW` prints, per round and mode, the whole run's percentiles (summary.json), those of
the requests inside the windows, and of the mover's own requests on the moving key (moves-*.key);
then medians over rounds and the windows' requests of all rounds pooled."""
import csv
import gzip
import json
import statistics
import sys
from pathlib import Path


def windows(moves):
    return [tuple(map(int, l.split()[:2])) for l in open(moves)]


def cut(run, moves):
    w = windows(moves)
    rows = [r for r in csv.reader(open(run / "slow.csv")) if r and not r[0].startswith(("#", "sent"))]
    with gzip.open(run / "window.csv.gz", "wt") as out:
        out.writelines(f"{r[0]},{r[1]}\n" for r in rows if any(s <= int(r[0]) <= e for s, e in w))
    with open(run / "stalls.csv", "w") as out:
        out.writelines(",".join(r) + "\n" for r in rows if int(r[1]) > 5000)
    (run / "slow.csv").unlink()


def pct(us, q):
    return us[min(len(us) - 1, int(q * len(us)))] / 1000 if us else 0.0


def main(raw):
    rows, pooled, keyed = {}, {"steady": [], "moving": []}, {"steady": [], "moving": []}
    for lat in sorted(raw.glob("lat-*-r*")):
        mode, r = lat.name[4:].rsplit("-r", 1)
        whole = json.load(open(lat / "summary.json"))["commands"]["TOTAL"]["latency_ms"]
        inside = sorted(int(l.split(",")[1]) for l in gzip.open(lat / "window.csv.gz", "rt"))
        key = sorted(int(l) for l in open(raw / f"moves-{mode}-r{r}.txt.key"))
        pooled[mode] += inside
        keyed[mode] += key
        rows[(mode, int(r))] = [whole["p50"], whole["p99"], whole["p99.9"], whole["max"], len(inside),
                               pct(inside, 0.5), pct(inside, 0.99), pct(inside, 0.999),
                               inside[-1] / 1000 if inside else 0.0, pct(key, 0.5), key[-1] / 1000 if key else 0.0]
    print("mode round | whole run: p50 p99 p99.9 max ms | inside the windows: requests p50 p99 p99.9 max ms"
          " | the moving key: p50 max ms")
    fmt = lambda v: " ".join(f"{x:g}" for x in v[:4]) + " | " + " ".join(f"{x:g}" for x in v[4:9]) + " | " + \
        " ".join(f"{x:g}" for x in v[9:])
    for (mode, r), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(mode, r, "|", fmt(v))
    med = {}
    print("medians over rounds")
    for mode in ("steady", "moving"):
        vals = [v for (m, _), v in rows.items() if m == mode]
        med[mode] = [round(statistics.median(col), 3) for col in zip(*vals)]
        print(mode, "|", fmt(med[mode]))
    print("inside the windows, all rounds pooled: requests p50 p99 p99.9 max ms | moving key p50 p99 max ms")
    for mode in ("steady", "moving"):
        p, k = sorted(pooled[mode]), sorted(keyed[mode])
        print(mode, len(p), pct(p, 0.5), pct(p, 0.99), pct(p, 0.999), p[-1] / 1000, "|",
              pct(k, 0.5), pct(k, 0.99), k[-1] / 1000)
    ps, pm = sorted(pooled["steady"]), sorted(pooled["moving"])
    print(f"p99.9 moving / steady: whole run (median) {med['moving'][2] / med['steady'][2]:.2f}x;"
          f" inside the windows (median) {med['moving'][7] / med['steady'][7]:.2f}x,"
          f" pooled {pct(pm, 0.999) / pct(ps, 0.999):.2f}x")


if __name__ == "__main__":
    if sys.argv[1] == "cut":
        cut(Path(sys.argv[2]), sys.argv[3])
    else:
        main(Path(sys.argv[1]))
