#!/usr/bin/python3
"""The work a TensorFI+ fault can reach: for an ONNX model, the mean over its nodes (uniform node
choice, as TensorFI+'s fault model draws them) of the fraction of the model's arithmetic that lies
downstream of the faulted node. A method that recomputes every node a fault reaches, whole, at the
fault-free run's speed costs that fraction of a fault-free inference per trial, less what early
masking saves (the cone stops where every corrupted value equals the golden one) and what row
bands save (only where activations are tall enough that a fault's rows stay a band); it is the
floor the cone strategy's Table II ratio is measured against in docs/reproducing_tensorfi_plus.md.

Arithmetic: 2 x MACs for Conv (from the weight shape and the output shape) and Gemm/MatMul with a
constant weight; one operation per output element for every other node. Constant nodes are left
out, as dnnfi folds them.

Usage: /usr/bin/python3 bench/downstream_flops.py MODEL.onnx [MODEL.onnx ...]
Prints one markdown row per model: nodes, MFLOP, mean downstream fraction, and the fraction for
faults in the first and last quarter of the nodes (topological order).
"""

import sys

import numpy as np
import onnx
from onnx import shape_inference


def node_costs(model):
    g = shape_inference.infer_shapes(model).graph
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in list(g.value_info) + list(g.input) + list(g.output)}
    weights = {i.name: list(i.dims) for i in g.initializer}
    nodes = [n for n in g.node if n.op_type != "Constant"]
    costs = []
    for n in nodes:
        out = shapes.get(n.output[0]) or []
        numel = int(np.prod(out)) if out and all(d > 0 for d in out) else 0
        w = weights.get(n.input[1]) if len(n.input) > 1 else None
        if n.op_type == "Conv" and w:
            costs.append(2 * numel * int(np.prod(w[1:])))
        elif n.op_type in ("Gemm", "MatMul") and w:
            costs.append(2 * int(np.prod(w)) * max(1, numel // max(1, w[-1])))
        else:
            costs.append(numel)
    return nodes, costs


def downstream_fractions(nodes, costs):
    producer = {o: i for i, n in enumerate(nodes) for o in n.output}
    consumers = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        for x in n.input:
            if x in producer:
                consumers[producer[x]].append(i)
    total = float(sum(costs))
    fractions = []
    for i in range(len(nodes)):
        seen, stack = {i}, [i]
        while stack:
            for c in consumers[stack.pop()]:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        fractions.append(sum(costs[k] for k in seen if k != i) / total)
    return fractions, total


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("| model | nodes | MFLOP | mean downstream fraction | first quarter | last quarter |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in sys.argv[1:]:
        nodes, costs = node_costs(onnx.load(path))
        f, total = downstream_fractions(nodes, costs)
        q = max(1, len(f) // 4)
        name = path.rsplit("/", 1)[-1].removesuffix(".onnx")
        print(f"| {name} | {len(nodes)} | {total / 1e6:.0f} | {np.mean(f):.3f} | "
              f"{np.mean(f[:q]):.3f} | {np.mean(f[-q:]):.3f} |")


if __name__ == "__main__":
    main()
