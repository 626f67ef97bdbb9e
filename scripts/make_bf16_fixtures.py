#!/usr/bin/python3
"""Build the bfloat16 fixtures used by tests/models/test_bf16.cpp.

Two small models with seeded weights, built in PyTorch (torch 1.13):

  cnn          Conv, BatchNormalization, Relu, a residual Add, MaxPool, GlobalAveragePool, Gemm
  transformer  one attention block: MatMul (Q, K, V, scores), Softmax, a residual Add,
               LayerNormalization, the exact GELU (Erf), a classifier Gemm on the mean token

Each is exported as fp32 ONNX (opset 17), then converted to bfloat16 by
`scripts/convert_fp16.py --bf16` (bfloat16 weights and activations, float32 graph input and
output with a Cast at each boundary). The oracle is PyTorch's own bfloat16 forward on CPU:
model.to(torch.bfloat16) on the input cast to bfloat16, the output cast to float32. PyTorch
computes each op in float32 and rounds its output to bfloat16, as the engine does at every node
boundary. (ONNX Runtime's CPU provider has no bfloat16 kernels for most of these ops, so it cannot
serve as the reference.)

Output: tests/models/bf16/<name>/{model.onnx,input.npy,expected.npy} (input and expected are
float32) and MANIFEST.md, which also gives the bfloat16 output's distance from the fp32 model's.

Usage: /usr/bin/python3 scripts/make_bf16_fixtures.py [--out DIR]
"""

import argparse
import io
import os
import shutil
import sys

import numpy as np
import onnx
import torch
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "models", "bf16")

sys.path.insert(0, os.path.join(REPO, "scripts"))
import convert_fp16  # noqa: E402


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU())
        self.conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = self.stem(x)
        y = torch.relu(self.bn(self.conv(y)) + y)
        y = self.pool(y)
        y = torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1)
        return self.fc(y)


class Transformer(nn.Module):
    def __init__(self, d=32, classes=5):
        super().__init__()
        self.d = d
        self.q = nn.Parameter(torch.randn(d, d) / d ** 0.5)
        self.k = nn.Parameter(torch.randn(d, d) / d ** 0.5)
        self.v = nn.Parameter(torch.randn(d, d) / d ** 0.5)
        self.ln1 = nn.LayerNorm(d)
        self.up = nn.Parameter(torch.randn(d, 2 * d) / d ** 0.5)
        self.gelu = nn.GELU()
        self.down = nn.Parameter(torch.randn(2 * d, d) / (2 * d) ** 0.5)
        self.ln2 = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):  # x: [batch, tokens, d]
        q, k, v = x @ self.q, x @ self.k, x @ self.v
        attn = torch.softmax(q @ k.transpose(1, 2) / self.d ** 0.5, dim=-1)
        y = self.ln1(x + attn @ v)
        y = self.ln2(y + self.gelu(y @ self.up) @ self.down)
        return self.head(y.mean(dim=1))


def randomise_norms(model, gen):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def build_one(name, model, x, out_dir):
    d = os.path.join(out_dir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    model.eval()
    with torch.no_grad():
        fp32 = model(x).numpy()
    buf = io.BytesIO()
    # PRESERVE on an eval-mode model exports it as it is, without folding BatchNormalization into
    # the Conv before it (what EVAL does).
    torch.onnx.export(model, x, buf, opset_version=17, input_names=["input"],
                      output_names=["output"], do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)  # keeps BatchNormalization
    proto = convert_fp16.convert(onnx.load_from_string(buf.getvalue()), convert_fp16.BFLOAT16)
    onnx.checker.check_model(proto)
    path = os.path.join(d, "model.onnx")
    onnx.save(proto, path)
    with torch.no_grad():
        bf16 = model.to(torch.bfloat16)(x.to(torch.bfloat16)).float().numpy()
    np.save(os.path.join(d, "input.npy"), x.numpy())
    np.save(os.path.join(d, "expected.npy"), bf16)
    ops = sorted({n.op_type for n in proto.graph.node})
    return {
        "name": name,
        "ops": ops,
        "kib": sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) / 1024,
        "diff": float(np.max(np.abs(bf16 - fp32))),
        "scale": float(np.max(np.abs(fp32))),
        "top1": bool(np.array_equal(bf16.argmax(1), fp32.argmax(1))),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    cnn = Cnn()
    randomise_norms(cnn, gen)
    transformer = Transformer()
    randomise_norms(transformer, gen)
    rows = [
        build_one("cnn", cnn, torch.randn(2, 3, 16, 16, generator=gen), args.out),
        build_one("transformer", transformer, torch.randn(2, 8, 32, generator=gen), args.out),
    ]
    with open(os.path.join(args.out, "MANIFEST.md"), "w") as f:
        f.write("# bfloat16 fixtures\n\n")
        f.write("Generated by `scripts/make_bf16_fixtures.py` (do not edit by hand; rerun it): "
                "each model\nexported from PyTorch 1.13 as fp32 ONNX (opset 17), converted by "
                "`scripts/convert_fp16.py --bf16`,\nits float32 input, and `expected.npy`, "
                "PyTorch's bfloat16 forward on CPU (cast to float32).\n\n")
        f.write("| name | ops | size (KiB) | PyTorch bf16 vs fp32: max abs diff | "
                "max abs output | same top-1 |\n|---|---|---:|---:|---:|---|\n")
        for r in rows:
            f.write(f"| {r['name']} | {', '.join(r['ops'])} | {r['kib']:.1f} | {r['diff']:.3g} | "
                    f"{r['scale']:.3g} | {'yes' if r['top1'] else 'no'} |\n")
        f.write(f"\nTotal size: {sum(r['kib'] for r in rows):.1f} KiB.\n")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
