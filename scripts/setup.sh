#!/usr/bin/env bash
# Installs what building and testing berth needs on a Debian machine; a no-op when all is there.
set -euo pipefail

packages=(
  etcd-server        # the etcd store backend is tested against a real etcd (3.4)
  protobuf-compiler  # etcd-client generates its gRPC code at build time
  sqlite3            # inspecting store files by hand; the store itself bundles SQLite
  python3-venv       # the tests' venv for the Python kubernetes client (scripts/test.sh)
  tzdata             # /usr/share/zoneinfo: CronJobs' time zones (validation and schedules)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: cargo (a Rust toolchain) is required" >&2; exit 1; }
