#!/usr/bin/env bash
# Engine breadth: latency of the transformer fixtures (tests/models/transformers) and the float16
# fixtures (tests/models/fp16) in `dnnfi run` and in ONNX Runtime (bench/ort_bench.js), side by
# side, with the largest output difference between the two engines.
#
#   bench/breadth.sh [--repeat R] [--warmup W] [--rounds K] [--baseline DNNFI]
#
# Each model runs in both engines alternately, K rounds (the order flips each round), each run W
# warm-ups then R timed repeats on one thread (ResNet-50: R/5, at least 5), timed by
# bench/pairs.sh; the table gives the median of the per-run medians and the minimum. --baseline
# also times another dnnfi binary (e.g. main's build/dnnfi) in the same rounds, for before/after
# columns. The fp16 ResNet-50 row needs bench/work/resnet50.onnx (bench/engine.sh exports it); it
# is converted with scripts/convert_fp16.py on first use. Writes bench/results/breadth.md.
# bench/engine.sh runs this script for its transformer / fp16 section.
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
[ -x "$DNNFI" ] || { echo "breadth.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || { echo "breadth.sh: $BASELINE not found" >&2; exit 2; }
[ -d "$BENCH/node_modules/onnxruntime-node" ] ||
  { echo "breadth.sh: run 'cd bench && npm install --ignore-scripts' first" >&2; exit 2; }
# shellcheck source=bench/pairs.sh
source "$BENCH/pairs.sh"

# name|model|input[|repeat]
models=(
  "bert (fp32)|tests/models/transformers/bert/model.onnx|tests/models/transformers/bert/input.npy"
  "vit (fp32)|tests/models/transformers/vit/model.onnx|tests/models/transformers/vit/input.npy"
  "fmnist_resnet (fp32)|models/fmnist_resnet.onnx|models/fmnist_sample_input.npy"
  "fmnist_resnet (fp16)|tests/models/fp16/fmnist_resnet/model.onnx|tests/models/fp16/fmnist_resnet/input.npy"
  "resnet_basic (fp16)|tests/models/fp16/resnet_basic/model.onnx|tests/models/fp16/resnet_basic/input.npy"
  "bert (fp16)|tests/models/fp16/bert/model.onnx|tests/models/fp16/bert/input.npy"
)
if [ -f "$BENCH/work/resnet50.onnx" ]; then
  if [ ! -f "$BENCH/work/resnet50_fp16.onnx" ]; then
    "$PYTHON" "$ROOT/scripts/convert_fp16.py" "$BENCH/work/resnet50.onnx" \
      "$BENCH/work/resnet50_fp16.onnx" >&2
  fi
  r50_repeat=$((repeat / 5 > 5 ? repeat / 5 : 5))
  models+=("ResNet-50 (fp16)|bench/work/resnet50_fp16.onnx|bench/work/resnet50_input.npy|$r50_repeat")
else
  echo "breadth.sh: no bench/work/resnet50.onnx (bench/engine.sh exports it): no ResNet-50 row" >&2
fi

pairs_time "${models[@]}"
pairs_write "${RESULTS_DIR:-$BENCH/results}/breadth.md" \
  "Engine breadth: transformers and float16 models" \
  "fp16 rows: dnnfi stores every activation as float16 and computes ops without a float16" \
  "kernel in float32 (ops/fp16_fallback.h); ONNX Runtime's CPU provider also computes them in" \
  "float32 but removes the Cast pairs between such nodes, so its activations stay float32" \
  "between them: the difference is float16 rounding, not an error."
exit "$pairs_failed"
