#!/usr/bin/env bash
# Runs every full-size TensorFI+ architecture exported by `scripts/make_paper_models.py --mode full`
# (bench/work/paper/<name>.onnx) in `dnnfi run` and compares its output with PyTorch's
# (<name>_expected.npy): prints one markdown row per model with the max abs diff, the max abs diff
# relative to max |PyTorch|, whether top-1 agrees, and `dnnfi run --json`'s median latency.
#
# Usage: scripts/check_paper_models.sh [--threads N] [--repeat N] [NAME ...]
#   DNNFI (default build/dnnfi), PAPER_DIR (default bench/work/paper).
# Exits 1 if a model fails to run, disagrees on top-1 or differs by more than 1e-3 relative.
set -euo pipefail
cd "$(dirname "$0")/.."
DNNFI=${DNNFI:-build/dnnfi}
PAPER_DIR=${PAPER_DIR:-bench/work/paper}
threads=1
repeat=3
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  for f in "$PAPER_DIR"/*.onnx; do names+=("$(basename "$f" .onnx)"); done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
echo "| model | max abs diff | rel. to max abs | top-1 equal | median ms ($threads thread(s)) | peak RSS MB |"
echo "|---|---:|---:|---|---:|---:|"
for name in "${names[@]}"; do
  model=$PAPER_DIR/$name.onnx
  if ! "$DNNFI" run "$model" --input "$PAPER_DIR/${name}_input.npy" --output "$tmp/out.npy" \
      --threads "$threads" --warmup 1 --repeat "$repeat" --json >"$tmp/run.json" 2>"$tmp/err"; then
    echo "| $name | run failed: $(head -c 200 "$tmp/err") | | | | |"
    status=1
    continue
  fi
  row=$(/usr/bin/python3 - "$tmp/out.npy" "$PAPER_DIR/${name}_expected.npy" "$tmp/run.json" <<'EOF'
import json, sys
import numpy as np
a, e = np.load(sys.argv[1]), np.load(sys.argv[2])
run = json.load(open(sys.argv[3]))
diff = float(np.abs(a.astype(np.float64) - e).max()) if a.shape == e.shape else float("inf")
rel = diff / float(np.abs(e).max())
same = a.shape == e.shape and bool((a.argmax(-1) == e.argmax(-1)).all())
print(f"{diff:.3g} {rel:.3g} {'yes' if same else 'NO'} {run['median_ms']:.1f} {run['peak_rss_mb']:.0f}")
EOF
)
  read -r diff rel same ms rss <<<"$row"
  echo "| $name | $diff | $rel | $same | $ms | $rss |"
  if [ "$same" != yes ] || /usr/bin/python3 -c "import sys; sys.exit(float('$rel') <= 1e-3)"; then
    status=1
  fi
done
exit $status
