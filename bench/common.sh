# Sourced by the bench/*.sh scripts: where things are. BENCH (this folder), ROOT (the repo),
# PYTHON (Debian's python3 with torch), BUILD_DIR (absolute), DNNFI (the CLI).
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
PYTHON="${PYTHON:-/usr/bin/python3}"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
DNNFI="$BUILD_DIR/dnnfi"
