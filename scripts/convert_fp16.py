#!/usr/bin/python3
"""Convert an fp32 ONNX model to fp16 with the `onnx` package only.

Weights and activations become float16; the graph inputs and outputs stay float32, with a Cast
node at each boundary (what onnxconverter-common's convert_float_to_float16(keep_io_types=True)
does):

  input (float) -> Cast(to=FLOAT16) -> ... float16 graph ... -> Cast(to=FLOAT) -> output (float)

Converted: float initializers, Constant / ConstantOfShape tensor attributes, Cast(to=FLOAT)
inside the graph (becomes to=FLOAT16), the float value_info types. Inputs that ONNX requires to
be float32 whatever the data type stay float32 (Resize scales, Upsample scales). Values are
rounded to nearest even (numpy's astype(float16)); float32 weights beyond float16's range become
+-Inf, which the script reports.

Usage: /usr/bin/python3 scripts/convert_fp16.py IN.onnx OUT.onnx
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
FLOAT16 = TensorProto.FLOAT16

# (op_type, input index) that must stay float32 in a float16 graph.
KEEP_FLOAT_INPUTS = {("Resize", 2), ("Upsample", 1)}


def to_half_tensor(t):
    a = numpy_helper.to_array(t)
    h = a.astype(np.float16)
    overflow = int(np.sum(np.isfinite(a) & ~np.isfinite(h)))
    if overflow:
        print(f"warning: {t.name or 'constant'}: {overflow} values overflow float16 to Inf",
              file=sys.stderr)
    return numpy_helper.from_array(h, t.name)


def convert(model):
    g = model.graph
    keep_float = set()  # names of values that must stay float32
    for node in g.node:
        for i, name in enumerate(node.input):
            if (node.op_type, i) in KEEP_FLOAT_INPUTS and name:
                keep_float.add(name)

    for i, init in enumerate(g.initializer):
        if init.data_type == FLOAT and init.name not in keep_float:
            g.initializer[i].CopyFrom(to_half_tensor(init))

    for node in g.node:
        if any(o in keep_float for o in node.output):
            continue
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
                attr.t.CopyFrom(to_half_tensor(attr.t))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                attr.i = FLOAT16

    for vi in g.value_info:
        if vi.type.tensor_type.elem_type == FLOAT and vi.name not in keep_float:
            vi.type.tensor_type.elem_type = FLOAT16

    # Boundary Casts: graph inputs and outputs keep float32.
    rename = {}
    new_nodes = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type != FLOAT or inp.name in keep_float:
            continue
        half = inp.name + "_fp16"
        rename[inp.name] = half
        new_nodes.append(helper.make_node("Cast", [inp.name], [half], to=FLOAT16,
                                          name=inp.name + "_cast_to_fp16"))
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    out_casts = []
    for out in g.output:
        if out.type.tensor_type.elem_type != FLOAT:
            continue
        half = out.name + "_fp16"
        for node in g.node:
            for i, name in enumerate(node.output):
                if name == out.name:
                    node.output[i] = half
            for i, name in enumerate(node.input):
                if name == out.name:
                    node.input[i] = half
        out_casts.append(helper.make_node("Cast", [half], [out.name], to=FLOAT,
                                          name=out.name + "_cast_to_fp32"))
    nodes = new_nodes + list(g.node) + out_casts
    del g.node[:]
    g.node.extend(nodes)
    return model


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    model = onnx.load(sys.argv[1])
    model = convert(model)
    onnx.checker.check_model(model)
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.save(model, sys.argv[2])


if __name__ == "__main__":
    main()
