#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs dnnfi on the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh >/dev/null
MODEL=models/fmnist_resnet.onnx
./build/dnnfi inspect "$MODEL"
echo
./build/dnnfi run "$MODEL" --input models/fmnist_sample_input.npy
echo
# One fault: bit 30 (an exponent bit; bit 0 = least significant) of one element of the stem ReLU.
./build/dnnfi inject "$MODEL" --input models/fmnist_sample_input.npy \
  --node /stem/stem.2/Relu --index 100 --bit 30
