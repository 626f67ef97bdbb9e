#!/usr/bin/env bash
# Makes the int8 ResNet-18 that bench/quantized.sh times when present: a random-initialised
# torchvision resnet18 (latency only; no weights are downloaded) exported to ONNX, quantized
# with scripts/quantize_onnx.py (QDQ) and rewritten by ONNX Runtime into the QOperator form.
# Everything goes to the ignored bench/work/ (the float model is ~47 MB).
#
#   bench/make_int8_resnet18.sh
#
# Needs /usr/bin/python3 with torch, torchvision, onnx; cd bench && npm install --ignore-scripts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
w="$BENCH/work"
mkdir -p "$w"
cd "$w"
"$PYTHON" - <<'PY'
import collections, copy
import numpy as np, onnx, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet18().eval()
x = torch.randn(1, 3, 224, 224)
torch.onnx.export(m, x, "resnet18.onnx", opset_version=13, input_names=["input"],
                  output_names=["output"], do_constant_folding=True)
np.save("resnet18_input.npy", x.numpy())
for i in range(2):
    np.save(f"calib{i}.npy", torch.randn(2, 3, 224, 224).numpy())
# The quantizer handles neither Identity nodes nor an initializer shared by several nodes (the
# exporter shares equal folded constants): bypass the former, copy the latter.
model = onnx.load("resnet18.onnx")
g = model.graph
alias = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Identity"}
nodes = [n for n in g.node if n.op_type != "Identity"]
inits = {t.name: t for t in g.initializer}
for n in nodes:
    for i, v in enumerate(n.input):
        while v in alias:
            v = alias[v]
        n.input[i] = v
uses = collections.Counter(v for n in nodes for v in n.input if v in inits)
seen = collections.Counter()
for n in nodes:
    for i, v in enumerate(n.input):
        if v in inits and uses[v] > 1:
            seen[v] += 1
            if seen[v] > 1:
                t = copy.deepcopy(inits[v])
                t.name = f"{v}_copy{seen[v]}"
                g.initializer.append(t)
                n.input[i] = t.name
assert not any(o.name in alias for o in g.output)
del g.node[:]
g.node.extend(nodes)
onnx.save(model, "resnet18.onnx")
PY
"$PYTHON" "$ROOT/scripts/quantize_onnx.py" resnet18.onnx resnet18_int8.onnx \
  --calib calib0.npy calib1.npy
node -e "
const ort = require('$BENCH/node_modules/onnxruntime-node');
ort.InferenceSession.create('resnet18_int8.onnx', {intraOpNumThreads: 1,
  graphOptimizationLevel: 'extended', executionProviders: ['cpu'], logSeverityLevel: 3,
  optimizedModelFilePath: 'resnet18_int8_qop.onnx'}).catch((e) => { console.error(e); process.exit(1); });
"
ls -la "$w"/resnet18*.onnx
