#!/usr/bin/env bash
# Engine breadth: latency of the transformer fixtures (tests/models/transformers) and the float16
# fixtures (tests/models/fp16) in `dnnfi run` and in ONNX Runtime (bench/ort_bench.js), side by
# side, with the largest output difference between the two engines.
#
#   bench/breadth.sh [--repeat R] [--warmup W] [--rounds K] [--baseline DNNFI]
#
# Each model runs in both engines alternately, K rounds (the order flips each round), each run W
# warm-ups then R timed repeats on one thread (ResNet-50: R/5, at least 5); the table gives the
# median of the per-run medians and the minimum. --baseline also times another dnnfi binary (e.g.
# main's build/dnnfi) in the same rounds, for before/after columns. The fp16 ResNet-50 row needs
# bench/work/resnet50.onnx (bench/engine.sh exports it); it is converted with
# scripts/convert_fp16.py on first use. Writes bench/results/breadth.md.
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3, needs numpy),
# RESULTS_DIR (default bench/results), BASELINE_LABEL (how the table names --baseline). Needs: cd bench && npm install --ignore-scripts.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

repeat=50
warmup=5
rounds=3
baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --baseline) baseline="${2:?}"; shift 2 ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "breadth.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "breadth.sh: $baseline not found" >&2; exit 2; }
[ -d "$BENCH/node_modules/onnxruntime-node" ] ||
  { echo "breadth.sh: run 'cd bench && npm install --ignore-scripts' first" >&2; exit 2; }

RESULTS_DIR="${RESULTS_DIR:-$BENCH/results}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name, model, input
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
  models+=("ResNet-50 (fp16)|bench/work/resnet50_fp16.onnx|bench/work/resnet50_input.npy")
else
  echo "breadth.sh: no bench/work/resnet50.onnx (bench/engine.sh exports it): no ResNet-50 row" >&2
fi

rows=()
for entry in "${models[@]}"; do
  IFS='|' read -r name model input <<<"$entry"
  reps="$repeat"
  case "$model" in *resnet50*) reps=$((repeat / 5 > 5 ? repeat / 5 : 5)) ;; esac
  : >"$work/dnnfi.jsonl"
  : >"$work/ort.jsonl"
  : >"$work/before.jsonl"
  engines=(dnnfi ort)
  [ -z "$baseline" ] || engines+=(before)
  for ((r = 0; r < rounds; r++)); do
    order=("${engines[@]}")
    if ((r % 2)); then order=(); for ((k = ${#engines[@]} - 1; k >= 0; k--)); do order+=("${engines[k]}"); done; fi
    for e in "${order[@]}"; do
      case "$e" in
        dnnfi | before)
          bin="$DNNFI"
          [ "$e" = dnnfi ] || bin="$baseline"
          "$bin" run "$ROOT/$model" -i "$ROOT/$input" -o "$work/$e.npy" --json \
            --warmup "$warmup" --repeat "$reps" | tail -1 >>"$work/$e.jsonl" ;;
        ort)
          node "$BENCH/ort_bench.js" "$ROOT/$model" --input "$ROOT/$input" --output "$work/ort.npy" \
            --json --warmup "$warmup" --repeat "$reps" >>"$work/ort.jsonl" ;;
      esac
    done
  done
  rows+=("$("$PYTHON" - "$name" "$work" "$reps" <<'PY'
import json, sys, statistics
import numpy as np
name, work, reps = sys.argv[1], sys.argv[2], sys.argv[3]
def stats(f):
    runs = [json.loads(l) for l in open(f) if l.strip()]
    if not runs:
        return None, None
    return statistics.median(r["median_ms"] for r in runs), min(r["min_ms"] for r in runs)
dm, dmin = stats(f"{work}/dnnfi.jsonl")
om, omin = stats(f"{work}/ort.jsonl")
bm, _ = stats(f"{work}/before.jsonl")
a, e = np.load(f"{work}/dnnfi.npy"), np.load(f"{work}/ort.npy")
top1 = "yes" if (a.argmax(-1) == e.argmax(-1)).all() else "no"
before = f" {bm:.3f} | {bm / om:.2f} |" if bm is not None else " - | - |"
print(f"| {name} | {reps} |{before} {dm:.3f} | {dmin:.3f} | {om:.3f} | {omin:.3f} | {dm / om:.2f} |"
      f" {np.abs(a - e).max():.3g} | {top1} |")
PY
)")
  echo "${rows[-1]}"
done

mkdir -p "$RESULTS_DIR"
{
  echo "# Engine breadth: transformers and float16 models"
  echo
  echo "Written by \`bench/breadth.sh\` (do not edit by hand). Commit $(git -C "$ROOT" rev-parse --short HEAD)," \
    "$(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs (shared)," \
    "1 thread, onnxruntime-node $(cd "$BENCH" && node -e "console.log(require('onnxruntime-node').env.versions.common)")."
  echo "$rounds rounds alternating the engines, each $warmup warm-ups + the timed runs of the runs column;" \
    "median = median of the rounds' medians, min = fastest run."
  if [ -n "$baseline" ]; then
    echo "\"before\": ${BASELINE_LABEL:-$baseline (commit $(git -C "$(dirname "$baseline")" rev-parse --short HEAD 2>/dev/null || echo unknown))}," \
      "timed in the same rounds."
  fi
  echo
  echo "| model | runs | before median (ms) | before / ORT | dnnfi median (ms) | dnnfi min (ms) | ORT median (ms) | ORT min (ms) | dnnfi / ORT | max abs diff | same top-1 |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "fp16 rows: dnnfi stores every activation as float16 and computes ops without a float16"
  echo "kernel in float32 (ops/fp16_fallback.h); ONNX Runtime's CPU provider also computes them in"
  echo "float32 but removes the Cast pairs between such nodes, so its activations stay float32"
  echo "between them: the difference is float16 rounding, not an error."
} >"$RESULTS_DIR/breadth.md"
echo "wrote $RESULTS_DIR/breadth.md"
