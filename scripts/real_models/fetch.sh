#!/usr/bin/env bash
# Real pretrained paper architectures that install offline: the Keras MobileNetV2 (224x224) and
# InceptionV3 (299x299) classifiers that the npm package nsfwjs 4.4.0 ships inside its tarball
# (five classes: Drawing, Hentai, Neutral, Porn, Sexy; trained on photos, weights quantized to
# uint8 by TensorFlow.js's converter). Fetches the tarball from the npm registry (checked against
# its published SHA-1), unpacks each model into OUT/<model>/ as a TensorFlow.js layers directory
# (model.json + shards) that dnnfi reads natively, writes the preprocessing nsfwjs applies
# (pixels / 255, NHWC, resized to the model's input) as a sidecar model.json.preprocess.yaml, and
# checks `dnnfi run` against TensorFlow.js on two inputs (a Fashion-MNIST test image and a seeded
# random one): prints one markdown row per model and exits 1 if top-1 differs or an output is off
# by more than 1e-4.
#
# Usage: scripts/real_models/fetch.sh [OUT (bench/work/real)]
#   DNNFI (default build/dnnfi). Needs node and npm (scripts/keras_fixtures' TensorFlow.js is
#   installed with `npm ci` on first use) and Debian's python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${1:-bench/work/real}
DNNFI=${DNNFI:-build/dnnfi}
PYTHON=${PYTHON:-/usr/bin/python3}
VERSION=4.4.0
SHA1=706017d11e44de0803b73a568819f800a50ae470
FMNIST=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
tgz="$OUT/nsfwjs-$VERSION.tgz"
if [ ! -f "$tgz" ] || [ "$(sha1sum < "$tgz" | cut -d' ' -f1)" != "$SHA1" ]; then
  (cd "$OUT" && npm pack --silent "nsfwjs@$VERSION" >/dev/null)
fi
got=$(sha1sum < "$tgz" | cut -d' ' -f1)
[ "$got" = "$SHA1" ] || { echo "fetch.sh: $tgz: SHA-1 $got, expected $SHA1" >&2; exit 1; }
rm -rf "$OUT/package"
tar xzf "$tgz" -C "$OUT"
node "$ROOT/scripts/real_models/nsfwjs.js" unpack "$OUT/package" "$OUT" >&2
if [ ! -d "$ROOT/scripts/keras_fixtures/node_modules/@tensorflow/tfjs" ]; then
  (cd "$ROOT/scripts/keras_fixtures" && npm ci --ignore-scripts --silent)
fi

status=0
echo "| model | input | max abs diff vs TensorFlow.js | top-1 equal | TensorFlow.js top-1 (p) |"
echo "|---|---|---:|---|---|"
for name in mobilenet_v2 inception_v3; do
  dir="$OUT/$name"
  size=$([ "$name" = mobilenet_v2 ] && echo 224 || echo 299)
  printf 'scale: 0.00392156862745098\nresize: [%d, %d]\nlayout: nhwc\n' "$size" "$size" \
    > "$dir/model.json.preprocess.yaml"
  # Two NHWC inputs in [0, 1]: Fashion-MNIST test image 0 (gray to RGB, nearest upsampling to
  # the model's size) and a seeded uniform one; raw float32 for TensorFlow.js, npy for dnnfi.
  "$PYTHON" - "$FMNIST" "$size" "$dir" <<'EOF'
import gzip, sys
import numpy as np
path, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with gzip.open(path, "rb") as f:
    img = np.frombuffer(f.read(), np.uint8, offset=16, count=28 * 28).reshape(28, 28)
rows = (np.arange(size) * 28) // size
gray = img[rows][:, rows].astype(np.float32) / 255
inputs = {"fmnist0": np.repeat(gray[:, :, None], 3, axis=2)[None],
          "random": np.random.default_rng(1).random((1, size, size, 3), dtype=np.float32)}
for k, x in inputs.items():
    np.save(f"{out}/input_{k}.npy", x)
    x.astype("<f4").tofile(f"{out}/input_{k}.f32")
EOF
  for input in fmnist0 random; do
    # (TensorFlow.js prints a banner about its Node backend on stderr: kept in a log.)
    node "$ROOT/scripts/real_models/nsfwjs.js" predict "$dir" "$dir/input_$input.f32" 1 \
      "$size" "$size" 3 "$dir/expected_$input.f32" >/dev/null 2>"$dir/tfjs.log" ||
      { cat "$dir/tfjs.log" >&2; exit 1; }
    if ! "$DNNFI" run "$dir/model.json" --input "$dir/input_$input.npy" \
        --output "$dir/dnnfi_$input.npy" >/dev/null 2>"$dir/run.err"; then
      echo "| $name | $input | run failed: $(head -c 200 "$dir/run.err") | | |"
      status=1
      continue
    fi
    "$PYTHON" - "$dir" "$input" "$name" <<'EOF' || status=1
import sys
import numpy as np
d, k, name = sys.argv[1:]
labels = open(f"{d}/labels.txt").read().split()
e = np.fromfile(f"{d}/expected_{k}.f32", "<f4").reshape(1, -1)
a = np.load(f"{d}/dnnfi_{k}.npy").reshape(1, -1)
diff = float(np.abs(a.astype(np.float64) - e).max())
same = bool((a.argmax(-1) == e.argmax(-1)).all())
t = int(e.argmax())
print(f"| {name} | {k} | {diff:.3g} | {'yes' if same else 'NO'} | {labels[t]} ({e[0, t]:.4f}) |")
sys.exit(0 if same and diff <= 1e-4 else 1)
EOF
  done
  cp "$dir/input_fmnist0.npy" "$dir/input.npy"
done
exit $status
