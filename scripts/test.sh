#!/usr/bin/env bash
# Installs dependencies, builds, installs the Python package for Debian's python3 (so that
# `python3 -c "import dnnfi"` works afterwards), and runs every test (unit, ops, conformance,
# models, fi, campaign, keras, fuzz, python).
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L conformance
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
bash scripts/install_python.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
