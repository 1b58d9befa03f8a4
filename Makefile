# stairkv — build, run, test, bench.
CARGO ?= cargo
PORT ?= 6379
ARGS ?=

.PHONY: build release run test layers fmt clippy fuzz bench bench-quick bench-redis-benchmark bench-pubsub bench-elastic bench-cache bench-persist bench-tx clean

build:
	$(CARGO) build --release --bins

release: build

## Run the server: release build, 127.0.0.1:6379, every core. Extra flags: make run ARGS="--cores 2"
run: build
	./target/release/stairkv --port $(PORT) $(ARGS)

## Format check, the layers check, clippy with warnings as errors, then the whole test suite.
test:
	$(CARGO) fmt --all -- --check
	python3 tools/layers.py --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) build --release --bins
	$(CARGO) test --release -- --test-threads=2

## The import graph of src/: floors, imports running back up, loops between files, big files.
## Fails when an import runs back up or a loop between files is not explained in a module doc.
layers:
	python3 tools/layers.py --check

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

## Coverage-guided fuzzing (not part of `make test`): the RESP, text-protocol, config-file and RDB
## parsers and the append-only log reader under cargo-afl, FUZZ_SECONDS (default 60) each, one after the other; prints executions,
## crashes and hangs per target and fails on any. Needs `cargo install cargo-afl`. See fuzz/run.sh.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

## stairkv then redis-server (if installed), pinned to CPU 0, under stairkv-bench on CPU 1;
## report and plots under bench/results/<date>-<host>/. bench-quick: a few seconds per run.
bench: build
	tools/bench.sh

bench-quick: build
	QUICK=1 tools/bench.sh

## The server issue's own measurement: redis-benchmark -t set,get -c 50 -P 1 and -P 16 against
## stairkv --cores 1 and redis-server, each pinned to CPU 0 (load on CPU 1), server CPU per request
## (user + system); report under bench/results/<date>-<host>-redis-benchmark/. QUICK=1: smoke test.
bench-redis-benchmark: build
	tools/bench-redis-benchmark.sh

## Expiry-notification delay and pub/sub fan-out against redis-server; report under
## bench/results/<date>-<host>-pubsub/.
bench-pubsub: build
	tools/bench-pubsub.sh

## Shard migration under load, hot-core rebalancing, and 0 -> 10M keys against redis-server;
## report under bench/results/<date>-<host>-elastic/. QUICK=1 for a smoke test (own directory).
bench-elastic: build
	tools/bench-elastic.sh

## Miss ratio of each eviction policy with maxmemory at 10% of the working set (Zipf 0.99, Zipf 0.8,
## Zipf with scans) against redis-server allkeys-lru and allkeys-lfu, and the limit's throughput cost;
## report under bench/results/<date>-<host>-cache/. QUICK=1 for a smoke test (own directory).
bench-cache: build
	tools/bench-cache.sh

## Persistence against redis-server 7.0 with the same settings (issue 16): SET throughput with the
## append-only log (none / everysec / always, -P 1 and 16), BGSAVE of KEYS keys under a 1:1 load
## (peak RSS, p99.9, time), restart time with KEYS keys, and the kill -9 crash cycles
## (tests/aof_crash.rs); report under bench/results/<date>-<host>-persist/. PARTS="a b c d",
## KEYS=200000 to shrink, QUICK=1 for a smoke test (own directory).
bench-persist: build
	tools/bench-persist.sh

## Transactions and scripts against redis-server 7.0 (issue 18): MULTI/5 SETs/EXEC and an EVAL of the
## same on one core (pinned, CPU per transaction), across cores, and plain GET/SET beside cross-core
## transactions; report under bench/results/<date>-<host>-tx/. QUICK=1 for a smoke test.
bench-tx: build
	tools/bench-tx.sh

clean:
	$(CARGO) clean
