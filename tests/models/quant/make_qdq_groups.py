#!/usr/bin/env python3
"""Writes small QDQ models for tests/models/test_qdq_fusion.cpp: the node groups our quantizer
does not write but ONNX Runtime's QDQ transformers rewrite (a Gemm without QuantizeLinear, Q
nodes writing the other 8-bit type than their input, MatMul, Mul, Reshape / Transpose between
equal Q/DQ parameters). Each goes to tests/models/quant/qdq_<name>/{model.onnx,input.npy}; then
`node tests/models/quant/make_ort_expected.js` adds ORT's outputs and its QOperator rewrite.

    /usr/bin/python3 tests/models/quant/make_qdq_groups.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, nodes, inits, x, y_shape):
    d = os.path.join(HERE, "qdq_" + name)
    os.makedirs(d, exist_ok=True)
    inits = [nh.from_array(np.asarray(v), k) for k, v in inits.items()]
    g = h.make_graph(nodes, name, [h.make_tensor_value_info("x", T.FLOAT, list(x.shape))],
                     [h.make_tensor_value_info("y", T.FLOAT, list(y_shape))], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(d, "model.onnx"))
    np.save(os.path.join(d, "input.npy"), x)


def qdq(x, s, z, y):
    return [h.make_node("QuantizeLinear", [x, s, z], [y + "_q"]),
            h.make_node("DequantizeLinear", [y + "_q", s, z], [y])]


rng = np.random.default_rng(20261206)
f32 = np.float32

# Gemm with int8 weights and int32 bias read by no QuantizeLinear: a float-output QGemm.
xs = f32(0.02)
ws = np.array([0.01, 0.02, 0.015], f32)
save("gemm_float_out",
     qdq("x", "xs", "xz", "xd") + [
         h.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
         h.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bd"], axis=0),
         h.make_node("Gemm", ["xd", "wd", "bd"], ["y"], transB=1)],
     {"xs": xs, "xz": np.uint8(128), "wq": rng.integers(-127, 128, (3, 16)).astype(np.int8),
      "ws": ws, "wz": np.zeros(3, np.int8), "bq": np.array([100, -200, 50], np.int32),
      "bs": (xs * ws).astype(f32), "bz": np.zeros(3, np.int32)},
     rng.uniform(-2.5, 2.5, (4, 16)).astype(f32), (4, 3))

# uint8 -> Conv -> int8 -> GlobalAveragePool -> Flatten -> Gemm -> uint8 (after a uint8 Add).
# ORT turns int8 activations into uint8 ones (zero point + 128, its QDQS8ToU8Transformer) before
# fusing; dnnfi keeps them int8, which gives the same dequantized values. (An Add from uint8 to
# int8 would stay unfused in dnnfi: QLinearAdd has one type for A, B and C.)
cs = rng.uniform(0.005, 0.02, 4).astype(f32)
gs = rng.uniform(0.005, 0.02, 5).astype(f32)
a_s, c_s, p_s = f32(0.04), f32(0.05), f32(0.01)
save("mixed_types",
     qdq("x", "xs", "xz", "xd") + [h.make_node("Add", ["xd", "xd"], ["a"])] +
     qdq("a", "as", "az", "ad") + [
         h.make_node("DequantizeLinear", ["cq", "cs", "cz"], ["cd"], axis=0),
         h.make_node("DequantizeLinear", ["cb", "cbs", "cbz"], ["cbd"], axis=0),
         h.make_node("Conv", ["ad", "cd", "cbd"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])] +
     qdq("c", "cs_out", "cz_out", "cdq") + [h.make_node("GlobalAveragePool", ["cdq"], ["p"])] +
     qdq("p", "ps", "pz", "pd") + [h.make_node("Flatten", ["pd"], ["fl"])] +
     qdq("fl", "ps", "pz", "fd") + [
         h.make_node("DequantizeLinear", ["gq", "gs", "gz"], ["gd"], axis=0),
         h.make_node("DequantizeLinear", ["gb", "gbs", "gbz"], ["gbd"], axis=0),
         h.make_node("Gemm", ["fd", "gd", "gbd"], ["g"], transB=1)] +
     qdq("g", "ys", "yz", "y"),
     {"xs": xs, "xz": np.uint8(128), "as": a_s, "az": np.uint8(128),
      "cq": rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8), "cs": cs,
      "cz": np.zeros(4, np.int8), "cb": rng.integers(-500, 500, 4).astype(np.int32),
      "cbs": (a_s * cs).astype(f32), "cbz": np.zeros(4, np.int32), "cs_out": c_s,
      "cz_out": np.int8(-20), "ps": p_s, "pz": np.int8(-30),
      "gq": rng.integers(-127, 128, (5, 4)).astype(np.int8), "gs": gs,
      "gz": np.zeros(5, np.int8), "gb": rng.integers(-500, 500, 5).astype(np.int32),
      "gbs": (p_s * gs).astype(f32), "gbz": np.zeros(5, np.int32), "ys": f32(0.03),
      "yz": np.uint8(118)},
     rng.uniform(-2.5, 2.5, (2, 3, 6, 6)).astype(f32), (2, 5))

# MatMul with a per-tensor int8 weight, Mul, then Reshape and Transpose between equal parameters.
save("matmul_mul_reshape",
     qdq("x", "xs", "xz", "xd") + [
         h.make_node("DequantizeLinear", ["wq", "ws1", "wz"], ["wd"]),
         h.make_node("MatMul", ["xd", "wd"], ["m"])] + qdq("m", "ms", "mz", "md") +
     [h.make_node("Mul", ["md", "md"], ["mu"])] + qdq("mu", "us", "uz", "ud") +
     [h.make_node("Reshape", ["ud", "shape"], ["r"])] + qdq("r", "us", "uz", "rd") +
     [h.make_node("Transpose", ["rd"], ["t"], perm=[1, 0])] + qdq("t", "us", "uz", "y"),
     {"xs": xs, "xz": np.uint8(128), "wq": rng.integers(-127, 128, (16, 6)).astype(np.int8),
      "ws1": f32(0.01), "wz": np.int8(0), "ms": f32(0.02), "mz": np.uint8(120),
      "us": f32(0.01), "uz": np.uint8(5), "shape": np.array([8, 3], np.int64)},
     rng.uniform(-2.5, 2.5, (4, 16)).astype(f32), (6, 8))
