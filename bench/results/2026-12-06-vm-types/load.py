"""Writes RESP commands to stdout for one of the memory datasets, for
`redis-cli --pipe`: `hashes` (1,000,000 hashes user:N of 10 small fields),
`ints` (one set of 10,000,000 integers), `strings` (one set of 1,000,000
short strings member:N). Usage: python3 load.py DATASET | redis-cli -p P --pipe"""
import sys


def cmd(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    which = sys.argv[1]
    w = sys.stdout.buffer
    if which == "hashes":
        for i in range(1_000_000):
            args = ["HSET", f"user:{i}"]
            for f in range(10):
                args += [f"field{f}", f"v{(i * 7 + f) % 1000}"]
            w.write(cmd(args))
    elif which == "ints":
        for start in range(0, 10_000_000, 1000):
            w.write(cmd(["SADD", "ints"] + list(range(start, start + 1000))))
    elif which == "strings":
        for start in range(0, 1_000_000, 1000):
            w.write(cmd(["SADD", "strings"] + [f"member:{i}" for i in range(start, start + 1000)]))
    else:
        sys.exit(f"unknown dataset {which}")


main()
