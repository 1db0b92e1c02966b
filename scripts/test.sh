#!/usr/bin/env bash
# Runs every test with the real components (etcd, kubectl …), lints, and a benchmark smoke run.
# BERTH_REAL=1 turns "component missing" from a skip into a failure: nothing is optional here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# The Python `kubernetes` client, which the tests drive against berth, in a venv of our own.
venv="$PWD/target/python"
if ! "$venv/bin/python3" -c "import kubernetes" 2>/dev/null; then
  echo "setup: installing the Python kubernetes client into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes==37.0.2"
fi

command -v kubectl >/dev/null || { echo "test: kubectl must be on PATH" >&2; exit 1; }
command -v etcd >/dev/null || { echo "test: etcd must be on PATH" >&2; exit 1; }

export BERTH_REAL=1
export BERTH_PYTHON="$venv/bin/python3"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The benchmarks are not timed tests; this only keeps them running, in the dev profile the tests
# already built (a release build from scratch would add about a third to a CI run). Numbers come
# from release builds: docs/benchmarks.md.
cargo build --locked -p berth -p berth-bench
target/debug/store --quick
target/debug/apiserver --quick
target/debug/controlplane --quick
