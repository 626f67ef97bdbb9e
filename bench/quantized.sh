#!/usr/bin/env bash
# Quantized (int8) models: latency of the tests/models/quant fixtures in both forms (QDQ and
# QOperator), and of full-size (224x224) int8 ResNet-18 and MobileNetV2 when bench/work/ holds
# them (bench/make_int8_models.sh makes them), in `dnnfi run` and in ONNX Runtime
# (bench/ort_bench.js), side by side, with the largest output difference between the two engines
# and whether their top-1 classes agree.
#
#   bench/quantized.sh [--repeat R] [--warmup W] [--rounds K] [--baseline DNNFI]
#
# Each model runs in both engines alternately, K rounds (the order flips each round), each run W
# warm-ups then R timed repeats on one thread (bench/pairs.sh); the table gives the median of the
# per-run medians and the minimum. --baseline also times another dnnfi binary in the same rounds.
# Writes bench/results/quantized.md. bench/engine.sh runs this script for its int8 section.
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3, needs numpy),
# RESULTS_DIR (default bench/results), BASELINE_LABEL (how the table names --baseline).
# Needs: cd bench && npm install --ignore-scripts.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

repeat=50
warmup=5
rounds=3
BASELINE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --baseline) BASELINE="${2:?}"; shift 2 ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "quantized.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] ||
  { echo "quantized.sh: $BASELINE not found" >&2; exit 2; }
[ -d "$BENCH/node_modules/onnxruntime-node" ] ||
  { echo "quantized.sh: run 'cd bench && npm install --ignore-scripts' first" >&2; exit 2; }
# shellcheck source=bench/pairs.sh
source "$BENCH/pairs.sh"

# name|model|input
q=tests/models/quant
fm=models/fmnist_sample_input.npy  # batch 1 (the fixture's input.npy holds 8 images)
models=("fmnist_resnet fp32|models/fmnist_resnet.onnx|$fm"
        "fmnist_resnet QDQ|$q/fmnist_resnet/model.onnx|$fm"
        "fmnist_resnet QOperator|$q/fmnist_resnet/model_qop.onnx|$fm")
for m in resnet_basic mobilenet_v2; do
  models+=("$m QDQ|$q/$m/model.onnx|$q/$m/input.npy"
           "$m QOperator|$q/$m/model_qop.onnx|$q/$m/input.npy")
done
w=bench/work
for m in resnet18 mobilenet_v2; do
  if [ -f "$ROOT/$w/${m}_int8.onnx" ] && [ -f "$ROOT/$w/${m}_int8_qop.onnx" ]; then
    models+=("$m 224x224 fp32|$w/$m.onnx|$w/${m}_input.npy"
             "$m 224x224 QDQ|$w/${m}_int8.onnx|$w/${m}_input.npy"
             "$m 224x224 QOperator|$w/${m}_int8_qop.onnx|$w/${m}_input.npy")
  else
    echo "quantized.sh: no $w/${m}_int8*.onnx (bench/make_int8_models.sh makes them):" \
      "no $m rows" >&2
  fi
done

pairs_time "${models[@]}"
pairs_write "${RESULTS_DIR:-$BENCH/results}/quantized.md" \
  "Quantized (int8) models: dnnfi vs ONNX Runtime" \
  "Inputs: batch 1 (fmnist: models/fmnist_sample_input.npy; fixtures: their input.npy; 224x224" \
  "models: bench/work/*_input.npy). The 224x224 models are torchvision architectures with seeded" \
  "random weights (bench/export_models.py) quantized by scripts/quantize_onnx.py on 8 random" \
  "inputs; QOperator is ONNX Runtime's own rewrite of the QDQ model (bench/make_int8_models.sh)." \
  "" \
  "QDQ rows: both engines fuse the DQ -> op -> Q groups into int8 kernels (\`dnnfi run\`" \
  "rewrites them as ORT does, docs/quantized.md), so QDQ and QOperator rows are expected to be" \
  "bit-identical to ORT. (A campaign's golden run computes the QDQ graph as written: a" \
  "requantization can then land on the other side of a rounding boundary, and in the deep" \
  "224x224 models such one-step flips compound to several output steps.)"
exit "$pairs_failed"
