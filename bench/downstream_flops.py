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

Regions: the same mean when each reached node recomputes only the part of its output the fault
can reach (a fault in one element of a rank-4 output, 8 seeded random elements per node): through
Conv/MaxPool/AveragePool output rows (and columns) whose windows cover the corrupted ones,
through elementwise ops and Concat the same rows, anything else whole. "rows" is what the cone's
row bands do (fi/row_regions.h) without their rounding of band heights to powers of two;
"rows+cols" what rectangular regions would do. An estimate of arithmetic, not of time (a
memory-bound node, such as a large classifier Gemm, weighs more in time than in FLOPs).

Usage: /usr/bin/python3 bench/downstream_flops.py MODEL.onnx [MODEL.onnx ...]
Prints one markdown row per model: nodes, MFLOP, the mean downstream fraction with whole nodes
(and for faults in the first and last quarter of the nodes, in topological order), with row
bands, and with row and column regions.
"""

import sys

import numpy as np
import onnx
from onnx import helper, shape_inference

WINDOW_OPS = ("Conv", "MaxPool", "AveragePool")
POINTWISE_OPS = ("Relu", "Clip", "Add", "Sub", "Mul", "Div", "BatchNormalization", "Concat",
                 "Sigmoid", "Identity", "LeakyRelu", "HardSigmoid", "HardSwish", "Tanh")


def node_costs(model):
    """Nodes (Constant left out), their costs, value shapes and initializer shapes."""
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
    return nodes, costs, shapes, weights


def attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def reached_region(node, regions, size, weights, cols):
    """The (h0, h1, w0, w1) of `node`'s rank-4 output that its corrupted inputs' regions reach,
    or None for the whole output."""
    live = [r for r in regions if r is not False]
    if any(r is None for r in live):
        return None
    height, width = size
    if node.op_type in WINDOW_OPS:
        kernel = attribute(node, "kernel_shape", None) or weights[node.input[1]][2:]
        strides = attribute(node, "strides", [1, 1])
        pads = attribute(node, "pads", [0, 0, 0, 0])

        def reach(lo, hi, k, s, p, n):  # outputs whose window [o*s-p, o*s-p+k) meets [lo, hi)
            return max(0, -(-(lo + p - k + 1) // s)), min(n, (hi - 1 + p) // s + 1)

        r = live[0]
        h0, h1 = reach(r[0], r[1], kernel[0], strides[0], pads[0], height)
        w0, w1 = reach(r[2], r[3], kernel[1], strides[1], pads[1], width) if cols else (0, width)
        return h0, h1, w0, w1
    if node.op_type in POINTWISE_OPS:
        return (min(r[0] for r in live), max(r[1] for r in live),
                min(r[2] for r in live) if cols else 0, max(r[3] for r in live) if cols else width)
    return None


def region_fractions(nodes, costs, shapes, weights, cols, samples=8, seed=0):
    """Mean fraction of the arithmetic recomputed per fault when each reached node recomputes
    only the region the fault reaches (rows, or rows and columns), over `samples` seeded
    random elements of each node's output."""
    total = float(sum(costs))
    rng = np.random.default_rng(seed)
    out = []
    for i, first in enumerate(nodes):
        shape = shapes.get(first.output[0]) or []
        for _ in range(samples):
            if len(shape) == 4 and all(d > 0 for d in shape):
                h, w = int(rng.integers(shape[2])), int(rng.integers(shape[3]))
                regions = {first.output[0]: (h, h + 1, w, w + 1) if cols else (h, h + 1, 0, shape[3])}
            else:
                regions = {first.output[0]: None}
            spent = 0.0
            for j in range(i + 1, len(nodes)):
                n = nodes[j]
                ins = [regions.get(x, False) for x in n.input]
                if all(r is False for r in ins):
                    continue
                o = shapes.get(n.output[0]) or []
                r = reached_region(n, ins, o[2:], weights, cols) if len(o) == 4 else None
                if r is None:
                    spent += costs[j]
                else:
                    spent += costs[j] * (r[1] - r[0]) * (r[3] - r[2]) / (o[2] * o[3])
                for v in n.output:
                    regions[v] = r
            out.append(spent / total)
    return float(np.mean(out))


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
    print("| model | nodes | MFLOP | whole nodes | first quarter | last quarter | rows | "
          "rows+cols |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in sys.argv[1:]:
        nodes, costs, shapes, weights = node_costs(onnx.load(path))
        f, total = downstream_fractions(nodes, costs)
        q = max(1, len(f) // 4)
        rows = region_fractions(nodes, costs, shapes, weights, cols=False)
        both = region_fractions(nodes, costs, shapes, weights, cols=True)
        name = path.rsplit("/", 1)[-1].removesuffix(".onnx")
        print(f"| {name} | {len(nodes)} | {total / 1e6:.0f} | {np.mean(f):.3f} | "
              f"{np.mean(f[:q]):.3f} | {np.mean(f[-q:]):.3f} | {rows:.3f} | {both:.3f} |")


if __name__ == "__main__":
    main()
