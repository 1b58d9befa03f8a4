#!/usr/bin/env python3
"""The medians of a runs file, as `tools/benchlib.py`'s `ab_table` prints them,
for this report's variants."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools"))
from benchlib import ab_table  # noqa: E402 (tools/ put on sys.path above)

ab_table(sys.argv[1] if len(sys.argv) > 1 else "runs.tsv", ["redis", "redisacl", "before", "new", "acl"])
