"""Writes the tiny ONNX fixtures of the Python tests (run with Debian's python3-onnx):
  /usr/bin/python3 python/tests/make_fixtures.py
tiny_relu_matmul.onnx: y = relu(x) @ W, x float32 [1, 4], W = [[1, 0], [0, 1], [1, 1], [2, -1]]
  (outputs easy to compute by hand);
multinomial.onnx: one Multinomial node, a random op dnnfi does not support (an UnsupportedError at
  load).
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent / "data"


def save(graph, name):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="dnnfi python/tests/make_fixtures.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(HERE / name))


def main():
    HERE.mkdir(exist_ok=True)
    w = np.array([[1, 0], [0, 1], [1, 1], [2, -1]], dtype=np.float32)
    save(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("MatMul", ["r", "W"], ["y"], name="matmul")],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(w, "W")]), "tiny_relu_matmul.onnx")
    save(helper.make_graph(
        [helper.make_node("Multinomial", ["x"], ["y"], name="s")],
        "multinomial",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 1])]), "multinomial.onnx")


if __name__ == "__main__":
    main()
