"""PyTorch modules for the TensorFI+ architectures that torchvision does not have, and width-scaled
builders for those it has. Imported by scripts/make_paper_models.py.

Every builder takes a width divisor (1 = the published widths) so that the small test variants
keep the published block/cell structure (same depth, same branches, same strides and paddings)
with fewer channels. The topologies follow the papers and their public reference ports (Keras
applications, Cadene's pretrainedmodels, timm; for the 32x32 CIFAR-style nets, the structure
choices of the PyTorch CIFAR-100 model zoo weiaicunzai/pytorch-cifar100); the code is written
here, not copied.
"""

import functools
import importlib

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm

# torchvision.models.googlenet/inception_v3 name functions; these are their modules.
tv_googlenet = importlib.import_module("torchvision.models.googlenet")
tv_inception = importlib.import_module("torchvision.models.inception")


def _w(c, div):
    """Channels c scaled down by div, never below 1."""
    return max(1, c // div)


def conv_bn(cin, cout, k, stride=1, padding=0, groups=1, eps=1e-5, relu=True, relu6=False):
    layers = [nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=eps)]
    if relu6:
        layers.append(nn.ReLU6(inplace=True))
    elif relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


# ---- torchvision families, width-scaled -----------------------------------------------------

class ScaledResNet(nn.Module):
    """torchvision ResNet (7x7/2 stem, 3x3/2 maxpool, four stages, global pool, fc) built from
    torchvision's own BasicBlock/Bottleneck with base width 64 // div."""

    def __init__(self, block, layers, div=1, num_classes=1000):
        super().__init__()
        base = _w(64, div)
        self.inplanes = base
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, base, layers[0], 1)
        self.layer2 = self._make_layer(block, base * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, base * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, base * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(base * 8 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        out = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        out += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*out)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


RESNET_LAYERS = {18: (tvm.resnet.BasicBlock, [2, 2, 2, 2]),
                 34: (tvm.resnet.BasicBlock, [3, 4, 6, 3]),
                 50: (tvm.resnet.Bottleneck, [3, 4, 6, 3]),
                 101: (tvm.resnet.Bottleneck, [3, 4, 23, 3]),
                 152: (tvm.resnet.Bottleneck, [3, 8, 36, 3])}


def resnet(depth, div, num_classes=1000):
    if div == 1:
        return getattr(tvm, f"resnet{depth}")(weights=None, num_classes=num_classes)
    block, layers = RESNET_LAYERS[depth]
    return ScaledResNet(block, layers, div, num_classes)


VGG_CFGS = {11: "A", 13: "B", 16: "D", 19: "E"}


class ScaledVgg(nn.Module):
    """torchvision VGG: its make_layers features (channels // div), adaptive avgpool to pool x pool,
    classifier Linear-ReLU-Dropout-Linear-ReLU-Dropout-Linear with hidden 4096 // hidden_div (the
    small variants narrow the 4096-wide classifier 4x more than the convolutions: it would hold
    most of their bytes)."""

    def __init__(self, depth, div, batch_norm, pool, num_classes, hidden_div=None):
        super().__init__()
        cfg = [v if v == "M" else _w(v, div) for v in tvm.vgg.cfgs[VGG_CFGS[depth]]]
        self.features = tvm.vgg.make_layers(cfg, batch_norm=batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d(pool)
        hidden = _w(4096, hidden_div or div)
        self.classifier = nn.Sequential(
            nn.Linear(cfg[-2] * pool * pool, hidden), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg(depth, div, batch_norm=False, num_classes=1000):
    if div == 1:
        name = f"vgg{depth}_bn" if batch_norm else f"vgg{depth}"
        return getattr(tvm, name)(weights=None, num_classes=num_classes)
    return ScaledVgg(depth, div, batch_norm, 1, num_classes, hidden_div=4 * div)


DENSENET_CFGS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


def densenet(depth, div, num_classes=1000):
    # torchvision's DenseNet takes its widths as arguments: growth 32, 64 initial features.
    return tvm.DenseNet(growth_rate=_w(32, div), block_config=DENSENET_CFGS[depth],
                        num_init_features=_w(64, div), num_classes=num_classes)


def _scaled_basic_conv(div, module_cls):
    """A conv_block factory for torchvision's Inception3/GoogLeNet that divides every channel
    count by div (the 3 image channels excepted). The published widths of both nets are multiples
    of 8, so concatenations stay consistent: sum(c // 8) == (sum c) // 8."""

    def make(cin, cout, **kwargs):
        return module_cls(cin if cin == 3 else cin // div, cout // div, **kwargs)

    return make


def inception_v3(div, num_classes=1000):
    if div == 1:
        return tvm.inception_v3(weights=None, aux_logits=False, init_weights=True,
                                num_classes=num_classes)
    conv = _scaled_basic_conv(div, tv_inception.BasicConv2d)
    blocks = [conv] + [functools.partial(b, conv_block=conv) for b in (
        tv_inception.InceptionA, tv_inception.InceptionB, tv_inception.InceptionC,
        tv_inception.InceptionD, tv_inception.InceptionE, tv_inception.InceptionAux)]
    m = tv_inception.Inception3(num_classes=num_classes, aux_logits=False, init_weights=True,
                                inception_blocks=blocks)
    m.fc = nn.Linear(2048 // div, num_classes)
    return m


def googlenet(div, num_classes=1000):
    if div == 1:
        return tvm.googlenet(weights=None, aux_logits=False, init_weights=True,
                             num_classes=num_classes)
    conv = _scaled_basic_conv(div, tv_googlenet.BasicConv2d)
    blocks = [conv, functools.partial(tv_googlenet.Inception, conv_block=conv),
              tv_googlenet.InceptionAux]
    m = tv_googlenet.GoogLeNet(num_classes=num_classes, aux_logits=False, init_weights=True,
                               blocks=blocks)
    m.fc = nn.Linear(1024 // div, num_classes)
    return m


def mobilenet_v2(div, num_classes=1000):
    if div == 1:
        return tvm.mobilenet_v2(weights=None, num_classes=num_classes)
    m = tvm.mobilenet_v2(weights=None, width_mult=1.0 / div, num_classes=num_classes)
    # torchvision never narrows the last 1x1 conv below 1280; narrow it like the rest.
    last_in = m.features[-1][0].in_channels
    last = _w(1280, div)
    m.features[-1] = conv_bn(last_in, last, 1, relu6=True)
    m.classifier[-1] = nn.Linear(last, num_classes)
    return m


# ---- MobileNet v1 (Howard et al. 2017; Keras applications/mobilenet.py) ----------------------

class MobileNetV1(nn.Module):
    """3x3/2 conv, 13 depthwise-separable blocks (dw 3x3-BN-ReLU6, pw 1x1-BN-ReLU6), global
    pool, dropout, fc. Channels are multiplied by alpha = 1/div as Keras' width multiplier."""

    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
        (1024, 2), (1024, 1)]

    def __init__(self, div=1, num_classes=1000):
        super().__init__()
        c = _w(32, div)
        layers = [conv_bn(3, c, 3, 2, 1, relu6=True)]
        for cout, stride in self.BLOCKS:
            cout = _w(cout, div)
            layers += [conv_bn(c, c, 3, stride, 1, groups=c, relu6=True),
                       conv_bn(c, cout, 1, relu6=True)]
            c = cout
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(1e-3)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(self.dropout(torch.flatten(x, 1)))


# ---- CIFAR-style ResNet (He et al.; the 3x3-stem variant used on 32x32 inputs) ---------------

class CifarResNet(nn.Module):
    """3x3/1 conv-BN-ReLU stem (no maxpool), four stages of torchvision BasicBlocks (or
    Bottlenecks, stride on the 3x3 as in the CIFAR-100 zoo) with planes 64/128/256/512 // div and
    stride 1/2/2/2, global average pool (the zoo's adaptive pool: a GlobalAveragePool node),
    fc."""

    def __init__(self, layers, div=1, num_classes=10, block=tvm.resnet.BasicBlock):
        super().__init__()
        base = _w(64, div)
        self.stem = conv_bn(3, base, 3, 1, 1)
        stages, cin = [], base
        for i, n in enumerate(layers):
            planes, stride = base * 2**i, 1 if i == 0 else 2
            cout = planes * block.expansion
            down = None
            if stride != 1 or cin != cout:
                down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                     nn.BatchNorm2d(cout))
            blocks = [block(cin, planes, stride, down)]
            blocks += [block(cout, planes) for _ in range(1, n)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1)
        return self.fc(torch.flatten(x, 1))


# ---- Xception (Chollet 2017; Keras applications/xception.py, timm legacy xception) -----------

class SeparableConv2d(nn.Module):
    """Depthwise kxk then pointwise 1x1, no bias, nothing in between (Keras SeparableConv2D)."""

    def __init__(self, cin, cout, k=3, stride=1, padding=1):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, k, stride, padding, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """reps x ([ReLU]-SepConv-BN), then MaxPool 3x3/2 if strided (3x3/1 if pool: the CIFAR zoo's
    unstrided third entry block); shortcut 1x1/stride conv-BN when the shape changes, identity
    otherwise; joined by Add."""

    def __init__(self, cin, cout, reps, stride, start_with_relu=True, grow_first=True,
                 pool=False):
        super().__init__()
        self.skip = None
        if cout != cin or stride != 1:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))
        # grow_first: the first separable conv widens to cout; otherwise (exit flow) the last.
        widths = [cout] * reps if grow_first else [cin] * (reps - 1) + [cout]
        layers, c = [], cin
        for out in widths:
            layers += [nn.ReLU(inplace=False), SeparableConv2d(c, out), nn.BatchNorm2d(out)]
            c = out
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1 or pool:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x):
        skip = x if self.skip is None else self.skip(x)
        return self.rep(x) + skip


class Xception(nn.Module):
    """Entry flow (two 3x3 convs, blocks 128/256/728 with stride 2), middle flow (8 identity
    blocks of 3 separable convs at 728), exit flow (728->1024 block, separable 1536 and 2048).
    cifar: the CIFAR-100 zoo's 32x32 variant: both stem convs 3x3/1 padded, and the 728 entry
    block unstrided (its max pool 3x3/1, its shortcut 1x1/1), so 32 -> 16 -> 8 -> 8 -> 4 (the
    zoo's shortcut convs also carry a bias, redundant before their BN)."""

    def __init__(self, div=1, num_classes=1000, cifar=False):
        super().__init__()
        c = functools.partial(_w, div=div)
        pad, stride = (1, 1) if cifar else (0, 2)
        self.stem = nn.Sequential(conv_bn(3, c(32), 3, stride, pad),
                                  conv_bn(c(32), c(64), 3, 1, pad))
        blocks = [XceptionBlock(c(64), c(128), 2, 2, start_with_relu=False),
                  XceptionBlock(c(128), c(256), 2, 2),
                  XceptionBlock(c(256), c(728), 2, 1 if cifar else 2, pool=cifar)]
        blocks += [XceptionBlock(c(728), c(728), 3, 1) for _ in range(8)]
        blocks.append(XceptionBlock(c(728), c(1024), 2, 2, grow_first=False))
        self.blocks = nn.Sequential(*blocks)
        self.exit = nn.Sequential(
            SeparableConv2d(c(1024), c(1536)), nn.BatchNorm2d(c(1536)), nn.ReLU(inplace=True),
            SeparableConv2d(c(1536), c(2048)), nn.BatchNorm2d(c(2048)), nn.ReLU(inplace=True))
        self.fc = nn.Linear(c(2048), num_classes)

    def forward(self, x):
        x = self.exit(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---- Inception-v4 and Inception-ResNet-v2 (Szegedy et al. 2016) ------------------------------

def bconv(cin, cout, k, stride=1, padding=0):
    """Conv (no bias)-BN(eps 1e-3)-ReLU, the BasicConv2d of both nets."""
    return conv_bn(cin, cout, k, stride, padding, eps=1e-3)


def avgpool_branch():
    # Keras' AveragePooling2D(3, 1, 'same') does not count the padding.
    return nn.AvgPool2d(3, 1, 1, count_include_pad=False)


class Branches(nn.Module):
    """Runs parallel branches on one input and concatenates their outputs on channels."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class SplitTail(nn.Module):
    """A stem followed by two parallel heads whose outputs are concatenated (Inception-C's 1x3 |
    3x1 split)."""

    def __init__(self, stem, a, b):
        super().__init__()
        self.stem, self.a, self.b = stem, a, b

    def forward(self, x):
        x = self.stem(x)
        return torch.cat([self.a(x), self.b(x)], 1)


def seq(*m):
    return nn.Sequential(*m)


class InceptionV4(nn.Module):
    """Stem (with Mixed_3a/4a/5a), 4 x Inception-A, Reduction-A, 7 x Inception-B, Reduction-B,
    3 x Inception-C, global pool, dropout, fc; all widths // div."""

    def __init__(self, div=1, num_classes=1000):
        super().__init__()
        c = functools.partial(_w, div=div)
        # Input widths are summed from the branch widths: c(a) + c(b) != c(a + b) in general.
        m3 = c(64) + c(96)
        m4 = c(96) * 2
        stem = [bconv(3, c(32), 3, 2), bconv(c(32), c(32), 3), bconv(c(32), c(64), 3, 1, 1),
                Branches(nn.MaxPool2d(3, 2), bconv(c(64), c(96), 3, 2)),
                Branches(seq(bconv(m3, c(64), 1), bconv(c(64), c(96), 3)),
                         seq(bconv(m3, c(64), 1), bconv(c(64), c(64), (1, 7), 1, (0, 3)),
                             bconv(c(64), c(64), (7, 1), 1, (3, 0)), bconv(c(64), c(96), 3))),
                Branches(bconv(m4, c(192), 3, 2), nn.MaxPool2d(3, 2))]

        def inception_a(cin):
            return Branches(bconv(cin, c(96), 1),
                            seq(bconv(cin, c(64), 1), bconv(c(64), c(96), 3, 1, 1)),
                            seq(bconv(cin, c(64), 1), bconv(c(64), c(96), 3, 1, 1),
                                bconv(c(96), c(96), 3, 1, 1)),
                            seq(avgpool_branch(), bconv(cin, c(96), 1)))

        a_out = c(96) * 4
        inc_a = [inception_a(c(192) + m4 if i == 0 else a_out) for i in range(4)]
        red_a = Branches(bconv(a_out, c(384), 3, 2),
                         seq(bconv(a_out, c(192), 1), bconv(c(192), c(224), 3, 1, 1),
                             bconv(c(224), c(256), 3, 2)),
                         nn.MaxPool2d(3, 2))

        def inception_b(cin):
            return Branches(
                bconv(cin, c(384), 1),
                seq(bconv(cin, c(192), 1), bconv(c(192), c(224), (1, 7), 1, (0, 3)),
                    bconv(c(224), c(256), (7, 1), 1, (3, 0))),
                seq(bconv(cin, c(192), 1), bconv(c(192), c(192), (7, 1), 1, (3, 0)),
                    bconv(c(192), c(224), (1, 7), 1, (0, 3)),
                    bconv(c(224), c(224), (7, 1), 1, (3, 0)),
                    bconv(c(224), c(256), (1, 7), 1, (0, 3))),
                seq(avgpool_branch(), bconv(cin, c(128), 1)))

        b_out = c(384) + c(256) + c(256) + c(128)
        inc_b = [inception_b(c(384) + c(256) + a_out if i == 0 else b_out) for i in range(7)]
        red_b = Branches(seq(bconv(b_out, c(192), 1), bconv(c(192), c(192), 3, 2)),
                         seq(bconv(b_out, c(256), 1), bconv(c(256), c(256), (1, 7), 1, (0, 3)),
                             bconv(c(256), c(320), (7, 1), 1, (3, 0)),
                             bconv(c(320), c(320), 3, 2)),
                         nn.MaxPool2d(3, 2))
        c_in = c(192) + c(320) + b_out
        c_out = c(256) * 6
        inc_c = []
        for i in range(3):
            cin = c_in if i == 0 else c_out
            inc_c.append(Branches(
                bconv(cin, c(256), 1),
                SplitTail(bconv(cin, c(384), 1), bconv(c(384), c(256), (1, 3), 1, (0, 1)),
                          bconv(c(384), c(256), (3, 1), 1, (1, 0))),
                SplitTail(seq(bconv(cin, c(384), 1), bconv(c(384), c(448), (3, 1), 1, (1, 0)),
                              bconv(c(448), c(512), (1, 3), 1, (0, 1))),
                          bconv(c(512), c(256), (1, 3), 1, (0, 1)),
                          bconv(c(512), c(256), (3, 1), 1, (1, 0))),
                seq(avgpool_branch(), bconv(cin, c(256), 1))))
        self.features = nn.Sequential(*stem, *inc_a, red_a, *inc_b, red_b, *inc_c)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(c_out, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(self.dropout(torch.flatten(x, 1)))


class ScaledResidual(nn.Module):
    """Inception-ResNet block: branches concatenated, 1x1 conv (with bias) back to the input width,
    x + scale * that, then ReLU unless it is the last block."""

    def __init__(self, branches, cat, cout, scale, relu=True):
        super().__init__()
        self.branches = branches
        self.up = nn.Conv2d(cat, cout, 1, bias=True)
        self.scale = scale
        self.relu = relu

    def forward(self, x):
        out = x + self.scale * self.up(self.branches(x))
        return F.relu(out) if self.relu else out


class InceptionResNetV2(nn.Module):
    """Stem (to 192 channels), Mixed_5b, 10 x Block35 (scale 0.17), Mixed_6a, 20 x Block17
    (scale 0.10), Mixed_7a, 9 x Block8 (scale 0.20) + 1 Block8 (scale 1, no ReLU), 1x1 conv 1536,
    global pool, fc; all widths // div."""

    def __init__(self, div=1, num_classes=1000):
        super().__init__()
        c = functools.partial(_w, div=div)
        stem = [bconv(3, c(32), 3, 2), bconv(c(32), c(32), 3), bconv(c(32), c(64), 3, 1, 1),
                nn.MaxPool2d(3, 2), bconv(c(64), c(80), 1), bconv(c(80), c(192), 3),
                nn.MaxPool2d(3, 2),
                Branches(bconv(c(192), c(96), 1),
                         seq(bconv(c(192), c(48), 1), bconv(c(48), c(64), 5, 1, 2)),
                         seq(bconv(c(192), c(64), 1), bconv(c(64), c(96), 3, 1, 1),
                             bconv(c(96), c(96), 3, 1, 1)),
                         seq(avgpool_branch(), bconv(c(192), c(64), 1)))]
        w35 = c(96) + c(64) + c(96) + c(64)
        b35 = [ScaledResidual(
            Branches(bconv(w35, c(32), 1), seq(bconv(w35, c(32), 1), bconv(c(32), c(32), 3, 1, 1)),
                     seq(bconv(w35, c(32), 1), bconv(c(32), c(48), 3, 1, 1),
                         bconv(c(48), c(64), 3, 1, 1))),
            c(32) * 2 + c(64), w35, 0.17) for _ in range(10)]
        m6a = Branches(bconv(w35, c(384), 3, 2),
                       seq(bconv(w35, c(256), 1), bconv(c(256), c(256), 3, 1, 1),
                           bconv(c(256), c(384), 3, 2)),
                       nn.MaxPool2d(3, 2))
        w17 = c(384) * 2 + w35
        b17 = [ScaledResidual(
            Branches(bconv(w17, c(192), 1),
                     seq(bconv(w17, c(128), 1), bconv(c(128), c(160), (1, 7), 1, (0, 3)),
                         bconv(c(160), c(192), (7, 1), 1, (3, 0)))),
            c(192) * 2, w17, 0.10) for _ in range(20)]
        m7a = Branches(seq(bconv(w17, c(256), 1), bconv(c(256), c(384), 3, 2)),
                       seq(bconv(w17, c(256), 1), bconv(c(256), c(288), 3, 2)),
                       seq(bconv(w17, c(256), 1), bconv(c(256), c(288), 3, 1, 1),
                           bconv(c(288), c(320), 3, 2)),
                       nn.MaxPool2d(3, 2))
        w8 = c(384) + c(288) + c(320) + w17

        def block8(scale, relu):
            return ScaledResidual(
                Branches(bconv(w8, c(192), 1),
                         seq(bconv(w8, c(192), 1), bconv(c(192), c(224), (1, 3), 1, (0, 1)),
                             bconv(c(224), c(256), (3, 1), 1, (1, 0)))),
                c(192) + c(256), w8, scale, relu)

        b8 = [block8(0.20, True) for _ in range(9)] + [block8(1.0, False)]
        self.features = nn.Sequential(*stem, *b35, m6a, *b17, m7a, *b8,
                                      bconv(w8, c(1536), 1))
        self.fc = nn.Linear(c(1536), num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


# ---- NASNet-A (Zoph et al. 2018; Keras applications/nasnet.py) -------------------------------

def same_pad_stride2(size, k):
    """Keras' correct_pad for a stride-2 'valid' op after explicit ZeroPadding2D: (k//2 - 1, k//2)
    on an even side, (k//2, k//2) on an odd one. Returns F.pad's (left, right, top, bottom)."""
    lo = k // 2 - (1 - size % 2)
    return (lo, k // 2, lo, k // 2)


def nas_bn(c):
    return nn.BatchNorm2d(c, eps=1e-3)


class NasSepBlock(nn.Module):
    """ReLU, [zero pad] separable kxk (stride s), BN, ReLU, separable kxk, BN."""

    def __init__(self, cin, cout, k, stride=1, side=None):
        super().__init__()
        # The stride-2 zero padding depends on the input side, fixed here so that the export
        # holds constant pads (a traced x.shape % 2 would export as Shape/Mod ops).
        self.pad = same_pad_stride2(side, k) if stride == 2 else None
        pad = 0 if stride == 2 else k // 2
        self.sep1 = SeparableConv2d(cin, cout, k, stride, pad)
        self.bn1 = nas_bn(cout)
        self.sep2 = SeparableConv2d(cout, cout, k, 1, k // 2)
        self.bn2 = nas_bn(cout)

    def forward(self, x):
        x = F.relu(x)
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = F.relu(self.bn1(self.sep1(x)))
        return self.bn2(self.sep2(x))


def nas_avg3(x):
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class NasAdjust(nn.Module):
    """Keras _adjust_block: brings the previous cell's output p to the current cell's spatial
    size (factorized reduction: two 1x1/2 average-pool paths, the second shifted by one pixel via
    zero pad bottom/right + crop top/left, each a 1x1 conv to filters/2, concatenated, BN) or to
    `filters` channels (ReLU, 1x1 conv, BN). The mode is fixed at build time from the shapes."""

    def __init__(self, mode, cin, filters):
        super().__init__()
        self.mode = mode
        if mode == "reduce":
            self.conv1 = nn.Conv2d(cin, filters // 2, 1, bias=False)
            self.conv2 = nn.Conv2d(cin, filters // 2, 1, bias=False)
            self.bn = nas_bn(filters // 2 * 2)
        elif mode == "project":
            self.conv = nn.Conv2d(cin, filters, 1, bias=False)
            self.bn = nas_bn(filters)

    def forward(self, p):
        if self.mode == "reduce":
            p = F.relu(p)
            p1 = self.conv1(F.avg_pool2d(p, 1, 2))
            p2 = F.pad(p, (0, 1, 0, 1))[:, :, 1:, 1:]
            p2 = self.conv2(F.avg_pool2d(p2, 1, 2))
            return self.bn(torch.cat([p1, p2], 1))
        if self.mode == "project":
            return self.bn(self.conv(F.relu(p)))
        return p


class NasCell(nn.Module):
    """NASNet-A normal or reduction cell with inputs (ip, p); returns (output, ip). ip_shape and
    p_shape are (channels, side); p_shape is (None, None) for the first cell, which has no
    previous cell and uses ip as p (Keras' `if p is None: p = ip`)."""

    def __init__(self, kind, ip_shape, p_shape, filters):
        super().__init__()
        self.kind = kind
        (ci, si), (cp, sp) = ip_shape, p_shape
        if cp is None:
            mode, pc = "none", ci
        elif sp != si:
            mode, pc = "reduce", filters // 2 * 2
        elif cp != filters:
            mode, pc = "project", filters
        else:
            mode, pc = "none", cp
        self.adjust = NasAdjust(mode, cp if cp is not None else ci, filters)
        self.h = nn.Sequential(nn.ReLU(), nn.Conv2d(ci, filters, 1, bias=False), nas_bn(filters))
        f = filters
        if kind == "normal":
            self.x1_1, self.x1_2 = NasSepBlock(f, f, 5), NasSepBlock(pc, f, 3)
            self.x2_1, self.x2_2 = NasSepBlock(pc, f, 5), NasSepBlock(pc, f, 3)
            self.x5 = NasSepBlock(f, f, 3)
            self.out_shape = (pc + 5 * f, si)
        else:
            self.x1_1, self.x1_2 = NasSepBlock(f, f, 5, 2, si), NasSepBlock(pc, f, 7, 2, si)
            self.x2_2 = NasSepBlock(pc, f, 7, 2, si)
            self.x3_2 = NasSepBlock(pc, f, 5, 2, si)
            self.h3_pad = same_pad_stride2(si, 3)
            self.x5_1 = NasSepBlock(f, f, 3)
            self.out_shape = (4 * f, (si + 1) // 2)

    def forward(self, ip, p):
        p = self.adjust(ip if p is None else p)
        h = self.h(ip)
        if self.kind == "normal":
            x1 = self.x1_1(h) + self.x1_2(p)
            x2 = self.x2_1(p) + self.x2_2(p)
            x3 = nas_avg3(h) + p
            x4 = nas_avg3(p) + nas_avg3(p)
            x5 = self.x5(h) + h
            return torch.cat([p, x1, x2, x3, x4, x5], 1), ip
        h3 = F.pad(h, self.h3_pad)
        x1 = self.x1_1(h) + self.x1_2(p)
        x2 = F.max_pool2d(h3, 3, 2) + self.x2_2(p)
        x3 = F.avg_pool2d(h3, 3, 2) + self.x3_2(p)
        x4 = nas_avg3(x1) + x2
        x5 = self.x5_1(x1) + F.max_pool2d(h3, 3, 2)
        return torch.cat([x2, x3, x4, x5], 1), ip


class NASNet(nn.Module):
    """Keras NASNet: 3x3/2 valid stem conv + BN, two stem reduction cells, then three stages of
    num_blocks normal cells separated by reduction cells (filters x2 per stage), ReLU, global
    pool, fc. skip_reduction (NASNet-Large) feeds the cell before a reduction, not the reduction
    cell's input, to the first normal cell after it. Shapes are traced at build time for a given
    input side because the Keras cells choose their adjust path and padding from them."""

    def __init__(self, penultimate, num_blocks, stem_filters, skip_reduction, side,
                 num_classes=1000, mult=2):
        super().__init__()
        filters = penultimate // 24
        self.stem = nn.Sequential(nn.Conv2d(3, stem_filters, 3, 2, 0, bias=False),
                                  nas_bn(stem_filters))
        s = (side - 3) // 2 + 1
        x_shape, p_shape = (stem_filters, s), (None, None)
        cells, plan = [], []  # plan: which p each cell gets ("prev" or "keep")

        def add(kind, f, keep_p=False):
            nonlocal x_shape, p_shape
            cell = NasCell(kind, x_shape, p_shape, f)
            cells.append(cell)
            plan.append(keep_p)
            new_p = x_shape
            x_shape = cell.out_shape
            if not keep_p:
                p_shape = new_p

        add("reduce", filters // mult**2)
        add("reduce", filters // mult)
        for _ in range(num_blocks):
            add("normal", filters)
        add("reduce", filters * mult, keep_p=skip_reduction)
        for _ in range(num_blocks):
            add("normal", filters * mult)
        add("reduce", filters * mult**2, keep_p=skip_reduction)
        for _ in range(num_blocks):
            add("normal", filters * mult**2)
        self.cells = nn.ModuleList(cells)
        self.keep_p = plan
        self.fc = nn.Linear(x_shape[0], num_classes)

    def forward(self, x):
        x = self.stem(x)
        p = None
        for cell, keep in zip(self.cells, self.keep_p):
            x, p0 = cell(x, p)
            if not keep:
                p = p0
        x = F.adaptive_avg_pool2d(F.relu(x), 1)
        return self.fc(torch.flatten(x, 1))


def nasnet_mobile(div, side, num_classes=1000):
    # penultimate filters must stay a multiple of 24 (filters = penultimate / 24) and the first
    # stem cell gets filters / 4, so the narrowest variant has penultimate 96.
    return NASNet(max(96, 1056 // div // 24 * 24), 4, _w(32, div), False, side, num_classes)


def nasnet_large(div, side, num_classes=1000):
    return NASNet(max(96, 4032 // div // 24 * 24), 6, _w(96, div), True, side, num_classes)


# ---- 32x32 nets of the CIFAR-100 zoo (TensorFI+'s CIFAR-100 and GTSRB models) ----------------
# The paper trained these in PyTorch; the popular CIFAR-100 model zoo weiaicunzai/pytorch-cifar100
# is the likely source, so its structure choices are followed here (own code): stems adapted to
# 32x32 inputs, Conv-BN-ReLU everywhere with PyTorch's default BN eps. All widths // div; the
# concatenation widths are summed from the scaled branch widths.

def cifar_resnet(depth, div, num_classes=100):
    block, layers = RESNET_LAYERS[depth]
    return CifarResNet(layers, div, num_classes, block)


class CifarVgg(nn.Module):
    """torchvision's make_layers with BN (3x3 convs with bias, BN, ReLU; its 5 max pools take
    32x32 to 1x1x512), flattened straight into Linear-ReLU-Dropout-Linear-ReLU-Dropout-Linear
    (hidden 4096; the small variants narrow it 4 * div, as ScaledVgg does)."""

    def __init__(self, depth, div=1, num_classes=100):
        super().__init__()
        cfg = [v if v == "M" else _w(v, div) for v in tvm.vgg.cfgs[VGG_CFGS[depth]]]
        self.features = tvm.vgg.make_layers(cfg, batch_norm=True)
        hidden = 4096 if div == 1 else _w(4096, 4 * div)
        self.classifier = nn.Sequential(
            nn.Linear(cfg[-2], hidden), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def cbr_bias(cin, cout, k):
    """Same-padded conv with bias, BN, ReLU (the zoo's GoogLeNet module convs)."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


# GoogLeNet's modules 3a..5b: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj); "M": max pool
# 3x3/2 pad 1 (the zoo also pools right after its stem: 32 -> 16 -> 8 -> 4).
GOOGLENET_CFG = ["M", (64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64), "M",
                 (192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64),
                 (128, 128, 256, 24, 64, 64), (112, 144, 288, 32, 64, 64),
                 (256, 160, 320, 32, 128, 128), "M",
                 (256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)]


class CifarGoogLeNet(nn.Module):
    """Stem of three 3x3/1 convs (64, 64, 192; bias-free), then GOOGLENET_CFG: modules 1x1 |
    1x1-3x3 | 1x1-3x3-3x3 (two 3x3 in place of the 5x5) | maxpool 3x3/1-1x1, concatenated; global
    average pool, dropout 0.4, fc. (The zoo passes the 5x5 width as one BN's eps, a slip not
    copied: BN is folded into the conv on export either way.)"""

    def __init__(self, div=1, num_classes=100):
        super().__init__()
        c = functools.partial(_w, div=div)
        layers = [conv_bn(3, c(64), 3, 1, 1), conv_bn(c(64), c(64), 3, 1, 1),
                  conv_bn(c(64), c(192), 3, 1, 1)]
        w = c(192)
        for m in GOOGLENET_CFG:
            if m == "M":
                layers.append(nn.MaxPool2d(3, 2, 1))
                continue
            n1, n3r, n3, n5r, n5, pp = (c(v) for v in m)
            layers.append(Branches(
                cbr_bias(w, n1, 1), seq(cbr_bias(w, n3r, 1), cbr_bias(n3r, n3, 3)),
                seq(cbr_bias(w, n5r, 1), cbr_bias(n5r, n5, 3), cbr_bias(n5, n5, 3)),
                seq(nn.MaxPool2d(3, 1, 1), cbr_bias(w, pp, 1))))
            w = n1 + n3 + n5 + pp
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(w, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(self.dropout(torch.flatten(x, 1)))


def conv_f(cin, cout, kernel):
    """Bias-free conv-BN-ReLU with a factorized kernel "1x7", "7x1", "1x3" or "3x1" (height x
    width), stride 1, same padding."""
    kh, kw = (int(v) for v in kernel.split("x"))
    return conv_bn(cin, cout, (kh, kw), 1, (kh // 2, kw // 2))


class CifarInceptionV3(nn.Module):
    """The zoo's 32x32 Inception-v3: stem 3x3/1 32, 32, 64 (padded), 1x1 80, 3x3 192 (valid:
    30x30), 3 x Inception-A (its pool branch a 3x3 conv), Inception-B (-> 14x14),
    4 x Inception-C (c7 128, 160, 160, 192), Inception-D (its pool branch an average pool,
    -> 6x6), 2 x Inception-E, global average pool, dropout, fc. Average pools count the padding
    (PyTorch's default)."""

    def __init__(self, div=1, num_classes=100):
        super().__init__()
        c = functools.partial(_w, div=div)
        avg = functools.partial(nn.AvgPool2d, 3, 1, 1)
        layers = [conv_bn(3, c(32), 3, 1, 1), conv_bn(c(32), c(32), 3, 1, 1),
                  conv_bn(c(32), c(64), 3, 1, 1), conv_bn(c(64), c(80), 1),
                  conv_bn(c(80), c(192), 3)]
        w = c(192)
        for pool in (32, 64, 64):  # Inception-A: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg-3x3
            layers.append(Branches(
                conv_bn(w, c(64), 1), seq(conv_bn(w, c(48), 1), conv_bn(c(48), c(64), 5, 1, 2)),
                seq(conv_bn(w, c(64), 1), conv_bn(c(64), c(96), 3, 1, 1),
                    conv_bn(c(96), c(96), 3, 1, 1)),
                seq(avg(), conv_bn(w, c(pool), 3, 1, 1))))
            w = c(64) * 2 + c(96) + c(pool)
        layers.append(Branches(  # Inception-B: 3x3/2 | 1x1-3x3-3x3/2 | maxpool 3x3/2
            conv_bn(w, c(384), 3, 2),
            seq(conv_bn(w, c(64), 1), conv_bn(c(64), c(96), 3, 1, 1), conv_bn(c(96), c(96), 3, 2)),
            nn.MaxPool2d(3, 2)))
        w += c(384) + c(96)
        for c7 in (128, 160, 160, 192):  # Inception-C: 1x1 | 7x1-1x7 | (7x1-1x7) x 2 | avg-1x1
            n = c(c7)
            layers.append(Branches(
                conv_bn(w, c(192), 1),
                seq(conv_bn(w, n, 1), conv_f(n, n, "7x1"), conv_f(n, c(192), "1x7")),
                seq(conv_bn(w, n, 1), conv_f(n, n, "7x1"), conv_f(n, n, "1x7"), conv_f(n, n, "7x1"),
                    conv_f(n, c(192), "1x7")),
                seq(avg(), conv_bn(w, c(192), 1))))
            w = c(192) * 4
        layers.append(Branches(  # Inception-D: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | avgpool 3x3/2
            seq(conv_bn(w, c(192), 1), conv_bn(c(192), c(320), 3, 2)),
            seq(conv_bn(w, c(192), 1), conv_f(c(192), c(192), "1x7"), conv_f(c(192), c(192), "7x1"),
                conv_bn(c(192), c(192), 3, 2)),
            nn.AvgPool2d(3, 2)))
        w += c(320) + c(192)
        for _ in range(2):  # Inception-E: 1x1 | 1x1-(1x3 | 3x1) | 1x1-3x3-(1x3 | 3x1) | avg-1x1
            layers.append(Branches(
                conv_bn(w, c(320), 1),
                SplitTail(conv_bn(w, c(384), 1), conv_f(c(384), c(384), "1x3"),
                          conv_f(c(384), c(384), "3x1")),
                SplitTail(seq(conv_bn(w, c(448), 1), conv_bn(c(448), c(384), 3, 1, 1)),
                          conv_f(c(384), c(384), "1x3"), conv_f(c(384), c(384), "3x1")),
                seq(avg(), conv_bn(w, c(192), 1))))
            w = c(320) + c(384) * 4 + c(192)
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout()
        self.fc = nn.Linear(w, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(self.dropout(torch.flatten(x, 1)))


class CifarInceptionV4(nn.Module):
    """The zoo's 32x32 Inception-v4: stem 3x3 32 (valid: 30x30), 3x3 32, 3x3 64, then its three
    concatenations kept at stride 1 (3x3 96 | maxpool; 1x1-7x1-1x7-3x3 96 | 1x1-3x3 96;
    maxpool | 3x3 192), 4 x Inception-A, Reduction-A (k, l, m, n = 192, 224, 256, 384; -> 14x14),
    7 x Inception-B, Reduction-B (padded: -> 7x7), 3 x Inception-C, 7x7 average pool, dropout,
    fc. Average pools in the blocks count the padding (PyTorch's default)."""

    def __init__(self, div=1, num_classes=100):
        super().__init__()
        c = functools.partial(_w, div=div)
        avg = functools.partial(nn.AvgPool2d, 3, 1, 1)
        m = c(96) + c(64)
        layers = [conv_bn(3, c(32), 3), conv_bn(c(32), c(32), 3, 1, 1),
                  conv_bn(c(32), c(64), 3, 1, 1),
                  Branches(conv_bn(c(64), c(96), 3, 1, 1), nn.MaxPool2d(3, 1, 1)),
                  Branches(seq(conv_bn(m, c(64), 1), conv_f(c(64), c(64), "7x1"),
                               conv_f(c(64), c(64), "1x7"), conv_bn(c(64), c(96), 3, 1, 1)),
                           seq(conv_bn(m, c(64), 1), conv_bn(c(64), c(96), 3, 1, 1))),
                  Branches(nn.MaxPool2d(3, 1, 1), conv_bn(c(96) * 2, c(192), 3, 1, 1))]
        w = c(96) * 2 + c(192)
        for _ in range(4):  # Inception-A: 1x1-3x3-3x3 | 1x1-3x3 | 1x1 | avg-1x1
            layers.append(Branches(
                seq(conv_bn(w, c(64), 1), conv_bn(c(64), c(96), 3, 1, 1),
                    conv_bn(c(96), c(96), 3, 1, 1)),
                seq(conv_bn(w, c(64), 1), conv_bn(c(64), c(96), 3, 1, 1)),
                conv_bn(w, c(96), 1), seq(avg(), conv_bn(w, c(96), 1))))
            w = c(96) * 4
        layers.append(Branches(  # Reduction-A: 1x1 k-3x3 l-3x3/2 m | 3x3/2 n | maxpool 3x3/2
            seq(conv_bn(w, c(192), 1), conv_bn(c(192), c(224), 3, 1, 1),
                conv_bn(c(224), c(256), 3, 2)),
            conv_bn(w, c(384), 3, 2), nn.MaxPool2d(3, 2)))
        w += c(256) + c(384)
        for _ in range(7):  # Inception-B: 1x1 | 1x1-1x7-7x1 | 1x1-1x7-7x1-1x7-7x1 | avg-1x1
            layers.append(Branches(
                conv_bn(w, c(384), 1),
                seq(conv_bn(w, c(192), 1), conv_f(c(192), c(224), "1x7"),
                    conv_f(c(224), c(256), "7x1")),
                seq(conv_bn(w, c(192), 1), conv_f(c(192), c(192), "1x7"),
                    conv_f(c(192), c(224), "7x1"), conv_f(c(224), c(224), "1x7"),
                    conv_f(c(224), c(256), "7x1")),
                seq(avg(), conv_bn(w, c(128), 1))))
            w = c(384) + c(256) * 2 + c(128)
        layers.append(Branches(  # Reduction-B, padded: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool
            seq(conv_bn(w, c(192), 1), conv_bn(c(192), c(192), 3, 2, 1)),
            seq(conv_bn(w, c(256), 1), conv_f(c(256), c(256), "1x7"), conv_f(c(256), c(320), "7x1"),
                conv_bn(c(320), c(320), 3, 2, 1)),
            nn.MaxPool2d(3, 2, 1)))
        w += c(192) + c(320)
        for _ in range(3):  # Inception-C: 1x1 | 1x1-(3x1 | 1x3) | 1x1-1x3-3x1-(1x3 | 3x1) | avg
            layers.append(Branches(
                conv_bn(w, c(256), 1),
                SplitTail(conv_bn(w, c(384), 1), conv_f(c(384), c(256), "3x1"),
                          conv_f(c(384), c(256), "1x3")),
                SplitTail(seq(conv_bn(w, c(384), 1), conv_f(c(384), c(448), "1x3"),
                              conv_f(c(448), c(512), "3x1")),
                          conv_f(c(512), c(256), "1x3"), conv_f(c(512), c(256), "3x1")),
                seq(avg(), conv_bn(w, c(256), 1))))
            w = c(256) * 6
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(w, num_classes)

    def forward(self, x):
        x = F.avg_pool2d(self.features(x), 7)
        return self.fc(self.dropout(torch.flatten(x, 1)))
