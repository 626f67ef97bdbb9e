#!/usr/bin/env python3
"""Static int8 quantizer for ONNX CNNs, built on the `onnx` package alone (no onnxruntime).

    quantize_onnx.py MODEL.onnx OUT.onnx [--calib X.npy ...] [--fmnist N] [--random N]

0. Bypasses Identity nodes and gives every use of an initializer shared by several node inputs
   its own copy (torch.onnx.export shares equal folded constants, e.g. two zero biases, which
   would otherwise be quantized once per consumer under one name with different scales).
1. Folds BatchNormalization into the Conv before it.
2. Runs the float model on the calibration inputs with a small numpy executor (Conv, Gemm,
   MatMul, Relu, Clip, Add, MaxPool, GlobalAveragePool, Flatten, BatchNormalization, Constant,
   Identity) and
   records each activation's min / max.
3. Writes the QDQ format that ONNX Runtime's quantize_static(QuantFormat.QDQ) produces:
   - every float activation (graph input, node outputs) gets QuantizeLinear -> DequantizeLinear,
     uint8, asymmetric, range [min(0, lo), max(0, hi)], scale = (hi - lo) / 255,
     zero_point = round_half_even(-lo / scale);
   - Conv / Gemm weights are int8 per output channel, symmetric (scale = max|w| / 127, zero point
     0), stored as int8 initializers behind DequantizeLinear(axis=0);
   - biases are int32 with scale x_scale * w_scale[c], zero point 0, behind DequantizeLinear.
   The graph output keeps its name (it is the last DequantizeLinear's output).

Calibration inputs: --calib .npy files (float32, the model's input shape, batch axis first),
--fmnist N (the first N Fashion-MNIST training images from Debian's dataset-fashion-mnist,
preprocessed like models/fmnist_resnet.onnx), --random N (seeded normal noise of the input shape).
"""
import argparse
import collections
import copy
import gzip
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

FMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def fmnist_images(n):
    with gzip.open(FMNIST, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    x = data[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255.0
    return ((x - 0.2860) / 0.3530).astype(np.float32)


# ---- numpy executor (float32 reference semantics of the ops the fixtures use) ----------------


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, a):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    group = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise SystemExit("auto_pad is not supported by this quantizer")
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (xp.shape[2] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (xp.shape[3] - ((kw - 1) * dw + 1)) // sw + 1
    y = np.zeros((n, m, oh, ow), dtype=np.float64)
    mg = m // group
    for g in range(group):
        xg = xp[:, g * cg:(g + 1) * cg].astype(np.float64)
        wg = w[g * mg:(g + 1) * mg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                y[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wg[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y.astype(np.float32)


def max_pool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    if a.get("ceil_mode", 0) or a.get("dilations", [1, 1]) != [1, 1]:
        raise SystemExit("MaxPool ceil_mode / dilations are not supported by this quantizer")
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                constant_values=-np.inf)
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    y = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            y = np.maximum(y, xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw])
    return y


def run_float(model, x):
    """Every value of the graph for input x: {name: array}."""
    env = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        a = attrs(node)
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A.astype(np.float64) @ B)
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
            y = y.astype(np.float32)
        elif op == "MatMul":
            y = (i[0].astype(np.float64) @ i[1]).astype(np.float32)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Clip":
            lo = i[1] if len(i) > 1 and i[1] is not None else a.get("min", -np.inf)
            hi = i[2] if len(i) > 2 and i[2] is not None else a.get("max", np.inf)
            y = np.clip(i[0], lo, hi)
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "MaxPool":
            y = max_pool(i[0], a)
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "BatchNormalization":
            s = (i[1] / np.sqrt(i[4] + a.get("epsilon", 1e-5))).reshape(1, -1, 1, 1)
            y = (i[0] - i[3].reshape(1, -1, 1, 1)) * s + i[2].reshape(1, -1, 1, 1)
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"])
        elif op == "Identity":
            y = i[0]
        else:
            raise SystemExit(f"op {op} is not supported by this quantizer")
        env[node.output[0]] = np.asarray(y)
    return env


# ---- graph rewriting ----------------------------------------------------------------------------


def unshare_graph(model):
    """Bypass Identity nodes (except one that writes a graph output, which the executor runs) and
    give each further use of a shared initializer its own copy, so that every Conv / Gemm owns its
    weight and bias and the quantized names below are unique."""
    g = model.graph
    outputs = {o.name for o in g.output}
    alias = {n.output[0]: n.input[0] for n in g.node
             if n.op_type == "Identity" and n.output[0] not in outputs}
    nodes = [n for n in g.node if not (n.op_type == "Identity" and n.output[0] in alias)]
    for n in nodes:
        for k, v in enumerate(n.input):
            while v in alias:
                v = alias[v]
            n.input[k] = v
    inits = {t.name: t for t in g.initializer}
    uses = collections.Counter(v for n in nodes for v in n.input if v in inits)
    seen = collections.Counter()
    for n in nodes:
        for k, v in enumerate(n.input):
            if v in inits and uses[v] > 1:
                seen[v] += 1
                if seen[v] > 1:
                    t = copy.deepcopy(inits[v])
                    t.name = f"{v}_copy{seen[v]}"
                    g.initializer.append(t)
                    n.input[k] = t.name
    del g.node[:]
    g.node.extend(nodes)


def fold_batch_norm(model):
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    consumers = {}
    for n in g.node:
        for v in n.input:
            consumers.setdefault(v, []).append(n)
    producers = {o: n for n in g.node for o in n.output}
    drop = []
    for bn in g.node:
        if bn.op_type != "BatchNormalization":
            continue
        cv = producers.get(bn.input[0])
        if cv is None or cv.op_type != "Conv" or len(consumers[cv.output[0]]) != 1:
            raise SystemExit(f"BatchNormalization {bn.name} does not follow a Conv")
        scale, bias, mean, var = (numpy_helper.to_array(inits[n]) for n in bn.input[1:5])
        s = scale / np.sqrt(var + attrs(bn).get("epsilon", 1e-5))
        w = numpy_helper.to_array(inits[cv.input[1]])
        b = numpy_helper.to_array(inits[cv.input[2]]) if len(cv.input) > 2 else np.zeros(w.shape[0])
        w2 = (w * s.reshape(-1, 1, 1, 1)).astype(np.float32)
        b2 = ((b - mean) * s + bias).astype(np.float32)
        inits[cv.input[1]].CopyFrom(numpy_helper.from_array(w2, cv.input[1]))
        bname = cv.name + "_folded_bias"
        g.initializer.append(numpy_helper.from_array(b2, bname))
        del cv.input[2:]
        cv.input.append(bname)
        cv.output[0] = bn.output[0]
        drop.append(bn)
    for n in drop:
        g.node.remove(n)


def act_params(lo, hi):
    lo, hi = min(0.0, float(lo)), max(0.0, float(hi))
    scale = np.float32((hi - lo) / 255.0) if hi > lo else np.float32(1.0)
    zp = int(np.clip(np.round(-lo / scale), 0, 255))
    return scale, np.uint8(zp)


def quantize(model, calib):
    unshare_graph(model)
    fold_batch_norm(model)
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    const_outputs = {o for n in g.node if n.op_type == "Constant" for o in n.output}
    # Calibration: min/max of every float activation.
    ranges = {}
    for x in calib:
        env = run_float(model, x)
        for name, v in env.items():
            if name in inits or name in const_outputs or v.dtype != np.float32:
                continue
            lo, hi = float(v.min()), float(v.max())
            old = ranges.get(name, (lo, hi))
            ranges[name] = (min(lo, old[0]), max(hi, old[1]))
    out_name = g.output[0].name
    new_inits, new_nodes = [], []
    qparams = {}

    def add_init(arr, name):
        new_inits.append(numpy_helper.from_array(arr, name))
        return name

    rename = {}  # activation -> its dequantized copy
    for name, (lo, hi) in ranges.items():
        scale, zp = act_params(lo, hi)
        qparams[name] = scale
        s = add_init(np.array(scale, dtype=np.float32), name + "_scale")
        z = add_init(np.array(zp, dtype=np.uint8), name + "_zero_point")
        deq = name + "_dequantized" if name != out_name else name
        src = name if name != out_name else name + "_float"
        new_nodes.append((name, helper.make_node("QuantizeLinear", [src, s, z], [name + "_quantized"],
                                                 name=name + "_QuantizeLinear")))
        new_nodes.append((name, helper.make_node("DequantizeLinear", [name + "_quantized", s, z],
                                                 [deq], name=name + "_DequantizeLinear")))
        rename[name] = deq
    if out_name in ranges:
        for n in g.node:
            for k, o in enumerate(n.output):
                if o == out_name:
                    n.output[k] = out_name + "_float"
    # Weights and biases of Conv / Gemm.
    weight_nodes = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm") or n.input[1] not in inits:
            continue
        w = inits[n.input[1]]
        axis = 0
        if n.op_type == "Gemm" and not attrs(n).get("transB", 0):
            axis = 1
        wm = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        amax = np.abs(wm).max(axis=1)
        ws = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        wq = np.clip(np.round(w / ws.reshape(shape)), -127, 127).astype(np.int8)
        wn = n.input[1]
        add_init(wq, wn + "_quantized")
        add_init(ws, wn + "_scale")
        add_init(np.zeros(ws.shape, dtype=np.int8), wn + "_zero_point")
        weight_nodes.append(helper.make_node(
            "DequantizeLinear", [wn + "_quantized", wn + "_scale", wn + "_zero_point"],
            [wn + "_dequantized"], name=wn + "_DequantizeLinear", axis=axis))
        if len(n.input) > 2 and n.input[2] in inits and n.input[0] in qparams:
            b = inits[n.input[2]]
            bs = (qparams[n.input[0]] * ws).astype(np.float32)
            bq = np.round(b / bs).astype(np.int32)
            bn = n.input[2]
            add_init(bq, bn + "_quantized")
            add_init(bs, bn + "_scale")
            add_init(np.zeros(bs.shape, dtype=np.int32), bn + "_zero_point")
            weight_nodes.append(helper.make_node(
                "DequantizeLinear", [bn + "_quantized", bn + "_scale", bn + "_zero_point"],
                [bn + "_dequantized"], name=bn + "_DequantizeLinear", axis=0))
            n.input[2] = bn + "_dequantized"
        n.input[1] = wn + "_dequantized"
    # Consumers read the dequantized activations.
    for n in g.node:
        for k, v in enumerate(n.input):
            if v in rename and v != out_name:
                n.input[k] = rename[v]
    # Order: weights first, then each activation's Q/DQ right after its producer.
    after = {}
    for name, node in new_nodes:
        after.setdefault(name, []).append(node)
    ordered = list(weight_nodes) + after.get(g.input[0].name, [])
    for n in g.node:
        ordered.append(n)
        for o in n.output:
            ordered.extend(after.get(o if o != out_name + "_float" else out_name, []))
    del g.node[:]
    g.node.extend(ordered)
    used = {v for n in g.node for v in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep + [t for t in new_inits if t.name in used])
    del g.value_info[:]
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--calib", nargs="*", default=[])
    ap.add_argument("--fmnist", type=int, default=0)
    ap.add_argument("--random", type=int, default=0)
    args = ap.parse_args()
    model = onnx.load(args.model)
    calib = [np.load(p).astype(np.float32) for p in args.calib]
    if args.fmnist:
        calib.append(fmnist_images(args.fmnist))
    if args.random:
        shape = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
        rng = np.random.default_rng(0)
        for _ in range(args.random):
            calib.append(rng.standard_normal(shape).astype(np.float32))
    if not calib:
        sys.exit("no calibration inputs (--calib, --fmnist or --random)")
    q = quantize(model, calib)
    onnx.checker.check_model(q)
    onnx.save(q, args.out)
    print(f"{args.out}: {sum(n.op_type == 'QuantizeLinear' for n in q.graph.node)} quantized "
          f"activations, {len(q.graph.node)} nodes")


if __name__ == "__main__":
    main()
