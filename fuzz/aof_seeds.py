#!/usr/bin/env python3
"""Writes fuzz/corpus/aof/: seed logs for the `aof` target, encoded from the format's spec in
src/persist/log/mod.rs by this independent encoder (so the seeds also check the spec against the
Rust reader: `cargo test` in fuzz/ runs every seed). Each seed is 2 selector bytes (read size, cut)
and a log file. Usage: python3 fuzz/aof_seeds.py"""

import os
import struct


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def header(core, start_lsn, epoch):
    h = b"STAIRLOG" + struct.pack("<HHIQQ", 1, core, 0, start_lsn, epoch)
    return h + struct.pack("<I", crc32c(h))


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def frame(lsn, epoch, shard, kind, body):
    payload = struct.pack("<QQIB", lsn, epoch, shard, kind) + body
    ln = struct.pack("<I", len(payload))
    return ln + struct.pack("<II", crc32c(ln), crc32c(payload)) + payload


def good_log():
    recs = [
        (1, 0, 1, resp(b"SET", b"k", b"v", b"PXAT", b"1700000000000")),
        (1, 1, 1, resp(b"DEL", b"k")),
        (2, 0xFFFFFFFF, 1, resp(b"FLUSHALL")),
        (2, 3, 2, struct.pack("<H", 1) + resp(b"SET", b"moved", b"x")),
        (3, 3, 3, struct.pack("<H", 1)),
        (4, 3, 4, struct.pack("<H", 1)),
        (4, 5, 5, struct.pack("<H", 0)),
        (5, 5, 6, struct.pack("<H", 0)),
        (5, 2, 7, struct.pack("<I", 6)),
        (6, 2, 8, struct.pack("<I", 6)),
        (7, 2, 9, struct.pack("<I", 6)),
        (7, 2, 10, struct.pack("<I", 6)),
        (7, 2, 1, resp(b"PEXPIREAT", b"k2", b"1800000000000")),
    ]
    out = header(2, 40, 1)
    starts = []
    for i, (epoch, shard, kind, body) in enumerate(recs):
        starts.append(len(out))
        out += frame(40 + i, epoch, shard, kind, body)
    return out, starts


def main():
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "aof")
    os.makedirs(d, exist_ok=True)
    log, starts = good_log()
    mid = bytearray(log)
    mid[starts[5] + 14] ^= 0x20
    zeroed = bytearray(log)
    zeroed[starts[-1] + 5:] = bytes(len(log) - starts[-1] - 5)
    lying = log + struct.pack("<I", 0xFFFFFFF0) + struct.pack("<I", crc32c(struct.pack("<I", 0xFFFFFFF0))) + struct.pack("<I", 0) + b"abc"
    gap = header(0, 7, 3) + frame(7, 3, 0, 1, resp(b"DEL", b"a")) + frame(9, 3, 0, 1, resp(b"DEL", b"b"))
    back = header(0, 7, 3) + frame(7, 4, 0, 1, resp(b"DEL", b"a")) + frame(8, 3, 0, 1, resp(b"DEL", b"b"))
    seeds = {
        "good": b"\x40\xff" + log,
        "good_trickle": b"\x01\x80" + log,
        "torn": b"\x07\xc0" + log[:-9],
        "torn_header": b"\x03\x10" + log[:20],
        "corrupt_middle": b"\x10\xff" + bytes(mid),
        "zero_tail": b"\x20\xff" + bytes(zeroed) + bytes(300),
        "lying_length": b"\x05\xff" + lying,
        "position_gap": b"\x08\x90" + gap,
        "epoch_back": b"\x08\x90" + back,
        "header_only": b"\x01\x01" + header(1, 0, 0),
        "empty": b"\x01\x00",
        "not_a_log": b"\x04\x40REDIS0011\xfa\x09redis-ver\x057.0.15",
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
