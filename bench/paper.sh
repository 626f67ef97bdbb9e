#!/usr/bin/env bash
# TensorFI+'s Table I (Top-1 accuracy, SDC rate) and Table II (cost of one fault-injected
# inference against a fault-free one) for dnnfi, in one command. Writes bench/results/paper.md,
# paper.json and the plots paper_sdc.{png,svg} and paper_overhead.{png,svg}; campaign databases
# go to the ignored bench/work/paper_runs/<model>/{cone,superlayer}.
#
#   bench/paper.sh [--models a,b,...] [--faults N] [--sl-faults M] [--threads T] [--batch B]
#                  [--quick] [--keep] [--out DIR (bench/results)]
#                  [--runs DIR (bench/work/paper_runs)]
#
# Per model: `dnnfi run` median fault-free latency; a cone campaign of N faults (default 3000)
# under TensorFI+'s fault model (one bit flip, uniform node output, uniform element, bit 0-31)
# gives the SDC rate with its Wilson 95% interval and the per-trial times; a superlayer campaign
# (TensorFI+'s algorithm in dnnfi's engine) of the first M of the same faults (default min(N, 300))
# gives its per-trial times, and a cone campaign of the same M faults with `--batch B` (default 8;
# 1 skips it) the per-trial times of batched passes (src/fi/batched.h). Same seed, so trial i has
# the same fault in all three; the script checks that they give the same outcomes. Models: `fmnist` (the bundled real-weight
# Fashion-MNIST ResNet on Debian's 10,000 test images), `nsfwjs_mobilenet_v2` and
# `nsfwjs_inception_v3` (real pretrained Keras models from the npm package nsfwjs, fetched and
# checked against TensorFlow.js by scripts/real_models/fetch.sh on first use, on the same
# Fashion-MNIST images as RGB) and the 40 random-weight architectures of
# scripts/make_paper_models.py (exported on first use, bench/work/paper): ImageNet-size ones,
# then the 32x32 CIFAR-100 (<arch>_cifar) and GTSRB (<arch>_gtsrb) rows. --quick: 300 faults,
# 100 superlayer faults, 14 models (QUICK below; about 10 minutes on a 2-core VM, plus the
# export of the full-size models on first use). --keep: the rows of models not run now stay as
# they are in OUT/paper.json (run only some models and keep the rest of the table).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ALL="fmnist,nsfwjs_mobilenet_v2,nsfwjs_inception_v3,mobilenet_v2,mobilenet,googlenet,resnet18,nasnet_mobile,densenet121,resnet34,densenet169,resnet50,densenet201,inception_v3,xception,resnet101,inception_v4,resnet152,inception_resnet_v2,vgg11,vgg13,vgg16,vgg19,nasnet_large"
ALL="$ALL,vgg11_cifar,vgg13_cifar,vgg16_cifar,vgg19_cifar,resnet18_cifar,resnet34_cifar,resnet50_cifar,resnet101_cifar,resnet152_cifar,googlenet_cifar,inception_v3_cifar,inception_v4_cifar,xception_cifar"
ALL="$ALL,vgg16_gtsrb,vgg19_gtsrb,resnet34_gtsrb,resnet50_gtsrb,resnet101_gtsrb,xception_gtsrb"
QUICK="fmnist,mobilenet_v2,mobilenet,resnet18_cifar,resnet34_cifar,googlenet,resnet18,nasnet_mobile,densenet121,resnet50,inception_v3,xception,resnet152,vgg16"
models="" faults="" sl_faults="" threads=1 quick=0 batch=8 keep=0
out="$BENCH/results" runs="$BENCH/work/paper_runs"
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    --faults) faults="$2"; shift 2 ;;
    --sl-faults) sl_faults="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    --out) out="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "paper.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
# The real-weight fmnist row is the comparable one and costs well under 1 ms a trial: --quick
# keeps TensorFI+'s 3000 faults (both strategies) for it unless --faults is given.
fmnist_faults="${faults:-3000}" fmnist_sl="${sl_faults:-}"
if [ "$quick" = 1 ]; then
  [ -n "$fmnist_sl" ] || [ -n "$faults" ] || fmnist_sl=3000
  models="${models:-$QUICK}"; faults="${faults:-300}"; sl_faults="${sl_faults:-100}"
else
  models="${models:-$ALL}"; faults="${faults:-3000}"
fi
[ -n "$sl_faults" ] || sl_faults=$((faults < 300 ? faults : 300))
[ -n "$fmnist_sl" ] || fmnist_sl=$sl_faults
[ "$quick" = 1 ] || fmnist_faults=$faults
[ -x "$DNNFI" ] || { echo "paper.sh: $DNNFI not found: build dnnfi first (scripts/build.sh)" >&2; exit 2; }
paper="$BENCH/work/paper"
mkdir -p "$runs" "$out"
runs="$(cd "$runs" && pwd)"
t_start=$(date +%s)
IFS=, read -r -a list <<< "$models"
for m in "${list[@]}"; do
  echo "paper.sh: $m ($(($(date +%s) - t_start)) s so far)" >&2
  dir="$runs/$m"
  rm -rf "$dir"; mkdir -p "$dir"
  n=$faults sl=$sl_faults
  if [ "$m" = fmnist ]; then
    model="$ROOT/models/fmnist_resnet.onnx"; input="$ROOT/models/fmnist_sample_input.npy"
    # configs/demo.yaml: the real test set, the model's own preprocessing.
    n=$fmnist_faults sl=$fmnist_sl
    dataset=$'dataset:\n  format: idx\n  path: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz'
  elif [[ "$m" == nsfwjs_* ]]; then
    real="$BENCH/work/real"
    model="$real/${m#nsfwjs_}/model.json"; input="$real/${m#nsfwjs_}/input.npy"
    if [ ! -f "$model" ] || [ ! -f "$input" ]; then
      mkdir -p "$real"
      DNNFI="$DNNFI" bash "$ROOT/scripts/real_models/fetch.sh" "$real" > "$real/check.md" ||
        { cat "$real/check.md" >&2; echo "paper.sh: the nsfwjs models do not match TensorFlow.js" >&2; exit 1; }
    fi
    # Real photographs (Fashion-MNIST, gray to RGB), the model's preprocessing from its sidecar
    # (pixels / 255, resized to its input); no labels for its classes. 1000 of the 10,000 test
    # images drawn from the seed: the golden pass runs each once (10,000 would take 15 minutes
    # of InceptionV3 runs), and trials draw from them.
    dataset=$'dataset:\n  format: idx\n  path: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n  samples: 1000'
  else
    model="$paper/$m.onnx"; input="$paper/${m}_input.npy"
    if [ ! -f "$model" ] || [ ! -f "$input" ] || [ ! -f "$paper/${m}_expected.npy" ]; then
      "$PYTHON" "$ROOT/scripts/make_paper_models.py" --mode full "$m" >&2
    fi
    # Random weights, one seeded input: the "label" is PyTorch's top-1 on it, so the campaign's
    # Top-1 is agreement with PyTorch, not accuracy.
    "$PYTHON" -c 'import numpy as np, sys; np.save(sys.argv[2], np.array([int(np.load(sys.argv[1]).reshape(-1).argmax())], dtype=np.int64))' \
      "$paper/${m}_expected.npy" "$dir/labels.npy"
    dataset=$'dataset:\n  format: npy\n  path: '"$input"$'\n  labels: '"$dir/labels.npy"$'\n  layout: tensor'
  fi
  cat > "$dir/campaign.yaml" <<EOF
# Written by bench/paper.sh: TensorFI+'s fault model (configs/demo.yaml).
model: $model
$dataset
faults:
  target: node_output
  model: bitflip
  sites: uniform_node
  bit_range: [0, 31]
trials: $n
seed: 1
threads: $threads
time_limit: 0
EOF
  "$DNNFI" run "$model" --input "$input" --threads "$threads" --warmup 3 --repeat 21 --json \
    > "$dir/run.json"
  "$DNNFI" campaign "$dir/campaign.yaml" --strategy cone --output "$dir/cone" --quiet \
    > "$dir/cone.log" 2>&1 || { cat "$dir/cone.log" >&2; exit 1; }
  "$DNNFI" campaign "$dir/campaign.yaml" --strategy superlayer --trials "$sl" \
    --output "$dir/superlayer" --quiet > "$dir/superlayer.log" 2>&1 ||
    { cat "$dir/superlayer.log" >&2; exit 1; }
  # Batched passes need several trials per input: not the Fashion-MNIST rows (a new input per
  # trial).
  if [ "$batch" -gt 1 ] && [ "$m" != fmnist ] && [[ "$m" != nsfwjs_* ]]; then
    "$DNNFI" campaign "$dir/campaign.yaml" --batch "$batch" --trials "$sl" \
      --output "$dir/batched" --quiet > "$dir/batched.log" 2>&1 ||
      { cat "$dir/batched.log" >&2; exit 1; }
  fi
  "$DNNFI" summary "$dir/cone" --json > "$dir/cone_summary.json"
  # A second fault-free measurement after the campaigns, to see the machine drift, and one on the
  # unfused session that trials run on (`--golden`).
  "$DNNFI" run "$model" --input "$input" --threads "$threads" --warmup 1 --repeat 11 --json \
    > "$dir/run_after.json"
  "$DNNFI" run "$model" --input "$input" --threads "$threads" --warmup 1 --repeat 11 --golden \
    --json > "$dir/run_golden.json"
done
keep_args=()
if [ "$keep" = 1 ]; then
  # The report rewrites paper.json: keep from a copy.
  cp "$out/paper.json" "$runs/kept_paper.json"
  keep_args=(--keep "$runs/kept_paper.json")
fi
echo "paper.sh: campaigns done in $(($(date +%s) - t_start)) s" >&2
"$PYTHON" "$BENCH/paper_report.py" --runs "$runs" --models "$models" --faults "$faults" \
  --sl-faults "$sl_faults" --threads "$threads" --quick "$quick" --batch "$batch" \
  --seconds "$(($(date +%s) - t_start))" --out "$out" "${keep_args[@]}"
