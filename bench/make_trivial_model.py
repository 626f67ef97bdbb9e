#!/usr/bin/python3
"""Write bench/work/trivial.onnx: a Fashion-MNIST-shaped classifier that costs almost nothing
(Flatten -> Gemm 784x10 -> Softmax, seeded random weights), so that a campaign on it measures the
campaign machinery (sampling, records, messages, commits) rather than inference. bench/mpi.sh
uses it to measure how many trials per second rank 0 can commit.

Usage: /usr/bin/python3 bench/make_trivial_model.py [OUT]
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "work", "trivial.onnx")
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array((rng.standard_normal((784, 10)) * 0.05).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(10, np.float32), "b")
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "trivial",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
