#!/usr/bin/env bash
# Installs the Python package built in ${BUILD_DIR:-build} for Debian's python3, so that
# `python3 -c "import dnnfi"` works from any directory: as root into
# /usr/local/lib/python3.X/dist-packages, as another user into the user's site-packages
# (the build's DNNFI_PYTHON_INSTALL_DIR; `cmake -DDNNFI_PYTHON_INSTALL_DIR=...` to choose).
# Does nothing when the build has no Python package (DNNFI_PYTHON=OFF, sanitizer builds).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if ! grep -q "python/cmake_install.cmake" "$BUILD_DIR/cmake_install.cmake" 2>/dev/null; then
  echo "install_python: $BUILD_DIR has no Python package (DNNFI_PYTHON off); nothing installed"
  exit 0
fi
cmake --install "$BUILD_DIR" --component python | grep -v "^-- Up-to-date" || true
dir=$(sed -n 's/^DNNFI_PYTHON_INSTALL_DIR:PATH=//p' "$BUILD_DIR/CMakeCache.txt")
echo "install_python: dnnfi installed in $dir/dnnfi"
