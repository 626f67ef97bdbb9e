#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, ops, conformance, models, fi).
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L conformance
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
