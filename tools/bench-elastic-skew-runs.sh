#!/usr/bin/env bash
# The hot-core skew scenario of tools/bench-elastic.sh, several runs in a row on
# fresh servers, and one report over them (issue 14: balanced, the slower core
# at >= 90% of the faster, within 5 s of the load's start, in 5 runs of 5).
#
#   tools/bench-elastic-skew-runs.sh              # 5 runs -> bench/results/<date>-<host>-skew/
#   RUNS=3 PORT=26379 tools/bench-elastic-skew-runs.sh
#
# Each run is `SCENARIOS=skew tools/bench-elastic.sh` with OUT=<dir>/run-N (its
# own report.md, skew-cores.svg, per-core polls, stairkv-bench report); its raw/
# logs go to <dir>/raw/run-N (not committed). The load average is recorded
# before and after every run: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
OUT=${OUT:-"bench/results/$(date +%Y-%m-%d)-$(hostname)-skew"}
mkdir -p "$OUT/raw"
: > "$OUT/loadavg.tsv"
for i in $(seq "$RUNS"); do
  printf "%s\tbefore\t%s\t%s\n" "$i" "$(date +%s.%N)" "$(cat /proc/loadavg)" >> "$OUT/loadavg.tsv"
  rm -rf "$OUT/run-$i" "$OUT/raw/run-$i"
  SCENARIOS=skew OUT="$OUT/run-$i" tools/bench-elastic.sh || echo "run $i: bench-elastic.sh failed" >&2
  printf "%s\tafter\t%s\t%s\n" "$i" "$(date +%s.%N)" "$(cat /proc/loadavg)" >> "$OUT/loadavg.tsv"
  mv "$OUT/run-$i/raw" "$OUT/raw/run-$i"
done
python3 tools/bench-elastic-skew-summary.py "$OUT" "$RUNS" > "$OUT/report.md"
echo "report: $OUT/report.md"
