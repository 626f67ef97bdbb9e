#!/usr/bin/python3
"""Build the small architecture fixtures used by tests/models.

Each fixture is a tiny PyTorch model in the shape of one architecture family from the TensorFI+
paper (VGG, ResNet, DenseNet, Inception/GoogLeNet, MobileNet, Xception, ...), with seeded random
weights, exported to ONNX opset 13. Next to each model.onnx lie input.npy (a fixed seeded input) and
expected.npy (PyTorch's output in eval mode), both float32 C-order.

Output: tests/models/data/<name>/{model.onnx,input.npy,expected.npy} and
tests/models/data/MANIFEST.md.
The external_data fixture also has weights.bin (every initializer stored outside the .onnx file).

Usage: /usr/bin/python3 scripts/make_model_fixtures.py [--out DIR]

The script is deterministic: running it again gives the same weights, inputs and outputs (the
.onnx bytes may differ only if the torch version changes).
"""

import argparse
import io
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

OPSET = 13
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "models", "data")


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------

def conv_bn_relu(cin, cout, k=3, stride=1, padding=None, groups=1):
    if padding is None:
        padding = k // 2
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _LrnFunction(torch.autograd.Function):
    """Exports as one ONNX LRN node (F.local_response_norm would decompose into ~10 ops)."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class Lrn(nn.LocalResponseNorm):
    """nn.LocalResponseNorm that exports as ONNX LRN.

    PyTorch and ONNX place the window the same way only for odd sizes
    (PyTorch pads size//2 before, ONNX floor((size-1)/2)), so only odd sizes are allowed.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        assert size % 2 == 1, "LRN window must be odd for PyTorch and ONNX to agree"
        super().__init__(size, alpha, beta, k)

    def forward(self, x):
        return _LrnFunction.apply(x, self.size, self.alpha, self.beta, self.k)


# ---- VGG ------------------------------------------------------------------------------------

class Vgg(nn.Module):
    """conv-relu-conv-relu-maxpool stacks, flatten, linear-relu-dropout-linear (VGG-11/16 shape)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 4 * 4, 32), nn.ReLU(inplace=True), nn.Dropout(),
            nn.Linear(32, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# ---- ResNet ---------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride=1):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + identity)


class ResNetStem(nn.Module):
    """7x7/2 conv-bn-relu, 3x3/2 maxpool, the given blocks, global avgpool, fc."""

    def __init__(self, blocks, cin_head, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1))
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin_head, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet_basic():
    return ResNetStem([BasicBlock(8, 8), BasicBlock(8, 16, stride=2)], 16)


def resnet_bottleneck():
    return ResNetStem([Bottleneck(8, 4), Bottleneck(16, 4), Bottleneck(16, 8, stride=2)], 32)


# ---- DenseNet -------------------------------------------------------------------------------

class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1 (bottleneck), BN-ReLU-Conv3x3, output concatenated to the input."""

    def __init__(self, cin, growth, bn_size=2):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return torch.cat([x, out], 1)


class DenseNet(nn.Module):
    def __init__(self, growth=4, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1))
        layers, c = [], 8
        for _ in range(3):
            layers.append(DenseLayer(c, growth))
            c += growth
        self.block1 = nn.Sequential(*layers)
        self.transition = nn.Sequential(  # BN-ReLU-Conv1x1-AvgPool2x2
            nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False),
            nn.AvgPool2d(2, 2))
        c //= 2
        layers = []
        for _ in range(2):
            layers.append(DenseLayer(c, growth))
            c += growth
        self.block2 = nn.Sequential(*layers)
        self.norm = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.block2(self.transition(self.block1(self.stem(x))))
        x = F.relu(self.norm(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


# ---- Inception / GoogLeNet ------------------------------------------------------------------

class InceptionModule(nn.Module):
    """GoogLeNet inception: 1x1 | 1x1-3x3 | 1x1-5x5 | maxpool3x3/1-1x1, concatenated on channels."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1), nn.ReLU(inplace=True))
        self.b2 = nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(c3r, c3, 3, padding=1), nn.ReLU(inplace=True))
        self.b3 = nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(c5r, c5, 5, padding=2), nn.ReLU(inplace=True))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, cp, 1),
                                nn.ReLU(inplace=True))
        self.cout = c1 + c3 + c5 + cp

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class Inception(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(inplace=True))
        self.inc1 = InceptionModule(16, 8, 8, 12, 4, 4, 4)
        self.inc2 = InceptionModule(self.inc1.cout, 8, 8, 8, 4, 8, 8)
        self.fc = nn.Linear(self.inc2.cout, num_classes)

    def forward(self, x):
        x = self.inc2(self.inc1(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class GoogLeNetStem(nn.Module):
    """Caffe GoogLeNet stem: conv7x7/2, maxpool/2 (ceil), LRN, conv1x1, conv3x3, LRN, maxpool/2
    (ceil), then an inception module, global avgpool, dropout, fc, softmax."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 7, 2, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Lrn(5, alpha=1e-4, beta=0.75, k=1.0),
            nn.Conv2d(8, 8, 1), nn.ReLU(inplace=True),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True),
            Lrn(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(3, 2, ceil_mode=True))
        self.inc = InceptionModule(16, 8, 8, 12, 4, 4, 4)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(self.inc.cout, num_classes)

    def forward(self, x):
        x = self.inc(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return F.softmax(self.fc(self.dropout(x)), dim=1)


class InceptionV3Block(nn.Module):
    """InceptionV3 'C' style module: factorized 1x7/7x1 convs (asymmetric kernels and pads) and an
    avgpool3x3/1 branch that counts the padding (count_include_pad=True, as torchvision)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn_relu(3, 16, 3, 2)
        cin, c7 = 16, 8
        self.b1 = conv_bn_relu(cin, 8, 1)
        self.b7 = nn.Sequential(conv_bn_relu(cin, c7, 1),
                                conv_bn_relu(c7, c7, (1, 7), padding=(0, 3)),
                                conv_bn_relu(c7, 8, (7, 1), padding=(3, 0)))
        self.bpool = conv_bn_relu(cin, 8, 1)
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = self.stem(x)
        pool = self.bpool(F.avg_pool2d(x, 3, 1, 1))
        x = torch.cat([self.b1(x), self.b7(x), pool], 1)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


# ---- MobileNet ------------------------------------------------------------------------------

class DepthwiseSeparable(nn.Module):
    """MobileNet v1: depthwise 3x3 conv-BN-ReLU, pointwise 1x1 conv-BN-ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.dw = conv_bn_relu(cin, cin, 3, stride, groups=cin)
        self.pw = conv_bn_relu(cin, cout, 1)

    def forward(self, x):
        return self.pw(self.dw(x))


class MobileNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(3, 8, 3, 2),
            DepthwiseSeparable(8, 16),
            DepthwiseSeparable(16, 32, 2),
            DepthwiseSeparable(32, 32))
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


def conv_bn_relu6(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """MobileNetV2: expand 1x1-ReLU6, depthwise 3x3-ReLU6, project 1x1 (linear), residual add when
    the shape allows. ReLU6 exports as Clip(0, 6)."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers.append(conv_bn_relu6(cin, hidden, 1))
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu6(3, 8, 3, 2),
            InvertedResidual(8, 8, 1, 1),
            InvertedResidual(8, 12, 2, 4),
            InvertedResidual(12, 12, 1, 4),
            conv_bn_relu6(12, 32, 1))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


# ---- Xception -------------------------------------------------------------------------------

class SeparableConv(nn.Module):
    """Xception separable conv: depthwise 3x3 (no activation between) then pointwise 1x1."""

    def __init__(self, cin, cout):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pw(self.dw(x))


class XceptionBlock(nn.Module):
    """Entry-flow block: [ReLU]-SepConv-BN-ReLU-SepConv-BN-MaxPool3x3/2, plus a 1x1/2 conv-BN
    shortcut, joined by Add."""

    def __init__(self, cin, cout, start_with_relu=True):
        super().__init__()
        layers = [nn.ReLU()] if start_with_relu else []
        layers += [SeparableConv(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(),
                   SeparableConv(cout, cout), nn.BatchNorm2d(cout), nn.MaxPool2d(3, 2, 1)]
        self.rep = nn.Sequential(*layers)
        self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return self.rep(x) + self.skip(x)


class Xception(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(3, 8, 3, 2), conv_bn_relu(8, 16, 3))
        self.block1 = XceptionBlock(16, 16, start_with_relu=False)
        self.block2 = XceptionBlock(16, 32)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.relu(self.block2(self.block1(self.stem(x))))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


# ---- Squeeze-and-excite ---------------------------------------------------------------------

class SqueezeExcite(nn.Module):
    """Global avgpool, 1x1 conv-ReLU (squeeze), 1x1 conv-Sigmoid (excite), channel-wise Mul."""

    def __init__(self, c, reduced):
        super().__init__()
        self.fc1 = nn.Conv2d(c, reduced, 1)
        self.fc2 = nn.Conv2d(reduced, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class SeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = conv_bn_relu(3, 16, 3, 2)
        self.se1 = SqueezeExcite(16, 4)
        self.conv2 = conv_bn_relu(16, 16, 3, 1)
        self.se2 = SqueezeExcite(16, 4)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.se1(self.conv1(x))
        x = x + self.se2(self.conv2(x))  # SE inside a residual, as SE-ResNet
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


# ---- External data --------------------------------------------------------------------------

class SmallConvNet(nn.Module):
    """Conv-BN-ReLU, conv, global pool, fc: a carrier for the external-data fixture."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(conv_bn_relu(3, 8, 3, 2), nn.Conv2d(8, 16, 3, 2, 1),
                                      nn.ReLU(inplace=True))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------------
# Fixture table
# ---------------------------------------------------------------------------------------------

# name, model factory, input shape, export options, what it covers.
#   keep_bn: export with TrainingMode.PRESERVE (the model is in eval mode), which skips torch's
#            eval peephole that folds Conv+BatchNormalization, so BatchNormalization nodes remain.
#   dynamic_batch: the batch axis of input and output is symbolic ("batch"); the fixture input
#            uses batch 2 to exercise it.
#   external: all initializers are stored in weights.bin next to model.onnx.
FIXTURES = [
    ("vgg", Vgg, (2, 3, 32, 32), dict(dynamic_batch=True),
     "conv-relu-maxpool stacks + linear; dynamic batch axis, input batch 2"),
    ("resnet_basic", resnet_basic, (1, 3, 32, 32), dict(keep_bn=True),
     "ResNet basic blocks (identity and 1x1/2 projection shortcut); BatchNormalization kept"),
    ("resnet_bottleneck", resnet_bottleneck, (1, 3, 32, 32), dict(),
     "ResNet bottleneck blocks 1x1-3x3-1x1; BN folded into Conv by the exporter"),
    ("densenet", DenseNet, (1, 3, 32, 32), dict(),
     "DenseNet dense blocks (BN-ReLU-Conv, concat) + transition (BN-ReLU-Conv1x1-AvgPool)"),
    ("inception", Inception, (1, 3, 32, 32), dict(),
     "two GoogLeNet inception modules: 4 parallel branches joined by Concat"),
    ("googlenet_lrn", GoogLeNetStem, (1, 3, 32, 32), dict(),
     "GoogLeNet stem with LRN (size 5) and ceil-mode MaxPool, inception module, Softmax"),
    ("inception_v3_block", InceptionV3Block, (1, 3, 32, 32), dict(),
     "InceptionV3 factorized 1x7/7x1 convs, AvgPool3x3/1 with count_include_pad"),
    ("mobilenet", MobileNet, (1, 3, 32, 32), dict(),
     "MobileNet depthwise-separable convs (group = channels)"),
    ("mobilenet_v2", MobileNetV2, (1, 3, 32, 32), dict(),
     "MobileNetV2 inverted residuals; ReLU6 exported as Clip(min, max inputs)"),
    ("xception", Xception, (1, 3, 32, 32), dict(keep_bn=True),
     "Xception separable convs, MaxPool/2 + 1x1/2 conv shortcut, Add; BatchNormalization kept"),
    ("squeeze_excite", SeNet, (1, 3, 32, 32), dict(),
     "squeeze-excite: GlobalAveragePool, 1x1 convs, Sigmoid, broadcast Mul join, residual"),
    ("external_data", SmallConvNet, (1, 3, 32, 32), dict(external=True),
     "small conv net with every initializer in weights.bin (external data)"),
]


def randomize_batchnorm(model, gen):
    """Give BN layers non-trivial statistics; fresh BN (mean 0, var 1, gamma 1, beta 0) would be
    nearly an identity and hide mistakes in a BatchNormalization kernel."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
            m.weight.data.copy_(0.5 + torch.rand(c, generator=gen))
            m.bias.data.copy_(0.2 * torch.randn(c, generator=gen))


def export(model, x, path, keep_bn=False, dynamic_batch=False, external=False):
    kwargs = dict(opset_version=OPSET, do_constant_folding=True,
                  input_names=["input"], output_names=["output"])
    if keep_bn:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    buf = io.BytesIO()
    torch.onnx.export(model, x, buf, **kwargs)
    proto = onnx.load_model_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    if external:
        onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="weights.bin", size_threshold=0)
    else:
        onnx.save_model(proto, path)
    return proto


def op_counts(proto):
    counts = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def dims(value_info):
    return "x".join(d.dim_param if d.dim_param else str(d.dim_value)
                    for d in value_info.type.tensor_type.shape.dim)


def dir_size(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def build_one(index, name, factory, shape, opts, out_dir):
    torch.manual_seed(1000 + index)
    model = factory()
    gen = torch.Generator().manual_seed(2000 + index)
    with torch.no_grad():
        randomize_batchnorm(model, gen)
    model.eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(3000 + index))
    with torch.no_grad():
        y = model(x)

    d = os.path.join(out_dir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    proto = export(model, x, os.path.join(d, "model.onnx"), **opts)
    np.save(os.path.join(d, "input.npy"), np.ascontiguousarray(x.numpy(), dtype=np.float32))
    np.save(os.path.join(d, "expected.npy"), np.ascontiguousarray(y.numpy(), dtype=np.float32))

    # Check the exported graph against what the fixture promises to cover.
    ops = op_counts(proto)
    if opts.get("keep_bn"):
        assert "BatchNormalization" in ops, f"{name}: BatchNormalization was folded away"
    if opts.get("external"):
        assert os.path.getsize(os.path.join(d, "weights.bin")) > 0
    return dict(name=name, ops=ops, input=dims(proto.graph.input[0]),
                output=dims(proto.graph.output[0]), nodes=len(proto.graph.node),
                params=sum(p.numel() for p in model.parameters()), bytes=dir_size(d))


def write_manifest(rows, out_dir):
    total = sum(r["bytes"] for r in rows)
    lines = [
        "# Model fixtures",
        "",
        "Generated by `scripts/make_model_fixtures.py` (do not edit by hand; rerun the script).",
        f"PyTorch {torch.__version__}, onnx {onnx.__version__}, ONNX opset {OPSET}. Seeded random",
        "weights (BatchNorm statistics randomized too), seeded random input. `expected.npy` is",
        "PyTorch's output in eval mode; all arrays are float32 C-order.",
        "",
        "Each directory holds `model.onnx`, `input.npy`, `expected.npy`"
        " (`external_data/` also `weights.bin`).",
        "",
        "| name | input | output | nodes | params | size (KiB) | ops (count) | covers |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["ops"].items()))
        lines.append(f"| {r['name']} | {r['input']} | {r['output']} | {r['nodes']} | "
                     f"{r['params']} | {r['bytes'] / 1024:.1f} | {ops} | {r['covers']} |")
    all_ops = sorted({k for r in rows for k in r["ops"]})
    lines += ["", f"Total size: {total / 1024:.1f} KiB.", "",
              f"ONNX ops used across all fixtures ({len(all_ops)}): {', '.join(all_ops)}.", "",
              "Notes:", "",
              "- torch 1.13 exports every `AvgPool2d` with `count_include_pad=True` as `Pad` +",
              "  `AveragePool`, even when the padding is zero (densenet's transition).",
              "- `LRN` is emitted by an `autograd.Function` with an ONNX symbolic (plain",
              "  `nn.LocalResponseNorm` decomposes into ~10 ops); its size is odd because PyTorch",
              "  and ONNX centre an even window differently.",
              "- `keep_bn` fixtures (resnet_basic, xception) are exported with",
              "  `TrainingMode.PRESERVE` on an eval-mode model so Conv+BatchNormalization is not",
              "  folded; the others let the exporter fold it.",
              ""]
    with open(os.path.join(out_dir, "MANIFEST.md"), "w") as f:
        f.write("\n".join(lines))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default %(default)s)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    # The model is in eval mode, so PRESERVE exports inference-mode BatchNormalization and the
    # "training-amenable mode" constant-folding warning does not apply; g.op() is deprecated in
    # torch 1.14 but is the only way 1.13 offers to emit LRN from an autograd.Function.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    warnings.filterwarnings("ignore", message=".*_graph_op' is deprecated")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for i, (name, factory, shape, opts, covers) in enumerate(FIXTURES):
        row = build_one(i, name, factory, shape, opts, args.out)
        row["covers"] = covers
        rows.append(row)
        print(f"{name:20s} {row['input']:>12s} -> {row['output']:<8s} {row['nodes']:3d} nodes "
              f"{row['bytes'] / 1024:7.1f} KiB  {' '.join(sorted(row['ops']))}")
    total = write_manifest(rows, args.out)
    print(f"total {total / 1024:.1f} KiB in {args.out}")
    if total > 2 * 1024 * 1024:
        sys.exit("fixtures exceed 2 MB")


if __name__ == "__main__":
    main()
