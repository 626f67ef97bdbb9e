#!/usr/bin/env bash
# Campaign throughput end to end (dnnfi campaign: dataset decoding, preprocessing, golden runs,
# fault propagation, SQLite commits) on the bundled Fashion-MNIST model and on torchvision's
# ResNet-50 (seeded random weights, bench/export_models.py) fed Fashion-MNIST test images resized
# to 224x224, with the PyTorch forward-hook injector (bench/pytorch_fi.py: one full forward pass
# per trial, input already in memory) timed in the same run as the outside reference.
# Writes bench/results/campaign.md.
#
#   bench/campaign.sh [--threads T]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) echo "campaign.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "campaign.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
FM=/usr/share/datasets/fashion-mnist
work="$BENCH/work/campaign"
rm -rf "$work"
mkdir -p "$work" "$ROOT/bench/results"
[ -f "$BENCH/work/resnet50.onnx" ] || "$PYTHON" "$BENCH/export_models.py" resnet50 >&2

config() {  # name model samples trials trials_per_input strategy preprocess...
  local name=$1 model=$2 samples=$3 trials=$4 tpi=$5 strategy=$6
  shift 6
  {
    echo "model: $model"
    echo "dataset: {format: idx, path: $FM/t10k-images-idx3-ubyte.gz, labels: $FM/t10k-labels-idx1-ubyte.gz, samples: $samples}"
    echo "preprocess: {$*}"
    echo "trials: $trials"
    echo "trials_per_input: $tpi"
    echo "strategy: $strategy"
    echo "threads: $threads"
    echo "seed: 1"
    echo "output: $work/$name"
  } > "$work/$name.yaml"
  echo "$work/$name.yaml"
}

FMNIST_PRE="scale: 0.00392156862745098, mean: [0.2860], std: [0.3530]"
IMAGENET_PRE="resize: [224, 224], scale: 0.00392156862745098, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]"
rows=$(mktemp)
run() {  # label cfg
  echo "campaign.sh: $1" >&2
  local out
  out=$("$DNNFI" campaign "$2" --quiet)
  local line
  line=$(echo "$out" | grep '^results:')
  local sdc
  sdc=$(echo "$out" | grep -E '^  SDC ' | head -1 | awk '{print $3, $4, $5}')
  local acc
  acc=$(echo "$out" | grep '^Top-1 accuracy' | sed 's/Top-1 accuracy (fault-free): //')
  printf '%s\t%s\t%s\t%s\n' "$1" "$line" "$sdc" "$acc" >> "$rows"
}
run "fmnist cone tpi=1" "$(config fm_cone "$ROOT/models/fmnist_resnet.onnx" 2000 5000 1 cone "$FMNIST_PRE")"
run "fmnist full tpi=1" "$(config fm_full "$ROOT/models/fmnist_resnet.onnx" 2000 5000 1 full "$FMNIST_PRE")"
run "resnet50 cone tpi=1" "$(config r50_cone1 "$BENCH/work/resnet50.onnx" 100 100 1 cone "$IMAGENET_PRE")"
run "resnet50 cone tpi=10" "$(config r50_cone10 "$BENCH/work/resnet50.onnx" 100 300 10 cone "$IMAGENET_PRE")"
run "resnet50 cone, 1 input" "$(config r50_cone_one "$BENCH/work/resnet50.onnx" 1 300 1 cone "$IMAGENET_PRE")"
run "resnet50 full tpi=10" "$(config r50_full10 "$BENCH/work/resnet50.onnx" 100 100 10 full "$IMAGENET_PRE")"
pt=$("$PYTHON" "$BENCH/pytorch_fi.py" --model resnet50 --trials 10 --threads "$threads" --repeat 3 --warmup 1 | tail -1)
fault_free=$("$DNNFI" run "$BENCH/work/resnet50.onnx" --input "$BENCH/work/resnet50_input.npy" --threads "$threads" --warmup 3 --repeat 10 --json)

"$PYTHON" - "$rows" "$pt" "$fault_free" "$threads" "$ROOT/bench/results/campaign.md" <<'PY'
import datetime, json, re, subprocess, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
pt = json.loads(sys.argv[2]); ff = json.loads(sys.argv[3]); threads = sys.argv[4]
try:
    commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
except Exception:
    commit = "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
pt_rate = 1000.0 / pt["fi_mean_ms"]
ff_ms = ff["median_ms"]
L = [f"# Campaign throughput (dnnfi {commit})", "",
     f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}, {threads} threads. `dnnfi campaign` "
     "end to end (wall clock: dataset decoding and preprocessing, golden pass over the sampled inputs, "
     "golden run per trial input, fault propagation, SQLite commits), TensorFI+'s fault model (one bit "
     "flip, uniform node, element and bit 0-31). `tpi` = trials_per_input: consecutive trials sharing "
     "one input's golden run. Reference: PyTorch forward-hook injector (bench/pytorch_fi.py), "
     f"{pt['trials']} trials of one full forward pass each on an input already in memory, "
     f"{pt['threads']} threads: {pt_rate:.2f} trials/s on resnet50 "
     f"(its fault-free forward {pt['fault_free_ms']:.1f} ms; dnnfi's {ff_ms:.1f} ms).", "",
     "| run | trials | wall s | trials/s | vs PyTorch hooks | fault-free top-1 | SDC rate [95% CI] |",
     "|---|---:|---:|---:|---:|---|---|"]
for label, line, sdc, acc in rows:
    m = re.search(r"\((\d+) trials; (\d+) run now in ([\d.]+) s wall clock, golden pass included: ([\d.]+) trials/s", line)
    trials, wall, rate = int(m.group(2)), float(m.group(3)), float(m.group(4))
    ref = f"{rate / pt_rate:.1f}x" if label.startswith("resnet50") else "-"
    L.append(f"| {label} | {trials} | {wall:.1f} | {rate:.1f} | {ref} | {acc} | {sdc} |")
L += ["", "ResNet-50 has random weights, so its accuracy on Fashion-MNIST means nothing; its rows measure "
      "speed. The golden pass (one fault-free inference per sampled input) is part of the wall time. "
      "The PyTorch reference injects every trial into one input whose fault-free output it computed "
      "once, which is dnnfi's `1 input` row; with a new input per trial (tpi=1) any injector also "
      "pays that input's fault-free inference, so a hook injector would need two forward passes per "
      "trial (about half its rate above)."]
open(sys.argv[5], "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
rm -f "$rows"
