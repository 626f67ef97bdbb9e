#!/usr/bin/env bash
# Quantized (int8) models: latency of the tests/models/quant fixtures in both forms (QDQ and
# QOperator), and of an int8 ResNet-18 when bench/work/resnet18_int8*.onnx exist (made by
# bench/make_int8_resnet18.sh), in `dnnfi run` and in ONNX Runtime (bench/ort_bench.js), side by
# side, with the largest output difference between the two engines.
#
#   bench/quantized.sh [--repeat R] [--warmup W] [--rounds K]
#
# Each model runs in both engines alternately, K rounds (the order flips each round), each run W
# warm-ups then R timed repeats on one thread; the table gives the median of the per-run medians
# and the minimum. Writes bench/results/quantized.md.
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3, needs numpy),
# RESULTS_DIR (default bench/results). Needs: cd bench && npm install --ignore-scripts.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

repeat=50
warmup=5
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "quantized.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
[ -d "$BENCH/node_modules/onnxruntime-node" ] ||
  { echo "quantized.sh: run 'cd bench && npm install --ignore-scripts' first" >&2; exit 2; }

RESULTS_DIR="${RESULTS_DIR:-$BENCH/results}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name, model, input
q=tests/models/quant
models=()
fm=models/fmnist_sample_input.npy  # batch 1 (the fixture's input.npy holds 8 images)
models=("fmnist_resnet fp32|models/fmnist_resnet.onnx|$fm"
        "fmnist_resnet QDQ|$q/fmnist_resnet/model.onnx|$fm"
        "fmnist_resnet QOperator|$q/fmnist_resnet/model_qop.onnx|$fm")
for m in resnet_basic mobilenet_v2; do
  models+=("$m QDQ|$q/$m/model.onnx|$q/$m/input.npy"
           "$m QOperator|$q/$m/model_qop.onnx|$q/$m/input.npy")
done
w=bench/work
if [ -f "$ROOT/$w/resnet18_int8.onnx" ] && [ -f "$ROOT/$w/resnet18_input.npy" ]; then
  models+=("resnet18 fp32|$w/resnet18.onnx|$w/resnet18_input.npy"
           "resnet18 QDQ|$w/resnet18_int8.onnx|$w/resnet18_input.npy")
  [ -f "$ROOT/$w/resnet18_int8_qop.onnx" ] &&
    models+=("resnet18 QOperator|$w/resnet18_int8_qop.onnx|$w/resnet18_input.npy")
fi

rows=()
for entry in "${models[@]}"; do
  IFS='|' read -r name model input <<<"$entry"
  : >"$work/dnnfi.jsonl"
  : >"$work/ort.jsonl"
  for ((r = 0; r < rounds; r++)); do
    order=(dnnfi ort)
    if ((r % 2)); then order=(ort dnnfi); fi
    for e in "${order[@]}"; do
      if [ "$e" = dnnfi ]; then
        "$DNNFI" run "$ROOT/$model" -i "$ROOT/$input" -o "$work/dnnfi.npy" --json \
          --warmup "$warmup" --repeat "$repeat" | tail -1 >>"$work/dnnfi.jsonl"
      else
        node "$BENCH/ort_bench.js" "$ROOT/$model" --input "$ROOT/$input" --output "$work/ort.npy" \
          --json --warmup "$warmup" --repeat "$repeat" >>"$work/ort.jsonl"
      fi
    done
  done
  rows+=("$("$PYTHON" - "$name" "$work" <<'PY'
import json, sys, statistics
import numpy as np
name, work = sys.argv[1], sys.argv[2]
def stats(f):
    runs = [json.loads(l) for l in open(f) if l.strip()]
    return statistics.median(r["median_ms"] for r in runs), min(r["min_ms"] for r in runs)
dm, dmin = stats(f"{work}/dnnfi.jsonl")
om, omin = stats(f"{work}/ort.jsonl")
a, e = np.load(f"{work}/dnnfi.npy"), np.load(f"{work}/ort.npy")
top1 = "yes" if (a.argmax(-1) == e.argmax(-1)).all() else "no"
print(f"| {name} | {dm:.3f} | {dmin:.3f} | {om:.3f} | {omin:.3f} | {dm / om:.2f} |"
      f" {np.abs(a - e).max():.3g} | {top1} |")
PY
)")
  echo "${rows[-1]}"
done

mkdir -p "$RESULTS_DIR"
{
  echo "# Quantized (int8) models: dnnfi vs ONNX Runtime"
  echo
  echo "Written by \`bench/quantized.sh\` (do not edit by hand). Commit $(git -C "$ROOT" rev-parse --short HEAD)," \
    "$(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs (shared)," \
    "1 thread, onnxruntime-node $(cd "$BENCH" && node -e "console.log(require('onnxruntime-node').env.versions.common)")."
  echo "$rounds rounds alternating the engines, each $warmup warm-ups + $repeat timed runs;" \
    "median = median of the rounds' medians, min = fastest run. Inputs: batch 1 (fmnist: models/fmnist_sample_input.npy; others: the fixtures' input.npy)."
  echo
  echo "| model | dnnfi median (ms) | dnnfi min (ms) | ORT median (ms) | ORT min (ms) | dnnfi / ORT | max abs diff | same top-1 |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "QDQ rows: both engines fuse the DQ -> op -> Q groups into int8 kernels (\`dnnfi run\`"
  echo "rewrites them as ORT does, docs/quantized.md), so QDQ and QOperator rows are bit-identical"
  echo "to ORT. (A campaign's golden run computes the QDQ graph as written: up to one step off.)"
} >"$RESULTS_DIR/quantized.md"
echo "wrote $RESULTS_DIR/quantized.md"
