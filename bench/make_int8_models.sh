#!/usr/bin/env bash
# Makes the full-size int8 models that bench/quantized.sh (and through it bench/engine.sh) times:
# for each MODEL, the float model bench/export_models.py writes (torchvision architecture, seeded
# random weights, BatchNorm statistics re-estimated, 224x224: the same file bench/engine.sh
# times), quantized by scripts/quantize_onnx.py on 8 seeded random calibration inputs (QDQ), and
# rewritten by ONNX Runtime into the QOperator form (a session at level 'extended' with
# optimizedModelFilePath, as tests/models/quant/make_ort_expected.js does).
#
#   bench/make_int8_models.sh [--force] [MODEL...]     (default: resnet18 mobilenet_v2)
#
# Writes bench/work/MODEL.onnx and MODEL_input.npy (unless they exist), MODEL_int8.onnx (QDQ) and
# MODEL_int8_qop.onnx (QOperator); a model whose two int8 files exist is skipped unless --force.
# Everything stays in the ignored bench/work/ (ResNet-18's float model is ~45 MB). About 15 s a
# model on one core.
# Needs /usr/bin/python3 with torch, torchvision, onnx (PYTHON); cd bench && npm install
# --ignore-scripts (onnxruntime-node).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

force=0
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1; shift ;;
    -*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -gt 0 ] || models=(resnet18 mobilenet_v2)
[ -d "$BENCH/node_modules/onnxruntime-node" ] ||
  { echo "make_int8_models.sh: run 'cd bench && npm install --ignore-scripts' first" >&2; exit 2; }

w="$BENCH/work"
mkdir -p "$w"
"$PYTHON" "$BENCH/export_models.py" --out "$w" "${models[@]}"
for m in "${models[@]}"; do
  qdq="$w/${m}_int8.onnx"
  qop="$w/${m}_int8_qop.onnx"
  if [ "$force" = 0 ] && [ -f "$qdq" ] && [ -f "$qop" ]; then
    echo "$m: int8 models exist, skipped"
    continue
  fi
  "$PYTHON" "$ROOT/scripts/quantize_onnx.py" "$w/$m.onnx" "$qdq.tmp" --random 8
  mv "$qdq.tmp" "$qdq"
  node -e "
const ort = require(process.argv[1]);
ort.InferenceSession.create(process.argv[2], {intraOpNumThreads: 1,
  graphOptimizationLevel: 'extended', executionProviders: ['cpu'], logSeverityLevel: 3,
  optimizedModelFilePath: process.argv[3]}).catch((e) => { console.error(e); process.exit(1); });
" "$BENCH/node_modules/onnxruntime-node" "$qdq" "$qop"
  ls -la "$qdq" "$qop"
done
