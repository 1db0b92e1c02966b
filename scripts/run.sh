#!/usr/bin/env bash
# Sets up a fresh machine and runs berth with its state in ./berth-data (or $BERTH_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p berth
exec target/release/berth server --data-dir "${BERTH_DATA_DIR:-berth-data}" "$@"
