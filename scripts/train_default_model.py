#!/usr/bin/python3
"""Train the bundled default model (models/fmnist_resnet.onnx) that the README demo runs on.

A small residual CNN trained on Fashion-MNIST from Debian's dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz, read here with gzip + numpy; nothing is
downloaded).

Architecture (91,642 parameters; BatchNorm is folded into the convolutions on export):

    input [N,1,28,28]
    stem:   Conv3x3(1->16) + BN + ReLU                                    -> [N,16,28,28]
    block1: BasicBlock(16->32, stride 2, Conv1x1/2 + BN projection)       -> [N,32,14,14]
    block2: BasicBlock(32->32, stride 1, identity shortcut)               -> [N,32,14,14]
    block3: BasicBlock(32->64, stride 2, Conv1x1/2 + BN projection)       -> [N,64,7,7]
    global average pool, flatten, Linear(64->10)                          -> logits [N,10]

    BasicBlock(x) = ReLU( BN(Conv3x3(ReLU(BN(Conv3x3(x))))) + shortcut(x) )

Input preprocessing (the fault-injection campaign must do exactly the same):

    x = pixel / 255                     (uint8 image -> [0, 1])
    x = (x - MEAN) / STD                 MEAN = 0.2860, STD = 0.3530
                                         (Fashion-MNIST training-set mean / std of x/255)

The input tensor is float32 NCHW [N,1,28,28], named "input"; the output is "logits" [N,10]
(unnormalised scores; argmax is the class).

Outputs (in --out, default models/):
    fmnist_resnet.onnx            opset 13, dynamic batch axis "N", exported in eval mode with
                                  do_constant_folding=True (BN folded into Conv)
    fmnist_sample_input.npy       first test image, preprocessed, float32 [1,1,28,28]
    fmnist_sample_expected.npy    PyTorch's logits for it, float32 [1,10]
    fmnist_sample_label.txt       its true label (an integer 0..9, then a newline)

The ONNX file is checked with onnx.checker and run through a small numpy interpreter of the
exported graph (onnxruntime is not available here), which must agree with PyTorch on the test
set.

Usage: /usr/bin/python3 scripts/train_default_model.py [--epochs 4] [--out models] [--threads 1]

Deterministic: seeded (SEED below), single-threaded by default, deterministic algorithms on; a
rerun on the same machine and torch version gives the same weights.
"""

import argparse
import gzip
import io
import os
import random
import sys
import time
import warnings

import numpy as np
import onnx
from onnx import helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 1234
OPSET = 13
MEAN = 0.2860  # mean of the Fashion-MNIST training pixels after /255
STD = 0.3530   # standard deviation of the same
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = "/usr/share/datasets/fashion-mnist"


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def _open(path):
    if os.path.exists(path):
        return open(path, "rb")
    if os.path.exists(path + ".gz"):
        return gzip.open(path + ".gz", "rb")
    raise FileNotFoundError(path + "[.gz] (install the Debian package dataset-fashion-mnist)")


def read_idx(path):
    """Read an IDX file (optionally gzipped) into a numpy array."""
    with _open(path) as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError("%s: size mismatch" % path)
    return arr.reshape(shape)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte" % prefix))
    labels = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte" % prefix))
    assert images.shape[0] == labels.shape[0] and images.shape[1:] == (28, 28)
    return images, labels


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28]: x/255, then (x - MEAN) / STD."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return np.ascontiguousarray(x[:, None, :, :], dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + s)


class FmnistResNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        # Downsampling straight after the stem keeps the training cost low on a CPU (a block at
        # 28x28 with 16 channels costs more time than the two 14x14 / 7x7 stages together).
        self.block1 = BasicBlock(16, 32, stride=2)
        self.block2 = BasicBlock(32, 32)
        self.block3 = BasicBlock(32, 64, stride=2)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.block3(self.block2(self.block1(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.fc(x)


# ---------------------------------------------------------------------------------------------
# Training / evaluation
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    out = [model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]
    return torch.cat(out).numpy()


def train(model, x_train, y_train, x_test, y_test, epochs, batch_size, lr):
    gen = torch.Generator().manual_seed(SEED)
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(y_train.astype(np.int64))
    steps_per_epoch = (len(xt) + batch_size - 1) // batch_size
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch,
                                                pct_start=0.25)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total_loss, correct = 0.0, 0
        for i in range(0, len(xt), batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = xt[idx], yt[idx]
            # Light augmentation: random horizontal flip of half the batch (Fashion-MNIST
            # classes are left/right symmetric up to shoe orientation).
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        test_acc = (predict(model, x_test).argmax(1) == y_test).mean()
        print("epoch %d/%d  loss %.4f  train acc %.4f  test acc %.4f  (%.0f s)"
              % (epoch + 1, epochs, total_loss / len(xt), correct / len(xt), test_acc,
                 time.time() - t0), flush=True)
    return time.time() - t0


# ---------------------------------------------------------------------------------------------
# Export and a small numpy interpreter of the exported graph (independent check)
# ---------------------------------------------------------------------------------------------

def export(model, path):
    model.eval()
    x = torch.zeros(1, 1, 28, 28)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, buf, opset_version=OPSET, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    proto = onnx.load_model_from_string(buf.getvalue())
    proto.doc_string = ("dnnfi default model: small residual CNN on Fashion-MNIST. Input 'input' "
                        "float32 [N,1,28,28], preprocessed as (pixel/255 - %.4f) / %.4f. "
                        "Output 'logits' [N,10]. Classes: %s."
                        % (MEAN, STD, ", ".join(CLASSES)))
    # The preprocessing, read by dnnfi campaigns (docs/campaigns.md; the same value
    # scripts/set_model_preprocess.py writes).
    proto.metadata_props.add(key="dnnfi.preprocess",
                             value="{scale: 0.00392156862745098, mean: [%.4f], std: [%.4f]}"
                             % (MEAN, STD))
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, path)
    return proto


def _conv(x, w, b, attrs):
    strides = attrs.get("strides", [1, 1])
    pads = attrs.get("pads", [0, 0, 0, 0])
    dil = attrs.get("dilations", [1, 1])
    assert attrs.get("group", 1) == 1 and dil == [1, 1]
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (xp.shape[2] - kh) // strides[0] + 1
    ow = (xp.shape[3] - kw) // strides[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + strides[0] * oh:strides[0],
                                  j:j + strides[1] * ow:strides[1]]
    cols = cols.reshape(n, c * kh * kw, oh * ow).transpose(0, 2, 1)  # [n, oh*ow, c*kh*kw]
    y = (cols @ w.reshape(m, -1).T).transpose(0, 2, 1).reshape(n, m, oh, ow)
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def run_onnx_numpy(proto, x):
    """Evaluate the exported graph with numpy (float64). Supports only the ops it contains."""
    env = {init.name: numpy_helper.to_array(init).astype(np.float64)
           for init in proto.graph.initializer}
    env[proto.graph.input[0].name] = x.astype(np.float64)
    for node in proto.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        ins = [env[name] if name else None for name in node.input]
        op = node.op_type
        if op == "Conv":
            out = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, attrs)
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "GlobalAveragePool":
            out = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            axis = attrs.get("axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif op == "Gemm":
            a, bm = ins[0], ins[1]
            if attrs.get("transA", 0):
                a = a.T
            if attrs.get("transB", 0):
                bm = bm.T
            out = attrs.get("alpha", 1.0) * (a @ bm)
            if len(ins) > 2 and ins[2] is not None:
                out = out + attrs.get("beta", 1.0) * ins[2]
        else:
            raise NotImplementedError("numpy check: op %s" % op)
        env[node.output[0]] = out
    return env[proto.graph.output[0].name]


def op_counts(proto):
    counts = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=DATA_DIR)
    ap.add_argument("--out", default=os.path.join(REPO, "models"))
    ap.add_argument("--check-n", type=int, default=1000,
                    help="test images run through the numpy ONNX interpreter")
    ap.add_argument("--train-limit", type=int, default=0,
                    help="train on the first N training images only (smoke test)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train_u8, y_train = load_split(args.data, "train")
    x_test_u8, y_test = load_split(args.data, "t10k")
    if args.train_limit:
        x_train_u8, y_train = x_train_u8[:args.train_limit], y_train[:args.train_limit]
    x_train, x_test = preprocess(x_train_u8), preprocess(x_test_u8)
    print("train %s  test %s  (train mean/std after /255: %.4f / %.4f)"
          % (x_train.shape, x_test.shape, (x_train_u8 / 255.0).mean(),
             (x_train_u8 / 255.0).std()))

    model = FmnistResNet()
    n_params = sum(p.numel() for p in model.parameters())
    print("FmnistResNet: %d parameters" % n_params)
    train_s = train(model, x_train, y_train, x_test, y_test, args.epochs, args.batch_size,
                    args.lr)

    model.eval()
    torch_logits = predict(model, x_test)
    acc = float((torch_logits.argmax(1) == y_test).mean())
    print("final PyTorch test accuracy: %.4f (%d/%d); training time %.0f s"
          % (acc, int((torch_logits.argmax(1) == y_test).sum()), len(y_test), train_s))

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fmnist_resnet.onnx")
    proto = export(model, onnx_path)
    size = os.path.getsize(onnx_path)
    print("wrote %s (%d bytes); ops %s" % (onnx_path, size, op_counts(proto)))

    # Independent check of the exported graph on the first CHECK_N test images.
    t0 = time.time()
    n_check = min(args.check_n, len(x_test))
    onnx_logits = np.concatenate([run_onnx_numpy(proto, x_test[i:min(i + 250, n_check)])
                                  for i in range(0, n_check, 250)])
    ref = torch_logits[:n_check]
    max_diff = float(np.abs(onnx_logits - ref).max())
    onnx_acc = float((onnx_logits.argmax(1) == y_test[:n_check]).mean())
    agree = float((onnx_logits.argmax(1) == ref.argmax(1)).mean())
    print("ONNX (numpy interpreter) on the first %d test images: accuracy %.4f (PyTorch %.4f); "
          "top-1 agreement with PyTorch %.4f; max |logit diff| %.2e (%.0f s)"
          % (n_check, onnx_acc, float((ref.argmax(1) == y_test[:n_check]).mean()), agree,
             max_diff, time.time() - t0))
    if max_diff > 1e-3 or agree < 0.9995:
        sys.exit("ONNX export does not match PyTorch")

    # Oracle sample for the C++ tests.
    sample = x_test[:1]
    expected = predict(model, sample).astype(np.float32)
    np.save(os.path.join(args.out, "fmnist_sample_input.npy"), np.ascontiguousarray(sample))
    np.save(os.path.join(args.out, "fmnist_sample_expected.npy"), np.ascontiguousarray(expected))
    with open(os.path.join(args.out, "fmnist_sample_label.txt"), "w") as f:
        f.write("%d\n" % int(y_test[0]))
    print("sample: label %d (%s), predicted %d, logits %s"
          % (y_test[0], CLASSES[y_test[0]], expected.argmax(), np.array2string(expected[0],
                                                                             precision=4)))
    print("RESULT test_accuracy=%.4f onnx_bytes=%d params=%d train_seconds=%.0f"
          % (acc, size, n_params, train_s))


if __name__ == "__main__":
    main()
