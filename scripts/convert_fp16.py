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

With --bf16 the same conversion targets bfloat16 instead: float32 values are rounded to the
nearest even bfloat16 (float_to_bfloat16 in src/core/dtype.cpp; NaN stays NaN). bfloat16 has
float32's exponent range, so nothing overflows. Casts and names say "bf16" instead of "fp16".

Usage: /usr/bin/python3 scripts/convert_fp16.py [--bf16] IN.onnx OUT.onnx
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
FLOAT16 = TensorProto.FLOAT16
BFLOAT16 = TensorProto.BFLOAT16

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


def float_to_bfloat16_bits(a):
    """float32 array -> uint16 bfloat16 bits, round to nearest even, NaN kept NaN (quieted)."""
    x = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype(np.uint16)
    nan = ((x >> 16) | 0x40).astype(np.uint16)
    return np.where((x & 0x7FFFFFFF) > 0x7F800000, nan, rounded)


def to_bfloat16_tensor(t):
    a = numpy_helper.to_array(t).astype(np.float32)
    bits = float_to_bfloat16_bits(a)
    out = TensorProto()
    out.name = t.name
    out.data_type = BFLOAT16
    out.dims.extend(a.shape)
    out.raw_data = bits.astype("<u2").tobytes()
    return out


def convert(model, target=FLOAT16):
    to_target = to_half_tensor if target == FLOAT16 else to_bfloat16_tensor
    tag = "_fp16" if target == FLOAT16 else "_bf16"
    g = model.graph
    keep_float = set()  # names of values that must stay float32
    for node in g.node:
        for i, name in enumerate(node.input):
            if (node.op_type, i) in KEEP_FLOAT_INPUTS and name:
                keep_float.add(name)

    for i, init in enumerate(g.initializer):
        if init.data_type == FLOAT and init.name not in keep_float:
            g.initializer[i].CopyFrom(to_target(init))

    for node in g.node:
        if any(o in keep_float for o in node.output):
            continue
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
                attr.t.CopyFrom(to_target(attr.t))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                attr.i = target

    for vi in g.value_info:
        if vi.type.tensor_type.elem_type == FLOAT and vi.name not in keep_float:
            vi.type.tensor_type.elem_type = target

    # Boundary Casts: graph inputs and outputs keep float32.
    rename = {}
    new_nodes = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type != FLOAT or inp.name in keep_float:
            continue
        half = inp.name + tag
        rename[inp.name] = half
        new_nodes.append(helper.make_node("Cast", [inp.name], [half], to=target,
                                          name=inp.name + "_cast_to" + tag))
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    out_casts = []
    for out in g.output:
        if out.type.tensor_type.elem_type != FLOAT:
            continue
        half = out.name + tag
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


def convert_file(src, dst, target=FLOAT16):
    model = convert(onnx.load(src), target)
    onnx.checker.check_model(model)
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.save(model, dst)


def main():
    args = sys.argv[1:]
    target = FLOAT16
    if args[:1] == ["--bf16"]:
        target = BFLOAT16
        args = args[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    convert_file(args[0], args[1], target)


if __name__ == "__main__":
    main()
