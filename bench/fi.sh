#!/usr/bin/env bash
# Fault-injection cost: one fault-injected inference under the TensorFI+ fault model (uniform node
# output, uniform element, uniform bit of the fp32) for dnnfi's cone, superlayer and full
# strategies, each divided by dnnfi's fault-free inference time measured in the same run, and the
# same fault model through a PyTorch forward-hook injector (bench/pytorch_fi.py) as an outside
# reference. Writes bench/results/fi.md.
#
#   bench/fi.sh [--trials N] [--pt-trials M] [--threads T] [MODEL...]
#
# MODEL names come from bench/export_models.py (default: all seven); `fmnist` is the bundled model.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
FIB="$BUILD_DIR/dnnfi_fi_bench"
trials=200
pt_trials=30
threads=1
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --trials) trials="$2"; shift 2 ;;
    --pt-trials) pt_trials="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -gt 0 ] || models=(fmnist resnet18 resnet50 densenet121 mobilenet_v2 inception_v3 googlenet vgg16)
[ -x "$FIB" ] || { echo "fi.sh: $FIB not found: build dnnfi first" >&2; exit 2; }
out="$ROOT/bench/results"
mkdir -p "$out"
tmp=$(mktemp)
for m in "${models[@]}"; do
  if [ "$m" = fmnist ]; then
    model="$ROOT/models/fmnist_resnet.onnx"; input="$ROOT/models/fmnist_sample_input.npy"
  else
    [ -f "$BENCH/work/$m.onnx" ] || "$PYTHON" "$BENCH/export_models.py" "$m" >&2
    model="$BENCH/work/$m.onnx"; input="$BENCH/work/${m}_input.npy"
  fi
  echo "fi.sh: $m" >&2
  dn=$("$FIB" "$model" --input "$input" --trials "$trials" --threads "$threads")
  pt='{}'
  if [ "$m" != fmnist ] && [ "$pt_trials" -gt 0 ]; then
    pt=$("$PYTHON" "$BENCH/pytorch_fi.py" --model "$m" --trials "$pt_trials" --threads "$threads" --repeat 3 --warmup 1 | tail -1) || pt='{}'
  fi
  printf '%s\t%s\t%s\n' "$m" "$dn" "$pt" >> "$tmp"
done
"$PYTHON" - "$tmp" "$out/fi.md" "$trials" "$pt_trials" "$threads" <<'PY'
import json, sys, subprocess, datetime, platform
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
trials, pt_trials, threads = sys.argv[3], sys.argv[4], sys.argv[5]
try:
    commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
except Exception:
    commit = "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
L = [f"# Fault-injection cost (dnnfi {commit})", "",
     f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}, {threads} thread(s), batch 1. "
     f"Fault model of TensorFI+: one bit flip, uniform node output, uniform element, uniform bit 0-31 "
     f"(fp32). dnnfi: {trials} trials per strategy, the same faults for each strategy; ratios are "
     f"mean fault-injected time / dnnfi fault-free median, measured in the same process. PyTorch: "
     f"forward-hook injector (bench/pytorch_fi.py), {pt_trials} trials, ratio against PyTorch's own "
     f"fault-free time. TensorFI+ reports 7.62x on average. Cone: recomputes the band of rows "
     f"a fault can reach in each node (src/fi/row_regions.h), after a warm-up pass over "
     f"{trials} other faults that prepares the band variants (its time is the last column); "
     f"cone, whole nodes: the same cone recomputing whole nodes. Batched x8: the same trials sorted by "
     f"faulted node, 8 per pass of a batch-8 session (src/fi/batched.h), bit-identical results. Golden cache: the bytes one input's "
     f"fault-free activations take in dnnfi (every node output kept), over the model's activation "
     f"bytes from shape inference (graph input included in the cache only).", "",
     "| model | nodes | fault-free ms | cone ms | cone | cone, whole nodes | superlayer | full | batched x8 | PyTorch hooks | cone nodes/trial (on bands) | golden cache / activations | masked | SDC | tolerable | DUE | band warm-up s |",
     "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for m, dn, pt in rows:
    d = json.loads(dn); p = json.loads(pt)
    n = d["trials"]
    pct = lambda k: f'{100.0 * d[k] / n:.1f}%'
    L.append(f'| {m} | {d["nodes_total"]} | {d["fault_free_ms"]:.2f} | {d["cone_ms"]:.2f} | '
             f'{d["cone_ratio"]:.2f}x | {d["cone-whole_ratio"]:.2f}x | {d["superlayer_ratio"]:.2f}x | {d["full_ratio"]:.2f}x | '
             f'{(format(d["batched8_ratio"], ".2f") + "x") if d.get("batched8_ms") else "-"} | '
             f'{(str(round(p["ratio"], 2)) + "x") if "ratio" in p else "-"} | {d["cone_nodes"]:.1f} ({d["cone_banded"]:.1f}) | '
             f'{d["golden_bytes"] / d["activation_bytes"]:.3f}x ({d["activation_bytes"] / 2**20:.1f} MiB) | '
             f'{pct("masked")} | {pct("sdc")} | {pct("tolerable")} | {pct("due")} | '
             f'{d.get("cone_warmup_ms", 0) / 1000:.1f} |')
open(sys.argv[2], "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
rm -f "$tmp"
