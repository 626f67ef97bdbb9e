#!/usr/bin/python3
"""ONNX Runtime oracles for com.microsoft QLinearAdd rounding (tests/ops/test_quantize.cpp).

For each parameter set below, QLinearAdd over every uint8 pair (a, b) is run in onnxruntime-node
(CPU, bench/node_modules; on an AVX2 machine that is MLAS's qladd_avx2.cpp kernel), once with A
and B of the same shape (65536 elements) and once with a single-element A. The script prints the
pairs where ONNX Runtime's result differs from any candidate formula (the portable
rhe(ra * (a - za) + rb * (b - zb)) + zc, the fused formula with an unfused fixed part, ...), with
ORT's value: tests/ops/test_quantize.cpp spells those pairs out, so it fails if dnnfi's QLinearAdd
leaves ORT's rounding exactly where the formulas part. The parameter set was found by searching
seeded random scales and zero points for one where the fused and unfused fixed parts differ.

Usage: (cd bench && npm install --ignore-scripts)
       /usr/bin/python3 scripts/make_qlinear_add_oracles.py
Deterministic: running it again prints the same lines (with the same onnxruntime-node).
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
f32 = np.float32

# (A_scale, B_scale, C_scale, A_zero_point, B_zero_point, C_zero_point), all uint8.
PARAMS = [
    (f32(0.07733962), f32(0.049851), f32(0.028835293), 117, 231, 97),
]

RUN_JS = r"""
const ort = require(process.argv[1]);
const fs = require('fs');
(async () => {
  const s = await ort.InferenceSession.create(process.argv[2], {intraOpNumThreads: 1,
    graphOptimizationLevel: 'disabled', executionProviders: ['cpu'], logSeverityLevel: 3});
  const r = await s.run({x: new ort.Tensor('float32', new Float32Array([0]), [1])});
  const bufs = s.outputNames.slice(1).map((n) => Buffer.from(r[n].data.buffer, r[n].data.byteOffset,
                                                              r[n].data.byteLength));
  fs.writeFileSync(process.argv[3], Buffer.concat(bufs));
  console.log(ort.env.versions.common);
})().catch((e) => { console.error(e); process.exit(1); });
"""


def run_ort(params, a_inputs, b, work):
    """ORT's QLinearAdd(A, B) for each A in a_inputs (uint8 arrays) against B, concatenated."""
    sa, sb, sc, za, zb, zc = params
    inits = [numpy_helper.from_array(b, "B")]
    for name, v in (("sa", sa), ("sb", sb), ("sc", sc)):
        inits.append(numpy_helper.from_array(np.array(v, dtype=np.float32), name))
    for name, v in (("za", za), ("zb", zb), ("zc", zc)):
        inits.append(numpy_helper.from_array(np.array(v, dtype=np.uint8), name))
    nodes = [helper.make_node("Identity", ["x"], ["y"])]  # the graph needs an input
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]
    for i, a in enumerate(a_inputs):
        inits.append(numpy_helper.from_array(a, f"A{i}"))
        nodes.append(helper.make_node(
            "QLinearAdd", [f"A{i}", "sa", "za", "B", "sb", "zb", "sc", "zc"], [f"c{i}"],
            domain="com.microsoft"))
        outputs.append(helper.make_tensor_value_info(f"c{i}", TensorProto.UINT8, [b.size]))
    graph = helper.make_graph(
        nodes, "qlinear_add", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.microsoft", 1)])
    path, out = os.path.join(work, "qlinear_add.onnx"), os.path.join(work, "c.bin")
    onnx.save(model, path)
    ort = os.path.join(ROOT, "bench", "node_modules", "onnxruntime-node")
    version = subprocess.run(["node", "-e", RUN_JS, ort, path, out], check=True,
                             capture_output=True, text=True).stdout.strip()
    return np.fromfile(out, dtype=np.uint8).astype(np.int64), version


def fma(x, y, z):
    """float32 fused multiply-add: the product of two float32 is exact in float64 and the sum is
    rounded to float64, then to float32; that double rounding can differ from one rounding only
    when the float64 sum lies exactly halfway between two float32 (the fused columns agreeing
    with ORT on every pair is the check that it does not matter here)."""
    return (np.float64(x) * np.float64(y) + np.float64(z)).astype(f32)


def rhe_sat(v):
    return np.clip(np.rint(v), 0, 255).astype(np.int64)


def report(label, a, b, ort, candidates):
    counts = ", ".join(f"{k} {int((v != ort).sum())}" for k, v in candidates.items())
    print(f"# {label}: pairs where ORT differs from: {counts} (of {ort.size})")
    bad = np.zeros(ort.shape, dtype=bool)
    for v in candidates.values():
        bad |= v != ort
    for i in np.nonzero(bad)[0]:
        others = " ".join(f"{k}={v[i]}" for k, v in candidates.items())
        print(f"a={a[i]} b={b[i]} ort={ort[i]} {others}")


def main():
    with tempfile.TemporaryDirectory() as work:
        for params in PARAMS:
            sa, sb, sc, za, zb, zc = params
            ra, rb = f32(sa / sc), f32(sb / sc)
            fused = f32(f32(zc) - fma(ra, f32(za), f32(rb * f32(zb))))
            unfused = f32(f32(zc) - f32(f32(ra * f32(za)) + f32(rb * f32(zb))))
            swapped = f32(f32(zc) - fma(rb, f32(zb), f32(ra * f32(za))))
            # Same shape: every (a, b) pair in one 65536-element add.
            a = np.repeat(np.arange(256, dtype=np.uint8), 256)
            b = np.tile(np.arange(256, dtype=np.uint8), 256)
            ort, version = run_ort(params, [a], b, work)
            print(f"# onnxruntime-node {version}, (A_scale, B_scale, C_scale, A_zp, B_zp, C_zp) = "
                  f"{params}")
            af, bf = a.astype(f32), b.astype(f32)
            report("same shape", a, b, ort, {
                "portable": np.clip(np.rint(f32(ra * (a.astype(np.int64) - za).astype(f32)) +
                                            f32(rb * (b.astype(np.int64) - zb).astype(f32))) + zc,
                                    0, 255).astype(np.int64),
                "unfused_fixed": rhe_sat(fma(af, ra, fma(bf, rb, unfused))),
                "fused": rhe_sat(fma(af, ra, fma(bf, rb, fused)))})
            # Single-element A: 256 adds of A = [a] against B = 0..255.
            ort, _ = run_ort(params, [np.array([i], dtype=np.uint8) for i in range(256)],
                             np.arange(256, dtype=np.uint8), work)
            report("single-element A", a, b, ort, {
                "same_shape_formula": rhe_sat(fma(af, ra, fma(bf, rb, fused))),
                "swapped": rhe_sat(fma(bf, rb, fma(af, ra, swapped)))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
