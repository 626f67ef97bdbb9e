#!/usr/bin/env bash
# Configures and builds dnnfi into ${BUILD_DIR:-build}. Extra arguments go to cmake, e.g.
# -DDNNFI_NATIVE=ON (optimise for this machine) or -DDNNFI_SANITIZE=ON (ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
