#!/usr/bin/env bash
# Runs every test with the real components (etcd, kubectl …), lints, and a benchmark smoke run.
# BERTH_REAL=1 turns "component missing" from a skip into a failure: nothing is optional here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

command -v kubectl >/dev/null || { echo "test: kubectl must be on PATH" >&2; exit 1; }
command -v etcd >/dev/null || { echo "test: etcd must be on PATH" >&2; exit 1; }

export BERTH_REAL=1
export BERTH_PYTHON="$PWD/target/python/bin/python3"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The benchmarks are not timed tests; this only keeps them running. Numbers: docs/benchmarks.md.
cargo run --release --locked -p berth-bench --bin store -- --quick
cargo build --release --locked -p berth
cargo run --release --locked -p berth-bench --bin apiserver -- --quick
cargo run --release --locked -p berth-bench --bin controlplane -- --quick
