"""Helpers shared by the bench report scripts (imported, not run)."""
import subprocess


def sh(c):
    """A shell command's output, or "?" when it fails (reports never stop on a probe)."""
    try:
        return subprocess.check_output(c, shell=True, text=True, stderr=subprocess.DEVNULL).strip()
    except Exception:
        return "?"


def read(path, default=""):
    try:
        return open(path).read()
    except OSError:
        return default


def ab_table(path, variants):
    """Print, as a markdown table, the medians of a runs file (lines: round,
    variant, pipeline, test, requests/s, server CPU ticks at 100/s, requests):
    requests/s and server CPU µs per request per variant, pipeline and test;
    against `before` both as a ratio of medians and as the median of each
    round's own ratio (with its spread), and against `redis` when it ran."""
    import statistics
    from collections import defaultdict

    runs = defaultdict(dict)  # (p, t, round) -> variant -> (rps, cpu µs/req)
    for line in open(path):
        r, v, p, t, rps, ticks, n = line.split()
        runs[(int(p), t, int(r))][v] = (float(rps), int(ticks) * 10_000 / int(n))

    def values(p, t, v, i):
        return [x[v][i] for (pp, tt, _), x in runs.items() if (pp, tt) == (p, t) and v in x]

    def paired(p, t, v, i):
        return [x[v][i] / x["before"][i] for (pp, tt, _), x in runs.items()
                if (pp, tt) == (p, t) and v in x and "before" in x]

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
