#!/usr/bin/env bash
# Installs the Debian 12 packages dnnfi needs to build and test (run as root, or with sudo): the
# C++ libraries, the test data, and Python 3 with pybind11, NumPy, pytest and pandas for the Python
# package (python/).
# --fuzz adds what scripts/fuzz.sh needs (clang-14, libFuzzer, clang's OpenMP).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake pkg-config git
  libonnx-dev libprotobuf-dev protobuf-compiler
  libdnnl-dev ocl-icd-opencl-dev
  libcli11-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libstb-dev
  zlib1g-dev libssl-dev libzip-dev libhdf5-dev dataset-fashion-mnist
  libgtest-dev libgmock-dev
  python3-dev pybind11-dev python3-numpy python3-pytest python3-pandas
  libonnx-testdata
  libopenmpi-dev openmpi-bin libcereal-dev
  # dnnfi report's test renders a report in headless Chromium; fonts for its text, python3 runs
  # the test (apt Recommends are not installed, so each is named)
  chromium fonts-dejavu-core python3
)
if [ "${1:-}" = --fuzz ]; then PKGS+=(clang-14 libclang-rt-14-dev libomp-14-dev); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
