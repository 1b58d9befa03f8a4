#!/usr/bin/env bash
# `make fuzz`: build the AFL targets with cargo-afl, run each for FUZZ_SECONDS
# (default 60) one after the other, and print executions, crashes and hangs per
# target. Findings stay in fuzz/out/<target>/default/{crashes,hangs}; a later run
# resumes from the queue there (AFL_AUTORESUME), so fuzzing keeps going where it
# stopped. Exits 1 when any target has a crash or a hang on record.
#
# Needs: cargo-afl (`cargo install cargo-afl`; its install builds AFL++ with cc
# and make; on older cargo-afl run `cargo afl config --build`). Debian's afl++
# package is not required (cargo-afl ships its own afl-fuzz).
#
# Env: FUZZ_SECONDS (per target), FUZZ_TARGETS (default "resp resp_pieces text config aof rdb http values"),
# FUZZ_TIMEOUT_MS (AFL's hang limit per execution, default 200), FUZZ_EXECS (also
# stop a target once this many executions are on record, e.g. 10000000),
# FUZZ_MAX_LEN (largest input AFL builds, default 8192: the RESP target's small
# Limits are crossed well below it, the text parser's 1 MiB line limit and the
# RESP server limits are unit-tested at their boundary instead; inputs of tens
# of KB only slowed the search down).
set -euo pipefail

cd "$(dirname "$0")"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-resp resp_pieces text config aof rdb http values}
FUZZ_TIMEOUT_MS=${FUZZ_TIMEOUT_MS:-200}
FUZZ_EXECS=${FUZZ_EXECS:-}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-8192}
export CARGO_TARGET_DIR="$PWD/target"

if ! cargo afl --version >/dev/null 2>&1; then
    echo "fuzz: cargo-afl is missing. Install it with:  cargo install cargo-afl" >&2
    echo "      (it builds AFL++ itself; needs a C compiler and make: apt-get install build-essential)" >&2
    exit 2
fi
# cargo-afl builds AFL++ at install time; an older one, or a new toolchain,
# needs it built once for this rustc.
if ! [[ "$(cargo afl fuzz -h 2>&1 || true)" == *"Required parameters"* ]]; then
    echo "fuzz: building AFL++ for this toolchain (cargo afl config --build)" >&2
    cargo afl config --build
fi

cargo afl build --release --bins

# No UI, no CPU-frequency or core-pattern demands (containers cannot change
# them), no CPU binding (the machine is shared), stop at FUZZ_SECONDS.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1 AFL_AUTORESUME=1 AFL_INPUT_LEN_MAX="$FUZZ_MAX_LEN"
# A crash must end in microseconds: symbolising a backtrace of these 30 MB
# binaries takes ~0.1 s, enough on a loaded machine to pass the hang limit and
# file the crash as a hang. Reproduce with RUST_BACKTRACE=1 to see it.
export RUST_BACKTRACE=0

stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$2"; }

status=0
summary=()
for t in $FUZZ_TARGETS; do
    out="out/$t"
    mkdir -p "$out"
    # resp_pieces reads the same input layout as resp, so it shares its seeds.
    seeds="corpus/$t"
    [ -d "$seeds" ] || seeds="corpus/${t%_pieces}"
    echo "fuzz: $t for ${FUZZ_SECONDS}s ($seeds -> $out)" >&2
    # Keep only AFL's last lines: its per-second status goes to the log.
    if ! cargo afl fuzz -V "$FUZZ_SECONDS" ${FUZZ_EXECS:+-E "$FUZZ_EXECS"} -t "$FUZZ_TIMEOUT_MS" -i "$seeds" -o "$out" \
        -- "target/release/$t" >"$out/afl.log" 2>&1; then
        echo "fuzz: afl-fuzz failed for $t; last lines of $out/afl.log:" >&2
        tail -20 "$out/afl.log" >&2
        status=1
        continue
    fi
    stats="$out/default/fuzzer_stats"
    execs=$(stat execs_done "$stats")
    speed=$(stat execs_per_sec "$stats")
    crashes=$(stat saved_crashes "$stats")
    hangs=$(stat saved_hangs "$stats")
    corpus=$(stat corpus_count "$stats")
    edges=$(stat edges_found "$stats")
    summary+=("$(printf '%-8s %12s %10s %8s %6s %8s %7s' \
        "$t" "$execs" "$speed" "$crashes" "$hangs" "$corpus" "$edges")")
    if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
        status=1
    fi
done

printf '%-8s %12s %10s %8s %6s %8s %7s\n' target execs execs/s crashes hangs corpus edges
printf '%s\n' "${summary[@]}"
echo "(totals since fuzz/out/<target> was created: runs resume; rm -rf fuzz/out to start over)"
if [ "$status" != 0 ]; then
    echo "fuzz: crashes or hangs: see fuzz/out/<target>/default/{crashes,hangs}; reproduce with" >&2
    echo "      fuzz/target/release/<target> < fuzz/out/<target>/default/crashes/<file>" >&2
fi
exit "$status"
