#!/usr/bin/env python3
"""Timed probes for tools/bench-persist.sh (run by it, one server at a time).

  bench-persist-probe.py snapshot OUT --port P --pid PID [load options]
      BGSAVE under load. A load generator (stairkv-bench, open loop: --rate,
      SET:GET 1:1, uniform over --keys) runs in back-to-back windows, each its
      own process with its own --report-dir, pinned to --cpu: --warmup seconds
      of load not measured (the connections' start), then --window seconds
      measured. After --steady windows, BGSAVE is sent 0.1 s into the measured
      part of the next one;
      INFO persistence is polled every 20 ms until the save is over
      (rdb_bgsave_in_progress:0 and rdb_saves moved on); --tail more windows
      follow. Meanwhile VmRSS of the server and of its children (redis-server's
      fork) is sampled every --rss-ms ms, and Pss (smaps_rollup, which splits
      pages the fork still shares) every --pss-ms ms. Writes OUT/samples.tsv,
      OUT/windows.tsv, OUT/w<i>/ (each window's report) and OUT/result.json:
      RSS before and peak during, the save's time, and p99.9 of the windows
      before against the windows that overlap the save (merged from their
      .hgrm files).

  bench-persist-probe.py restart OUT --port P --keys N -- CMD...
      Spawns CMD (a server that loads a snapshot at start) and times, from
      the spawn: the first PING answered +PONG (not -LOADING), and DBSIZE
      reaching N. Then SIGTERM. Writes OUT (a JSON file).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    """A blocking RESP client for the few commands the probes send."""

    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return line.decode(errors="replace")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors="replace")
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise ValueError(f"unexpected reply {line!r}")

    def cmd(self, *args):
        self.s.sendall(resp(*args))
        return self._reply()

    def close(self):
        self.s.close()


def info(conn, section):
    text = conn.cmd("INFO", section)
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    """The server's child processes (redis-server's BGSAVE fork)."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return kids


def parse_hgrm(path):
    """(value ms, count) buckets from an HdrHistogram percentile file."""
    out, prev = [], 0
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 4:
                    continue
                try:
                    value, cum = float(parts[0]), int(parts[2])
                except ValueError:
                    continue
                if cum > prev:
                    out.append((value, cum - prev))
                    prev = cum
    except OSError:
        pass
    return out


def quantile(buckets, q):
    total = sum(c for _, c in buckets)
    if not total:
        return None
    want, seen = q * total, 0
    for v, c in sorted(buckets):
        seen += c
        if seen >= want:
            return v
    return max(v for v, _ in buckets)


def snapshot(a):
    os.makedirs(a.out, exist_ok=True)
    samples = []  # (t, rss parent, rss children, pss total or None, children count)
    stop = threading.Event()
    t0 = time.monotonic()

    def sampler():
        next_pss = 0.0
        while not stop.is_set():
            now = time.monotonic() - t0
            kids = children(a.pid)
            r = rss_kb(a.pid)
            rk = sum(rss_kb(k) for k in kids)
            pss = None
            if a.pss_ms > 0 and now >= next_pss:
                kp = [pss_kb(k) for k in kids]
                pss = pss_kb(a.pid) + sum(kp)
                # A fork that ends between the reads leaves the parent's pages
                # halved and the child's uncounted: such a sample says nothing.
                if children(a.pid) != kids or 0 in kp:
                    pss = None
                else:
                    next_pss = now + a.pss_ms / 1000
            samples.append((now, r, rk, pss, len(kids)))
            time.sleep(a.rss_ms / 1000)

    save = {"start": None, "end": None, "status": None, "saves_before": None}

    def poll_save():
        conn = Conn(a.port, timeout=30)
        while not stop.is_set():
            p = info(conn, "persistence")
            if p.get("rdb_bgsave_in_progress", "0").strip() == "0" and \
                    int(p.get("rdb_saves", "0")) > save["saves_before"]:
                save["end"] = time.monotonic() - t0
                save["status"] = p.get("rdb_last_bgsave_status", "?").strip()
                break
            time.sleep(0.02)
        conn.close()

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    windows = []
    poller = None
    i = 0
    while True:
        wdir = os.path.join(a.out, f"w{i}")
        cmd = ["taskset", "-c", a.cpu, a.bench, "--port", str(a.port), "-c", str(a.conns),
               "-P", str(a.pipeline), "--rate", str(a.rate), "--ratio", "1:1",
               "--distribution", "uniform", "--keys", str(a.keys), "--value-size", str(a.value_size),
               "--duration", str(a.window), "--warmup", str(a.warmup), "--seed", str(i + 1), "--report-dir", wdir, "--quiet"]
        ws = time.monotonic() - t0
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i == a.steady:
            time.sleep(a.warmup + 0.1)
            conn = Conn(a.port)
            save["saves_before"] = int(info(conn, "persistence").get("rdb_saves", "0"))
            save["start"] = time.monotonic() - t0
            reply = conn.cmd("BGSAVE")
            conn.close()
            if not str(reply).startswith("+"):
                stop.set()
                proc.wait()
                sys.exit(f"BGSAVE answered {reply}")
            poller = threading.Thread(target=poll_save, daemon=True)
            poller.start()
        rc = proc.wait()
        we = time.monotonic() - t0
        windows.append((i, ws, we, rc, wdir))
        i += 1
        if save["end"] is not None and sum(1 for w in windows if w[1] >= save["end"]) >= a.tail:
            break
        if i >= a.max_windows:
            break
    stop.set()
    th.join()
    if poller:
        poller.join(timeout=5)

    with open(os.path.join(a.out, "samples.tsv"), "w") as f:
        f.write("t_s\trss_kb\tchildren_rss_kb\tpss_kb\tchildren\n")
        for t, r, rk, p, n in samples:
            f.write(f"{t:.3f}\t{r}\t{rk}\t{'' if p is None else p}\t{n}\n")
    with open(os.path.join(a.out, "windows.tsv"), "w") as f:
        f.write("window\tstart_s\tend_s\texit\n")
        for w, ws, we, rc, _ in windows:
            f.write(f"{w}\t{ws:.3f}\t{we:.3f}\t{rc}\n")

    s0, s1 = save["start"], save["end"]
    if s1 is None:
        s1 = windows[-1][2]
    before = [s for s in samples if s[0] < s0]
    during = [s for s in samples if s0 <= s[0] <= s1 + 0.1]
    rss_before = before[-1][1] + before[-1][2] if before else None
    rss_before_max = max((s[1] + s[2] for s in before), default=None)
    rss_peak = max((s[1] + s[2] for s in during), default=None)
    rss_peak_parent = max((s[1] for s in during), default=None)
    pss_b = [s[3] for s in before if s[3] is not None]
    pss_d = [s[3] for s in during if s[3] is not None]

    steady_w = [w for w in windows if w[2] <= s0]
    during_w = [w for w in windows if w[1] + a.warmup < s1 and w[2] > s0]

    def merged(ws):
        b = []
        for w in ws:
            b += parse_hgrm(os.path.join(w[4], "total.hgrm"))
        return b

    def summary(w):
        try:
            with open(os.path.join(w[4], "summary.json")) as f:
                j = json.load(f)
            t = j["commands"]["TOTAL"]
            return {"ops": t["ops"], "errors": t["errors"], "ok": j.get("ok"),
                    "p99.9": t["latency_ms"]["p99.9"], "max": t["latency_ms"]["max"]}
        except (OSError, KeyError, ValueError):
            return None

    bs, bd = merged(steady_w), merged(during_w)
    result = {
        "save_s": s1 - s0 if save["end"] is not None else None,
        "save_status": save["status"],
        "rss_before_kb": rss_before,
        "rss_before_max_kb": rss_before_max,
        "rss_peak_kb": rss_peak,
        "rss_peak_parent_kb": rss_peak_parent,
        "pss_before_kb": pss_b[-1] if pss_b else None,
        "pss_peak_kb": max(pss_d) if pss_d else None,
        "p999_steady_ms": quantile(bs, 0.999),
        "p999_during_ms": quantile(bd, 0.999),
        "p99_steady_ms": quantile(bs, 0.99),
        "p99_during_ms": quantile(bd, 0.99),
        "max_during_ms": max((v for v, _ in bd), default=None),
        "steady_windows": len(steady_w),
        "during_windows": len(during_w),
        "requests_steady": sum(c for _, c in bs),
        "requests_during": sum(c for _, c in bd),
        "window_errors": sum((summary(w) or {}).get("errors", 0) for w in windows),
        "windows_failed": sum(1 for w in windows if w[3] != 0),
        "windows": [{"i": w[0], "start": round(w[1], 3), "end": round(w[2], 3), "exit": w[3],
                     "summary": summary(w)} for w in windows],
    }
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "windows"}))


def restart(a):
    t0 = time.monotonic()
    proc = subprocess.Popen(a.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ping = all_keys = first_dbsize = keys = rss = None
    loading_replies = 0
    conn = None
    deadline = t0 + a.timeout
    try:
        while time.monotonic() < deadline and ping is None:
            if proc.poll() is not None:
                sys.exit(f"server exited with {proc.returncode} before answering PING: {a.cmd}")
            try:
                if conn is None:
                    conn = Conn(a.port, timeout=a.timeout)
                r = conn.cmd("PING")
                if r == "+PONG":
                    ping = time.monotonic() - t0
                    break
                loading_replies += 1
            except (OSError, ConnectionError):
                if conn:
                    conn.close()
                conn = None
            time.sleep(0.005)
        while ping is not None and time.monotonic() < deadline:
            n = conn.cmd("DBSIZE")
            if first_dbsize is None:
                first_dbsize = n
            if isinstance(n, int) and n >= a.keys:
                all_keys = time.monotonic() - t0
                break
            time.sleep(0.005)
        keys = conn.cmd("DBSIZE") if conn else None
        rss = rss_kb(proc.pid)
    finally:
        if conn:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = {"ping_s": ping, "all_keys_s": all_keys, "dbsize": keys, "dbsize_at_ping": first_dbsize,
           "loading_replies": loading_replies,
           "rss_kb": rss, "cmd": " ".join(a.cmd)}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("out")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--bench", default="./target/release/stairkv-bench")
    s.add_argument("--cpu", default="1")
    s.add_argument("--keys", type=int, required=True)
    s.add_argument("--rate", type=int, default=50000)
    s.add_argument("--conns", type=int, default=50)
    s.add_argument("--pipeline", type=int, default=16)
    s.add_argument("--value-size", default="32")
    s.add_argument("--window", type=float, default=1.0)
    s.add_argument("--warmup", type=float, default=0.2)
    s.add_argument("--steady", type=int, default=5)
    s.add_argument("--tail", type=int, default=2)
    s.add_argument("--max-windows", type=int, default=900)
    s.add_argument("--rss-ms", type=float, default=20)
    s.add_argument("--pss-ms", type=float, default=250)
    r = sub.add_parser("restart")
    r.add_argument("out")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--keys", type=int, required=True)
    r.add_argument("--timeout", type=float, default=600)
    r.add_argument("cmd", nargs="+")
    a = p.parse_args()
    snapshot(a) if a.what == "snapshot" else restart(a)


if __name__ == "__main__":
    main()
