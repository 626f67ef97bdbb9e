#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs the demo campaign (configs/demo.yaml) on
# the bundled Fashion-MNIST model and Debian's Fashion-MNIST test images: fault-free Top-1
# accuracy, then TensorFI+'s fault model (one random bit flip in the output of a random node)
# with the SDC rate and its 95% interval. Results: runs/demo/results.sqlite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh >/dev/null
rm -rf runs/demo
./build/dnnfi campaign configs/demo.yaml
echo
echo "next: ./build/dnnfi summary runs/demo | ./build/dnnfi replay runs/demo --trial 0 |" \
  "./build/dnnfi export runs/demo --csv"
