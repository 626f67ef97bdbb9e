#!/usr/bin/python3
"""Export the torchvision benchmark models to ONNX for bench/engine.sh.

Writes bench/work/<name>.onnx (opset 13, eval mode, batch 1, seeded random weights: no weights are
downloaded) and bench/work/<name>_input.npy (seeded random float32 input, 1x3x224x224, or
1x3x299x299 for inception_v3). A model whose two files already exist is skipped.

BatchNorm running statistics are re-estimated on a seeded random batch before export. Fresh
statistics (mean 0, var 1) normalize nothing, so deep random nets end with logits of 1e-9
(mobilenet_v2) or 1e12 (inception_v3) and near-ties for top-1, which makes an output comparison
between engines meaningless. Re-estimation changes no weight and no timing.

Usage: /usr/bin/python3 bench/export_models.py [--out DIR] [--force] [NAME ...]
"""

import argparse
import io
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torchvision.models as tvm

OPSET = 13
HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (constructor, input side). init_weights=True is explicit for the two models whose
# torchvision default warns about it changing.
MODELS = {
    "resnet18": (lambda: tvm.resnet18(weights=None), 224),
    "resnet50": (lambda: tvm.resnet50(weights=None), 224),
    "densenet121": (lambda: tvm.densenet121(weights=None), 224),
    "mobilenet_v2": (lambda: tvm.mobilenet_v2(weights=None), 224),
    "inception_v3": (lambda: tvm.inception_v3(weights=None, aux_logits=False, init_weights=True),
                     299),
    "googlenet": (lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=True), 224),
    "vgg16": (lambda: tvm.vgg16(weights=None), 224),
}


def calibrate_batchnorm(model, side, batch=8):
    """Set every BN's running mean/var to the statistics of one seeded random batch."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives exactly its statistics
    x = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(2))
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


def build_model(name):
    """The benchmark model `name` exactly as exported: seeded random weights (torch.manual_seed(0)),
    BatchNorm re-estimated, eval mode. Returns (model, input side). Also used by pytorch_fi.py."""
    make, side = MODELS[name]
    torch.manual_seed(0)
    model = make()
    calibrate_batchnorm(model, side)
    model.eval()
    return model, side


def export(name, out_dir, force=False):
    onnx_path = os.path.join(out_dir, f"{name}.onnx")
    input_path = os.path.join(out_dir, f"{name}_input.npy")
    if not force and os.path.exists(onnx_path) and os.path.exists(input_path):
        print(f"{name}: exists, skipped")
        return
    model, side = build_model(name)
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(1))
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, x, buf, opset_version=OPSET, do_constant_folding=True,
                          input_names=["input"], output_names=["output"])
    proto = onnx.load_model_from_string(buf.getvalue())
    del buf
    # Write to a temporary name first so an interrupted export is not taken as done.
    onnx.save_model(proto, onnx_path + ".tmp")
    os.replace(onnx_path + ".tmp", onnx_path)
    np.save(input_path, np.ascontiguousarray(x.numpy(), dtype=np.float32))
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"{name}: {len(proto.graph.node)} nodes, {os.path.getsize(onnx_path) / 2**20:.1f} MiB, "
          f"ops {' '.join(ops)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"models to export (default all: {' '.join(MODELS)})")
    ap.add_argument("--out", default=os.path.join(HERE, "work"))
    ap.add_argument("--force", action="store_true", help="export again even if the files exist")
    args = ap.parse_args()
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        sys.exit(f"export_models.py: unknown model(s) {' '.join(unknown)}; "
                 f"known: {' '.join(MODELS)}")
    warnings.filterwarnings("ignore", category=UserWarning)
    os.makedirs(args.out, exist_ok=True)
    for name in args.names or MODELS:
        export(name, args.out, args.force)


if __name__ == "__main__":
    main()
