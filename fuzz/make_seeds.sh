#!/usr/bin/env bash
# Writes the seed corpora for the fuzz targets (fuzz/targets.h) into OUT/<target>/, made from the
# test fixtures. Multi-file targets (tfjs, idx, gtsrb) get their files joined by the part
# separator. Used by scripts/fuzz.sh and by the replay tests (tests/CMakeLists.txt).
# Usage: fuzz/make_seeds.sh OUT
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out=${1:?usage: make_seeds.sh OUT}
rm -rf "$out"
for t in onnx keras_h5 keras_zip tfjs config npy npz idx cifar gtsrb; do mkdir -p "$out/$t"; done
sep=$'\nDNNFI-FUZZ-PART\n'
join() {  # join FILE... > stdout, separated by $sep
  local first=1
  for f in "$@"; do
    [ $first = 1 ] || printf '%s' "$sep"
    first=0
    cat "$f"
  done
}
d="$root/tests"
for f in "$d"/models/data/*/model.onnx "$root"/models/*.onnx; do
  cp "$f" "$out/onnx/$(basename "$(dirname "$f")")_$(basename "$f")"
done
for f in "$d"/keras/data/*/model.h5; do cp "$f" "$out/keras_h5/$(basename "$(dirname "$f")").h5"; done
for f in "$d"/keras/data/*/model.keras; do
  cp "$f" "$out/keras_zip/$(basename "$(dirname "$f")").keras"
done
for f in "$d"/keras/data/*/model.json; do
  dir=$(dirname "$f")
  if [ -f "$dir/weights.bin" ]; then
    join "$f" "$dir/weights.bin" > "$out/tfjs/$(basename "$dir")"
  else
    cp "$f" "$out/tfjs/$(basename "$dir")"
  fi
done
for f in "$root"/configs/*.yaml; do cp "$f" "$out/config/$(basename "$f")"; done
cat > "$out/config/all_keys.yaml" <<'YAML'
model: m.onnx
dataset: {format: npz, path: d.npz, labels: l.npy, data_key: x, labels_key: y, layout: hwc,
          cifar_labels: coarse, samples: 10, only_correct: true}
preprocess: {grayscale: true, channels: bgr, resize: [32, 30], center_crop: 28, scale: 0.5,
             mean: [0.1, 0.2, 0.3], std: [1, 2, 3], layout: nhwc}
faults: {target: weight, model: random, bits: [1, 30], bit_range: [0, 31], bits_per_fault: 2,
         sites: size_weighted, per_trial: 2, spread: same_site, op_types: [Conv], name_regex: "c.*",
         nodes: [a, b], dtypes: [float32], layer_index: 1, value: 2.5, range: [-1, 1]}
trials: 100
target_halfwidth: 0.01
checkpoint: 50
trials_per_input: 4
seed: 7
threads: 2
strategy: superlayer
time_limit: 5
output: out
shard: 1/3
YAML
cat > "$out/config/tensorfi2.yaml" <<'YAML'
model: m.onnx
dataset: {format: idx, path: i.gz, labels: l.gz}
Target: layer_states
Mode: multiple
Type: zeros
Amount: 10
Bit: 3
Layer: 2
YAML
for f in "$d"/campaign/data/npy/*.npy "$d"/campaign/data/expected/*.npy; do
  cp "$f" "$out/npy/$(basename "$f")"
done
for f in "$d"/campaign/data/npz/*.npz; do cp "$f" "$out/npz/$(basename "$f")"; done
i="$d/campaign/data/idx"
join "$i/images-idx3-ubyte" "$i/labels-idx1-ubyte" > "$out/idx/plain"
join "$i/images-idx3-ubyte.gz" "$i/labels-idx1-ubyte.gz" > "$out/idx/gzip"
join "$i/truncated-idx3-ubyte.gz" "$i/labels-short-idx1-ubyte" > "$out/idx/bad"
for f in "$d"/campaign/data/cifar/*.bin; do cp "$f" "$out/cifar/$(basename "$f")"; done
g="$d/campaign/data/gtsrb"
for f in "$g"/*.csv; do
  join "$f" "$g/00000.ppm" "$g/00001.ppm" "$g/Test/00002.png" > "$out/gtsrb/$(basename "$f" .csv)"
done
