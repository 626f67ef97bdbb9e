#!/usr/bin/python3
"""Build the transformer fixtures used by tests/models/test_transformers.cpp.

Two small transformers with seeded random weights, exported from PyTorch to ONNX:

  bert  BERT-style encoder: token + position embeddings, torch.nn.TransformerEncoder (2 layers,
        d_model 64, 4 heads, GELU, post-LN), final LayerNorm, a classifier on the first token.
        Input: int64 token ids 2x16 in which token 0 is padding; the padding mask
        (ids == 0) is passed to the encoder, so the graph masks attention scores (Equal, Where).
        Opset 17: LayerNorm exports as one LayerNormalization node.
  vit   ViT: 4x4/4 patch-embedding Conv2d, class token, position embedding,
        torch.nn.TransformerEncoder (2 layers, d_model 64, 4 heads, GELU, pre-LN), LayerNorm and a
        linear head on the class token. Input: float32 2x3x32x32.
        Opset 13: LayerNorm exports decomposed (ReduceMean, Sub, Pow, Sqrt, Div).

GELU is the exact (Erf-based) one in both. Each directory holds model.onnx, input.npy and
expected.npy (PyTorch's output in eval mode, float32); MANIFEST.md lists the graphs' ops.

Usage: /usr/bin/python3 scripts/make_transformer_fixtures.py [--out DIR]
Deterministic: running it again gives the same weights, inputs and outputs.
"""

import argparse
import io
import os
import shutil
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "models", "transformers")

D_MODEL = 64
HEADS = 4
LAYERS = 2
FFN = 64  # feed-forward width, kept small so the fixtures stay small


def encoder(norm_first):
    layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, dim_feedforward=FFN, dropout=0.1,
                                       activation="gelu", batch_first=True,
                                       norm_first=norm_first)
    return nn.TransformerEncoder(layer, LAYERS, norm=nn.LayerNorm(D_MODEL),
                                 enable_nested_tensor=False)


class Bert(nn.Module):
    PAD = 0

    def __init__(self, vocab=64, seq=16, num_classes=3):
        super().__init__()
        self.tok = nn.Embedding(vocab, D_MODEL)
        self.pos = nn.Embedding(seq, D_MODEL)
        self.enc = encoder(norm_first=False)
        self.head = nn.Linear(D_MODEL, num_classes)
        self.register_buffer("pos_ids", torch.arange(seq).unsqueeze(0), persistent=False)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(self.pos_ids)
        x = self.enc(x, src_key_padding_mask=ids == self.PAD)
        return self.head(x[:, 0])


class Vit(nn.Module):
    def __init__(self, image=32, patch=4, num_classes=10):
        super().__init__()
        n = (image // patch) ** 2
        self.patch = nn.Conv2d(3, D_MODEL, patch, patch)
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, D_MODEL))
        self.pos = nn.Parameter(0.02 * torch.randn(1, n + 1, D_MODEL))
        self.enc = encoder(norm_first=True)
        self.head = nn.Linear(D_MODEL, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)  # B x patches x d
        cls = self.cls.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos
        x = self.enc(x)
        return self.head(x[:, 0])


def bert_input():
    gen = torch.Generator().manual_seed(3001)
    ids = torch.randint(1, 64, (2, 16), generator=gen)
    ids[1, 11:] = Bert.PAD  # the second sequence is 11 tokens and padding
    return ids


def vit_input():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3002))


# name, model factory, input factory, opset, what it covers
FIXTURES = [
    ("bert", Bert, bert_input, 17,
     "token/position Embedding (Gather on int64 ids), post-LN encoder, padding mask, "
     "LayerNormalization"),
    ("vit", Vit, vit_input, 13,
     "patch Conv2d, class token (Concat), pre-LN encoder, LayerNorm decomposed"),
]


def op_counts(proto):
    counts = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def build_one(index, name, factory, make_input, opset, out_dir):
    torch.manual_seed(1100 + index)
    model = factory().eval()
    x = make_input()
    with torch.no_grad():
        y = model(x)
    d = os.path.join(out_dir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, opset_version=opset, do_constant_folding=True,
                          input_names=["input"], output_names=["output"])
    proto = onnx.load_model_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    onnx.save_model(proto, os.path.join(d, "model.onnx"))
    np.save(os.path.join(d, "input.npy"), np.ascontiguousarray(x.numpy()))
    np.save(os.path.join(d, "expected.npy"), np.ascontiguousarray(y.numpy(), dtype=np.float32))
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    return dict(name=name, opset=opset, ops=op_counts(proto), nodes=len(proto.graph.node),
                input=f"{'x'.join(map(str, x.shape))} {x.dtype}".replace("torch.", ""),
                output="x".join(map(str, y.shape)),
                params=sum(p.numel() for p in model.parameters()), bytes=size)


def write_manifest(rows, out_dir, covers):
    lines = [
        "# Transformer fixtures",
        "",
        "Generated by `scripts/make_transformer_fixtures.py` (do not edit by hand; rerun it).",
        f"PyTorch {torch.__version__}, onnx {onnx.__version__}. Seeded random weights and inputs;",
        "`expected.npy` is PyTorch's output in eval mode (float32).",
        "",
        "| name | opset | input | output | nodes | params | size (KiB) | ops (count) | covers |",
        "|---|---:|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["ops"].items()))
        lines.append(f"| {r['name']} | {r['opset']} | {r['input']} | {r['output']} | {r['nodes']}"
                     f" | {r['params']} | {r['bytes'] / 1024:.1f} | {ops} | {covers[r['name']]} |")
    lines += ["", f"Total size: {sum(r['bytes'] for r in rows) / 1024:.1f} KiB.", ""]
    with open(os.path.join(out_dir, "MANIFEST.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for i, (name, factory, make_input, opset, _) in enumerate(FIXTURES):
        rows.append(build_one(i, name, factory, make_input, opset, args.out))
        print(f"{name}: {rows[-1]['nodes']} nodes, {rows[-1]['bytes'] / 1024:.1f} KiB")
    write_manifest(rows, args.out, {f[0]: f[4] for f in FIXTURES})


if __name__ == "__main__":
    main()
