// Builds the Keras applications that TensorFI+ loads (ResNet50/101/152, VGG16/19, Xception,
// NASNetMobile/Large, MobileNet, MobileNetV2, InceptionResNetV2, InceptionV3, DenseNet121/169/201)
// with the TensorFlow.js layers API, in the topology of keras/applications/*.py (Keras 2.x, as
// TensorFI+ uses them): the same layer classes, names, paddings, block counts and connections,
// with fewer filters (every width divided by `div`), a small input and 5 classes, so that they fit
// in the repository. Each goes to tests/keras/data/app_<name>/ as a tfjs layers model with a seeded
// input and TensorFlow.js's prediction (docs/keras.md, "Keras applications"); make_keras_files.py
// then writes the .keras (and, with KERAS_APP_H5=1, .h5) files of those it lists.
//   cd scripts/keras_fixtures && npm ci && node make_applications.js [name...] && \
//     python3 make_keras_files.py app_inception_resnet_v2 app_resnet50
//
// InceptionResNetV2's scaled residual (x + scale * up) is a Python Lambda in Keras 2 and the
// class CustomScaleLayer in Keras 3; TensorFlow.js runs neither, so it is built here as a custom
// tfjs layer saved as `CustomScaleLayer` with its `scale` (Keras 3's config); make_keras_files.py
// writes it back as the applications' Lambda in the .h5.
'use strict';
const fs = require('fs');
const path = require('path');
const {tf, rng, capture, writeModel, writeArrays, asList, OUT} = require('./make_fixtures');

const L = tf.layers;
const CLASSES = 5;

class CustomScaleLayer extends tf.layers.Layer {
  constructor(config) {
    super(config);
    this.scale = config.scale;
  }
  computeOutputShape(shapes) { return shapes[0]; }
  call(inputs) {
    return tf.tidy(() => tf.add(inputs[0], tf.mul(inputs[1], this.scale)));
  }
  getConfig() { return {...super.getConfig(), scale: this.scale}; }
  static get className() { return 'CustomScaleLayer'; }
}
tf.serialization.registerClass(CustomScaleLayer);

// Keras's automatic layer names (backend.unique_object_name): conv2d, conv2d_1, ...
function namer() {
  const seen = {};
  return (base) => {
    const n = seen[base] || 0;
    seen[base] = n + 1;
    return n === 0 ? base : `${base}_${n}`;
  };
}

// imagenet_utils.correct_pad for channels_last with a known input size.
function correctPad(x, k) {
  const [h, w] = x.shape.slice(1, 3);
  const kk = Array.isArray(k) ? k : [k, k];
  const adj = [1 - (h % 2), 1 - (w % 2)];
  const c = [Math.floor(kk[0] / 2), Math.floor(kk[1] / 2)];
  return [[c[0] - adj[0], c[0]], [c[1] - adj[1], c[1]]];
}

function top(x, auto, named = true) {
  x = L.globalAveragePooling2d({name: named ? 'avg_pool' : auto('global_average_pooling2d')})
          .apply(x);
  return L.dense({name: 'predictions', units: CLASSES, activation: 'softmax'}).apply(x);
}

// ---- ResNet v1 (resnet.py: ResNet, stack1, block1) -------------------------------------------
function resnet(name, blocks, div) {
  const f = (n) => Math.max(1, n / div);
  const input = tf.input({shape: [32, 32, 3], name: 'input_1'});
  let x = L.zeroPadding2d({name: 'conv1_pad', padding: [[3, 3], [3, 3]]}).apply(input);
  x = L.conv2d({name: 'conv1_conv', filters: f(64), kernelSize: 7, strides: 2}).apply(x);
  x = L.batchNormalization({name: 'conv1_bn', axis: 3, epsilon: 1.001e-5}).apply(x);
  x = L.activation({name: 'conv1_relu', activation: 'relu'}).apply(x);
  x = L.zeroPadding2d({name: 'pool1_pad', padding: [[1, 1], [1, 1]]}).apply(x);
  x = L.maxPooling2d({name: 'pool1_pool', poolSize: 3, strides: 2}).apply(x);
  const block1 = (x, filters, stride, convShortcut, n) => {
    let shortcut = x;
    if (convShortcut) {
      shortcut = L.conv2d({name: n + '_0_conv', filters: f(4 * filters), kernelSize: 1,
                           strides: stride}).apply(x);
      shortcut = L.batchNormalization({name: n + '_0_bn', axis: 3, epsilon: 1.001e-5})
                     .apply(shortcut);
    }
    x = L.conv2d({name: n + '_1_conv', filters: f(filters), kernelSize: 1, strides: stride})
            .apply(x);
    x = L.batchNormalization({name: n + '_1_bn', axis: 3, epsilon: 1.001e-5}).apply(x);
    x = L.activation({name: n + '_1_relu', activation: 'relu'}).apply(x);
    x = L.conv2d({name: n + '_2_conv', filters: f(filters), kernelSize: 3, padding: 'same'})
            .apply(x);
    x = L.batchNormalization({name: n + '_2_bn', axis: 3, epsilon: 1.001e-5}).apply(x);
    x = L.activation({name: n + '_2_relu', activation: 'relu'}).apply(x);
    x = L.conv2d({name: n + '_3_conv', filters: f(4 * filters), kernelSize: 1}).apply(x);
    x = L.batchNormalization({name: n + '_3_bn', axis: 3, epsilon: 1.001e-5}).apply(x);
    x = L.add({name: n + '_add'}).apply([shortcut, x]);
    return L.activation({name: n + '_out', activation: 'relu'}).apply(x);
  };
  const stack1 = (x, filters, count, stride, n) => {
    x = block1(x, filters, stride, true, n + '_block1');
    for (let i = 2; i <= count; ++i) x = block1(x, filters, 1, false, n + '_block' + i);
    return x;
  };
  x = stack1(x, 64, blocks[0], 1, 'conv2');
  x = stack1(x, 128, blocks[1], 2, 'conv3');
  x = stack1(x, 256, blocks[2], 2, 'conv4');
  x = stack1(x, 512, blocks[3], 2, 'conv5');
  return tf.model({inputs: input, outputs: top(x), name});
}

// ---- VGG (vgg16.py, vgg19.py) ----------------------------------------------------------------
function vgg(name, convs, div) {
  const f = (n) => Math.max(1, Math.round(n / div));
  const input = tf.input({shape: [32, 32, 3], name: 'input_1'});
  let x = input;
  [64, 128, 256, 512, 512].forEach((filters, b) => {
    for (let i = 1; i <= convs[b]; ++i) {
      x = L.conv2d({name: `block${b + 1}_conv${i}`, filters: f(filters), kernelSize: 3,
                    activation: 'relu', padding: 'same'}).apply(x);
    }
    x = L.maxPooling2d({name: `block${b + 1}_pool`, poolSize: 2, strides: 2}).apply(x);
  });
  x = L.flatten({name: 'flatten'}).apply(x);
  x = L.dense({name: 'fc1', units: f(4096), activation: 'relu'}).apply(x);
  x = L.dense({name: 'fc2', units: f(4096), activation: 'relu'}).apply(x);
  x = L.dense({name: 'predictions', units: CLASSES, activation: 'softmax'}).apply(x);
  return tf.model({inputs: input, outputs: x, name});
}

// ---- Xception (xception.py) ------------------------------------------------------------------
function xception(div) {
  const f = (n) => Math.max(1, Math.round(n / div));
  const auto = namer();
  const input = tf.input({shape: [71, 71, 3], name: 'input_1'});
  const bn = (x, name) => L.batchNormalization({name: name || auto('batch_normalization'),
                                                axis: 3}).apply(x);
  const act = (x, name) => L.activation({name, activation: 'relu'}).apply(x);
  const sep = (x, filters, name) => L.separableConv2d({name, filters: f(filters), kernelSize: 3,
                                                       padding: 'same', useBias: false}).apply(x);
  const res = (x, filters) => bn(L.conv2d({name: auto('conv2d'), filters: f(filters),
                                           kernelSize: 1, strides: 2, padding: 'same',
                                           useBias: false}).apply(x));
  let x = L.conv2d({name: 'block1_conv1', filters: f(32), kernelSize: 3, strides: 2,
                    useBias: false}).apply(input);
  x = act(bn(x, 'block1_conv1_bn'), 'block1_conv1_act');
  x = L.conv2d({name: 'block1_conv2', filters: f(64), kernelSize: 3, useBias: false}).apply(x);
  x = act(bn(x, 'block1_conv2_bn'), 'block1_conv2_act');
  let residual = res(x, 128);
  x = bn(sep(x, 128, 'block2_sepconv1'), 'block2_sepconv1_bn');
  x = act(x, 'block2_sepconv2_act');
  x = bn(sep(x, 128, 'block2_sepconv2'), 'block2_sepconv2_bn');
  x = L.maxPooling2d({name: 'block2_pool', poolSize: 3, strides: 2, padding: 'same'}).apply(x);
  x = L.add({name: auto('add')}).apply([x, residual]);
  for (const [b, filters] of [[3, 256], [4, 728]]) {
    residual = res(x, filters);
    x = act(x, `block${b}_sepconv1_act`);
    x = bn(sep(x, filters, `block${b}_sepconv1`), `block${b}_sepconv1_bn`);
    x = act(x, `block${b}_sepconv2_act`);
    x = bn(sep(x, filters, `block${b}_sepconv2`), `block${b}_sepconv2_bn`);
    x = L.maxPooling2d({name: `block${b}_pool`, poolSize: 3, strides: 2, padding: 'same'})
            .apply(x);
    x = L.add({name: auto('add')}).apply([x, residual]);
  }
  for (let i = 0; i < 8; ++i) {
    residual = x;
    const p = 'block' + (i + 5);
    for (let j = 1; j <= 3; ++j) {
      x = act(x, `${p}_sepconv${j}_act`);
      x = bn(sep(x, 728, `${p}_sepconv${j}`), `${p}_sepconv${j}_bn`);
    }
    x = L.add({name: auto('add')}).apply([x, residual]);
  }
  residual = res(x, 1024);
  x = act(x, 'block13_sepconv1_act');
  x = bn(sep(x, 728, 'block13_sepconv1'), 'block13_sepconv1_bn');
  x = act(x, 'block13_sepconv2_act');
  x = bn(sep(x, 1024, 'block13_sepconv2'), 'block13_sepconv2_bn');
  x = L.maxPooling2d({name: 'block13_pool', poolSize: 3, strides: 2, padding: 'same'}).apply(x);
  x = L.add({name: auto('add')}).apply([x, residual]);
  x = act(bn(sep(x, 1536, 'block14_sepconv1'), 'block14_sepconv1_bn'), 'block14_sepconv1_act');
  x = act(bn(sep(x, 2048, 'block14_sepconv2'), 'block14_sepconv2_bn'), 'block14_sepconv2_act');
  return tf.model({inputs: input, outputs: top(x), name: 'xception'});
}

// ---- NASNet (nasnet.py: NASNet, _separable_conv_block, _adjust_block, _normal_a_cell,
// _reduction_a_cell) --------------------------------------------------------------------------
function nasnet(name, penultimate, numBlocks, stemFilters, skipReduction) {
  const auto = namer();
  const bnArgs = {axis: -1, momentum: 0.9997, epsilon: 1e-3};
  const relu = (x, name) => L.activation({name: name || auto('activation'), activation: 'relu'})
                                .apply(x);
  const bn = (x, name) => L.batchNormalization({name, ...bnArgs}).apply(x);
  const conv1 = (x, filters, name, strides = 1) =>
      L.conv2d({name, filters, kernelSize: 1, strides, padding: 'same', useBias: false,
                kernelInitializer: 'heNormal'}).apply(x);
  const sepBlock = (ip, filters, k, strides, id) => {
    let x = relu(ip);
    let pad = 'same';
    if (strides === 2) {
      x = L.zeroPadding2d({name: `separable_conv_1_pad_${id}`, padding: correctPad(x, k)})
              .apply(x);
      pad = 'valid';
    }
    x = L.separableConv2d({name: `separable_conv_1_${id}`, filters, kernelSize: k, strides,
                           padding: pad, useBias: false}).apply(x);
    x = bn(x, `separable_conv_1_bn_${id}`);
    x = relu(x);
    x = L.separableConv2d({name: `separable_conv_2_${id}`, filters, kernelSize: k,
                           padding: 'same', useBias: false})
            .apply(x);
    return bn(x, `separable_conv_2_bn_${id}`);
  };
  const adjust = (p, ip, filters, id) => {
    if (p === null) return ip;
    if (p.shape[2] !== ip.shape[2]) {
      p = relu(p, `adjust_relu_1_${id}`);
      let p1 = L.averagePooling2d({name: `adjust_avg_pool_1_${id}`, poolSize: 1, strides: 2,
                                   padding: 'valid'}).apply(p);
      p1 = conv1(p1, Math.floor(filters / 2), `adjust_conv_1_${id}`);
      let p2 = L.zeroPadding2d({name: auto('zero_padding2d'), padding: [[0, 1], [0, 1]]})
                   .apply(p);
      p2 = L.cropping2D({name: auto('cropping2d'), cropping: [[1, 0], [1, 0]]}).apply(p2);
      p2 = L.averagePooling2d({name: `adjust_avg_pool_2_${id}`, poolSize: 1, strides: 2,
                               padding: 'valid'}).apply(p2);
      p2 = conv1(p2, Math.floor(filters / 2), `adjust_conv_2_${id}`);
      p = L.concatenate({name: auto('concatenate'), axis: -1}).apply([p1, p2]);
      return bn(p, `adjust_bn_${id}`);
    }
    if (p.shape[3] !== filters) {
      p = relu(p);
      p = conv1(p, filters, `adjust_conv_projection_${id}`);
      return bn(p, `adjust_bn_${id}`);
    }
    return p;
  };
  const avg3 = (x, name, strides = 1) =>
      L.averagePooling2d({name, poolSize: 3, strides, padding: strides === 1 ? 'same' : 'valid'})
          .apply(x);
  const add = (xs, name) => L.add({name: name || auto('add')}).apply(xs);
  const normal = (ip, p, filters, id) => {
    p = adjust(p, ip, filters, id);
    let h = relu(ip);
    h = bn(conv1(h, filters, `normal_conv_1_${id}`), `normal_bn_1_${id}`);
    const x1 = add([sepBlock(h, filters, 5, 1, `normal_left1_${id}`),
                    sepBlock(p, filters, 3, 1, `normal_right1_${id}`)], `normal_add_1_${id}`);
    const x2 = add([sepBlock(p, filters, 5, 1, `normal_left2_${id}`),
                    sepBlock(p, filters, 3, 1, `normal_right2_${id}`)], `normal_add_2_${id}`);
    const x3 = add([avg3(h, `normal_left3_${id}`), p], `normal_add_3_${id}`);
    const x4 = add([avg3(p, `normal_left4_${id}`), avg3(p, `normal_right4_${id}`)],
                   `normal_add_4_${id}`);
    const x5 = add([sepBlock(h, filters, 3, 1, `normal_left5_${id}`), h], `normal_add_5_${id}`);
    const x = L.concatenate({name: `normal_concat_${id}`, axis: -1})
                  .apply([p, x1, x2, x3, x4, x5]);
    return [x, ip];
  };
  const reduction = (ip, p, filters, id) => {
    p = adjust(p, ip, filters, id);
    let h = relu(ip);
    h = bn(conv1(h, filters, `reduction_conv_1_${id}`), `reduction_bn_1_${id}`);
    const h3 = L.zeroPadding2d({name: `reduction_pad_1_${id}`, padding: correctPad(h, 3)})
                   .apply(h);
    const x1 = add([sepBlock(h, filters, 5, 2, `reduction_left1_${id}`),
                    sepBlock(p, filters, 7, 2, `reduction_right1_${id}`)],
                   `reduction_add_1_${id}`);
    const x2 = add([L.maxPooling2d({name: `reduction_left2_${id}`, poolSize: 3, strides: 2,
                                    padding: 'valid'}).apply(h3),
                    sepBlock(p, filters, 7, 2, `reduction_right2_${id}`)],
                   `reduction_add_2_${id}`);
    const x3 = add([avg3(h3, `reduction_left3_${id}`, 2),
                    sepBlock(p, filters, 5, 2, `reduction_right3_${id}`)],
                   `reduction_add3_${id}`);
    const x4 = add([x2, avg3(x1, `reduction_left4_${id}`)]);
    const x5 = add([sepBlock(x1, filters, 3, 1, `reduction_left4_${id}`),
                    L.maxPooling2d({name: `reduction_right5_${id}`, poolSize: 3, strides: 2,
                                    padding: 'valid'}).apply(h3)],
                   `reduction_add4_${id}`);
    const x = L.concatenate({name: `reduction_concat_${id}`, axis: -1}).apply([x2, x3, x4, x5]);
    return [x, ip];
  };
  const input = tf.input({shape: [32, 32, 3], name: 'input_1'});
  const fm = 2;
  const filters = penultimate / 24;
  let x = L.conv2d({name: 'stem_conv1', filters: stemFilters, kernelSize: 3, strides: 2,
                    padding: 'valid', useBias: false})
              .apply(input);
  x = bn(x, 'stem_bn1');
  let p = null;
  [x, p] = reduction(x, p, Math.floor(filters / (fm * fm)), 'stem_1');
  [x, p] = reduction(x, p, Math.floor(filters / fm), 'stem_2');
  let p0;
  for (let i = 0; i < numBlocks; ++i) [x, p] = normal(x, p, filters, `${i}`);
  [x, p0] = reduction(x, p, filters * fm, `reduce_${numBlocks}`);
  p = skipReduction ? p : p0;
  for (let i = 0; i < numBlocks; ++i) {
    [x, p] = normal(x, p, filters * fm, `${numBlocks + i + 1}`);
  }
  [x, p0] = reduction(x, p, filters * fm * fm, `reduce_${2 * numBlocks}`);
  p = skipReduction ? p : p0;
  for (let i = 0; i < numBlocks; ++i) {
    [x, p] = normal(x, p, filters * fm * fm, `${2 * numBlocks + i + 1}`);
  }
  x = relu(x);
  return tf.model({inputs: input, outputs: top(x, auto, false), name});
}

// ---- MobileNet v1 (mobilenet.py: _conv_block, _depthwise_conv_block) -------------------------
function mobilenet(div) {
  const f = (n) => Math.max(1, Math.round(n / div));
  const input = tf.input({shape: [32, 32, 3], name: 'input_1'});
  let x = L.conv2d({name: 'conv1', filters: f(32), kernelSize: 3, padding: 'same', useBias: false,
                    strides: 2}).apply(input);
  x = L.batchNormalization({name: 'conv1_bn', axis: -1}).apply(x);
  x = L.reLU({name: 'conv1_relu', maxValue: 6}).apply(x);
  const dwBlock = (x, filters, strides, id) => {
    if (strides === 2) {
      x = L.zeroPadding2d({name: `conv_pad_${id}`, padding: [[0, 1], [0, 1]]}).apply(x);
    }
    x = L.depthwiseConv2d({name: `conv_dw_${id}`, kernelSize: 3,
                           padding: strides === 1 ? 'same' : 'valid', depthMultiplier: 1,
                           strides, useBias: false}).apply(x);
    x = L.batchNormalization({name: `conv_dw_${id}_bn`, axis: -1}).apply(x);
    x = L.reLU({name: `conv_dw_${id}_relu`, maxValue: 6}).apply(x);
    x = L.conv2d({name: `conv_pw_${id}`, filters: f(filters), kernelSize: 1, padding: 'same',
                  useBias: false, strides: 1}).apply(x);
    x = L.batchNormalization({name: `conv_pw_${id}_bn`, axis: -1}).apply(x);
    return L.reLU({name: `conv_pw_${id}_relu`, maxValue: 6}).apply(x);
  };
  const plan = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1],
                [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]];
  plan.forEach(([filters, s], i) => { x = dwBlock(x, filters, s, i + 1); });
  // include_top (Keras 2.x before keepdims): GAP, Reshape to 1x1xC, Dropout, 1x1 conv, Reshape.
  x = L.globalAveragePooling2d({name: 'global_average_pooling2d'}).apply(x);
  x = L.reshape({name: 'reshape_1', targetShape: [1, 1, f(1024)]}).apply(x);
  x = L.dropout({name: 'dropout', rate: 1e-3}).apply(x);
  x = L.conv2d({name: 'conv_preds', filters: CLASSES, kernelSize: 1, padding: 'same'}).apply(x);
  x = L.reshape({name: 'reshape_2', targetShape: [CLASSES]}).apply(x);
  x = L.activation({name: 'predictions', activation: 'softmax'}).apply(x);
  return tf.model({inputs: input, outputs: x, name: 'mobilenet_1.00_32'});
}

// ---- MobileNetV2 (mobilenet_v2.py: _inverted_res_block) ---------------------------------------
function mobilenetV2(div) {
  const f = (n) => Math.max(1, Math.round(n / div));
  const input = tf.input({shape: [32, 32, 3], name: 'input_1'});
  let x = L.conv2d({name: 'Conv1', filters: f(32), kernelSize: 3, strides: 2, padding: 'same',
                    useBias: false}).apply(input);
  x = L.batchNormalization({name: 'bn_Conv1', axis: -1, epsilon: 1e-3, momentum: 0.999}).apply(x);
  x = L.reLU({name: 'Conv1_relu', maxValue: 6}).apply(x);
  const bn = (x, name) =>
      L.batchNormalization({name, axis: -1, epsilon: 1e-3, momentum: 0.999}).apply(x);
  // `inFull` is the input width of the full-size model: the residual Add follows it.
  const block = (inputs, inFull, filters, stride, expansion, id) => {
    const inCh = inputs.shape[3];
    let x = inputs;
    let prefix = `block_${id}_`;
    if (id) {
      x = L.conv2d({name: prefix + 'expand', filters: expansion * inCh, kernelSize: 1,
                    padding: 'same', useBias: false}).apply(x);
      x = bn(x, prefix + 'expand_BN');
      x = L.reLU({name: prefix + 'expand_relu', maxValue: 6}).apply(x);
    } else {
      prefix = 'expanded_conv_';
    }
    if (stride === 2) {
      x = L.zeroPadding2d({name: prefix + 'pad', padding: correctPad(x, 3)}).apply(x);
    }
    x = L.depthwiseConv2d({name: prefix + 'depthwise', kernelSize: 3, strides: stride,
                           useBias: false, padding: stride === 1 ? 'same' : 'valid'}).apply(x);
    x = bn(x, prefix + 'depthwise_BN');
    x = L.reLU({name: prefix + 'depthwise_relu', maxValue: 6}).apply(x);
    x = L.conv2d({name: prefix + 'project', filters: f(filters), kernelSize: 1, padding: 'same',
                  useBias: false}).apply(x);
    x = bn(x, prefix + 'project_BN');
    if (inFull === filters && stride === 1) x = L.add({name: prefix + 'add'}).apply([inputs, x]);
    return x;
  };
  const plan = [[16, 1, 1], [24, 2, 6], [24, 1, 6], [32, 2, 6], [32, 1, 6], [32, 1, 6],
                [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6], [96, 1, 6], [96, 1, 6],
                [96, 1, 6], [160, 2, 6], [160, 1, 6], [160, 1, 6], [320, 1, 6]];
  let inFull = 32;
  plan.forEach(([filters, s, e], id) => {
    x = block(x, inFull, filters, s, e, id);
    inFull = filters;
  });
  x = L.conv2d({name: 'Conv_1', filters: f(1280), kernelSize: 1, useBias: false}).apply(x);
  x = bn(x, 'Conv_1_bn');
  x = L.reLU({name: 'out_relu', maxValue: 6}).apply(x);
  x = L.globalAveragePooling2d({name: 'global_average_pooling2d'}).apply(x);
  x = L.dense({name: 'predictions', units: CLASSES, activation: 'softmax'}).apply(x);
  return tf.model({inputs: input, outputs: x, name: 'mobilenetv2_1.00_32'});
}

// ---- InceptionV3 (inception_v3.py: conv2d_bn, unnamed) ---------------------------------------
function inceptionV3(div) {
  const f = (n) => Math.max(1, Math.round(n / div));
  const auto = namer();
  const cbn = (x, filters, r, c, padding = 'same', strides = 1) => {
    x = L.conv2d({name: auto('conv2d'), filters: f(filters), kernelSize: [r, c], strides, padding,
                  useBias: false}).apply(x);
    x = L.batchNormalization({name: auto('batch_normalization'), axis: 3, scale: false}).apply(x);
    return L.activation({name: auto('activation'), activation: 'relu'}).apply(x);
  };
  const maxp = (x) => L.maxPooling2d({name: auto('max_pooling2d'), poolSize: 3, strides: 2})
                          .apply(x);
  const avgp = (x) => L.averagePooling2d({name: auto('average_pooling2d'), poolSize: 3,
                                          strides: 1, padding: 'same'}).apply(x);
  const cat = (xs, name) => L.concatenate({name: name || auto('concatenate'), axis: 3}).apply(xs);
  const input = tf.input({shape: [75, 75, 3], name: 'input_1'});
  let x = cbn(input, 32, 3, 3, 'valid', 2);
  x = cbn(x, 32, 3, 3, 'valid');
  x = cbn(x, 64, 3, 3);
  x = maxp(x);
  x = cbn(x, 80, 1, 1, 'valid');
  x = cbn(x, 192, 3, 3, 'valid');
  x = maxp(x);
  for (const [i, pool] of [[0, 32], [1, 64], [2, 64]]) {
    const b1 = cbn(x, 64, 1, 1);
    const b5 = cbn(cbn(x, 48, 1, 1), 64, 5, 5);
    const b3 = cbn(cbn(cbn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
    const bp = cbn(avgp(x), pool, 1, 1);
    x = cat([b1, b5, b3, bp], 'mixed' + i);
  }
  {
    const b3 = cbn(x, 384, 3, 3, 'valid', 2);
    const bd = cbn(cbn(cbn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, 'valid', 2);
    x = cat([b3, bd, maxp(x)], 'mixed3');
  }
  for (const [i, c] of [[4, 128], [5, 160], [6, 160], [7, 192]]) {
    const b1 = cbn(x, 192, 1, 1);
    const b7 = cbn(cbn(cbn(x, c, 1, 1), c, 1, 7), 192, 7, 1);
    let bd = cbn(cbn(cbn(x, c, 1, 1), c, 7, 1), c, 1, 7);
    bd = cbn(cbn(bd, c, 7, 1), 192, 1, 7);
    const bp = cbn(avgp(x), 192, 1, 1);
    x = cat([b1, b7, bd, bp], 'mixed' + i);
  }
  {
    const b3 = cbn(cbn(x, 192, 1, 1), 320, 3, 3, 'valid', 2);
    let b7 = cbn(cbn(cbn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1);
    b7 = cbn(b7, 192, 3, 3, 'valid', 2);
    x = cat([b3, b7, maxp(x)], 'mixed8');
  }
  for (let i = 0; i < 2; ++i) {
    const b1 = cbn(x, 320, 1, 1);
    let b3 = cbn(x, 384, 1, 1);
    b3 = cat([cbn(b3, 384, 1, 3), cbn(b3, 384, 3, 1)], 'mixed9_' + i);
    let bd = cbn(cbn(x, 448, 1, 1), 384, 3, 3);
    bd = cat([cbn(bd, 384, 1, 3), cbn(bd, 384, 3, 1)]);
    const bp = cbn(avgp(x), 192, 1, 1);
    x = cat([b1, b3, bd, bp], 'mixed' + (9 + i));
  }
  return tf.model({inputs: input, outputs: top(x), name: 'inception_v3'});
}

// ---- InceptionResNetV2 (inception_resnet_v2.py: conv2d_bn, inception_resnet_block) -----------
function inceptionResNetV2(div) {
  const f = (n) => Math.max(1, Math.round(n / div));
  const auto = namer();
  const cbn = (x, filters, k, {strides = 1, padding = 'same', activation = 'relu',
                               useBias = false, name = null} = {}) => {
    x = L.conv2d({name: name || auto('conv2d'), filters, kernelSize: k, strides, padding,
                  useBias}).apply(x);
    if (!useBias) {
      x = L.batchNormalization({name: name ? name + '_bn' : auto('batch_normalization'), axis: 3,
                                scale: false}).apply(x);
    }
    if (activation) {
      x = L.activation({name: name ? name + '_ac' : auto('activation'), activation}).apply(x);
    }
    return x;
  };
  const c = (x, filters, k, opts) => cbn(x, f(filters), k, opts);
  const maxp = (x) => L.maxPooling2d({name: auto('max_pooling2d'), poolSize: 3, strides: 2,
                                      padding: 'valid'}).apply(x);
  const block = (x, scale, type, idx, activation = 'relu') => {
    let branches;
    if (type === 'block35') {
      branches = [c(x, 32, 1), c(c(x, 32, 1), 32, 3), c(c(c(x, 32, 1), 48, 3), 64, 3)];
    } else if (type === 'block17') {
      branches = [c(x, 192, 1), c(c(c(x, 128, 1), 160, [1, 7]), 192, [7, 1])];
    } else {
      branches = [c(x, 192, 1), c(c(c(x, 192, 1), 224, [1, 3]), 256, [3, 1])];
    }
    const name = `${type}_${idx}`;
    const mixed = L.concatenate({name: name + '_mixed', axis: 3}).apply(branches);
    const up = cbn(mixed, x.shape[3], 1, {activation: null, useBias: true, name: name + '_conv'});
    x = new CustomScaleLayer({name, scale}).apply([x, up]);
    if (activation) x = L.activation({name: name + '_ac', activation}).apply(x);
    return x;
  };
  const input = tf.input({shape: [75, 75, 3], name: 'input_1'});
  let x = c(input, 32, 3, {strides: 2, padding: 'valid'});
  x = c(x, 32, 3, {padding: 'valid'});
  x = c(x, 64, 3);
  x = maxp(x);
  x = c(x, 80, 1, {padding: 'valid'});
  x = c(x, 192, 3, {padding: 'valid'});
  x = maxp(x);
  {
    const b0 = c(x, 96, 1);
    const b1 = c(c(x, 48, 1), 64, 5);
    const b2 = c(c(c(x, 64, 1), 96, 3), 96, 3);
    const bp = c(L.averagePooling2d({name: auto('average_pooling2d'), poolSize: 3, strides: 1,
                                     padding: 'same'}).apply(x), 64, 1);
    x = L.concatenate({name: 'mixed_5b', axis: 3}).apply([b0, b1, b2, bp]);
  }
  for (let i = 1; i <= 10; ++i) x = block(x, 0.17, 'block35', i);
  {
    const b0 = c(x, 384, 3, {strides: 2, padding: 'valid'});
    const b1 = c(c(c(x, 256, 1), 256, 3), 384, 3, {strides: 2, padding: 'valid'});
    x = L.concatenate({name: 'mixed_6a', axis: 3}).apply([b0, b1, maxp(x)]);
  }
  for (let i = 1; i <= 20; ++i) x = block(x, 0.1, 'block17', i);
  {
    const b0 = c(c(x, 256, 1), 384, 3, {strides: 2, padding: 'valid'});
    const b1 = c(c(x, 256, 1), 288, 3, {strides: 2, padding: 'valid'});
    const b2 = c(c(c(x, 256, 1), 288, 3), 320, 3, {strides: 2, padding: 'valid'});
    x = L.concatenate({name: 'mixed_7a', axis: 3}).apply([b0, b1, b2, maxp(x)]);
  }
  for (let i = 1; i < 10; ++i) x = block(x, 0.2, 'block8', i);
  x = block(x, 1.0, 'block8', 10, null);
  x = c(x, 1536, 1, {name: 'conv_7b'});
  return tf.model({inputs: input, outputs: top(x), name: 'inception_resnet_v2'});
}

// ---- DenseNet (densenet.py: dense_block, conv_block, transition_block) -----------------------
function densenet(name, blocks, div) {
  const f = (n) => Math.max(1, Math.round(n / div));
  const auto = namer();
  const eps = 1.001e-5;
  const input = tf.input({shape: [32, 32, 3], name: 'input_1'});
  let x = L.zeroPadding2d({name: auto('zero_padding2d'), padding: [[3, 3], [3, 3]]}).apply(input);
  x = L.conv2d({name: 'conv1/conv', filters: f(64), kernelSize: 7, strides: 2, useBias: false})
          .apply(x);
  x = L.batchNormalization({name: 'conv1/bn', axis: 3, epsilon: eps}).apply(x);
  x = L.activation({name: 'conv1/relu', activation: 'relu'}).apply(x);
  x = L.zeroPadding2d({name: auto('zero_padding2d'), padding: [[1, 1], [1, 1]]}).apply(x);
  x = L.maxPooling2d({name: 'pool1', poolSize: 3, strides: 2}).apply(x);
  const convBlock = (x, growth, n) => {
    let x1 = L.batchNormalization({name: n + '_0_bn', axis: 3, epsilon: eps}).apply(x);
    x1 = L.activation({name: n + '_0_relu', activation: 'relu'}).apply(x1);
    x1 = L.conv2d({name: n + '_1_conv', filters: 4 * growth, kernelSize: 1, useBias: false})
             .apply(x1);
    x1 = L.batchNormalization({name: n + '_1_bn', axis: 3, epsilon: eps}).apply(x1);
    x1 = L.activation({name: n + '_1_relu', activation: 'relu'}).apply(x1);
    x1 = L.conv2d({name: n + '_2_conv', filters: growth, kernelSize: 3, padding: 'same',
                   useBias: false}).apply(x1);
    return L.concatenate({name: n + '_concat', axis: 3}).apply([x, x1]);
  };
  const transition = (x, reduction, n) => {
    x = L.batchNormalization({name: n + '_bn', axis: 3, epsilon: eps}).apply(x);
    x = L.activation({name: n + '_relu', activation: 'relu'}).apply(x);
    x = L.conv2d({name: n + '_conv', filters: Math.floor(x.shape[3] * reduction), kernelSize: 1,
                  useBias: false}).apply(x);
    return L.averagePooling2d({name: n + '_pool', poolSize: 2, strides: 2}).apply(x);
  };
  const dense = (x, count, n) => {
    for (let i = 0; i < count; ++i) x = convBlock(x, f(32), `${n}_block${i + 1}`);
    return x;
  };
  x = transition(dense(x, blocks[0], 'conv2'), 0.5, 'pool2');
  x = transition(dense(x, blocks[1], 'conv3'), 0.5, 'pool3');
  x = transition(dense(x, blocks[2], 'conv4'), 0.5, 'pool4');
  x = dense(x, blocks[3], 'conv5');
  x = L.batchNormalization({name: 'bn', axis: 3, epsilon: eps}).apply(x);
  x = L.activation({name: 'relu', activation: 'relu'}).apply(x);
  return tf.model({inputs: input, outputs: top(x), name});
}

const APPS = {
  resnet50: () => resnet('resnet50', [3, 4, 6, 3], 64),
  resnet101: () => resnet('resnet101', [3, 4, 23, 3], 128),
  resnet152: () => resnet('resnet152', [3, 8, 36, 3], 128),
  vgg16: () => vgg('vgg16', [2, 2, 3, 3, 3], 64),
  vgg19: () => vgg('vgg19', [2, 2, 4, 4, 4], 64),
  xception: () => xception(32),
  nasnet_mobile: () => nasnet('NASNet', 96, 4, 4, false),
  nasnet_large: () => nasnet('NASNet', 96, 6, 4, true),
  mobilenet: () => mobilenet(32),
  mobilenet_v2: () => mobilenetV2(16),
  inception_resnet_v2: () => inceptionResNetV2(64),
  inception_v3: () => inceptionV3(64),
  densenet121: () => densenet('densenet121', [6, 12, 24, 16], 32),
  densenet169: () => densenet('densenet169', [6, 12, 32, 32], 32),
  densenet201: () => densenet('densenet201', [6, 12, 48, 32], 32),
};

// Seeded weights scaled by fan-in (He-uniform), batch-norm statistics near identity, so that the
// deep stacks neither overflow nor vanish and the softmax is not saturated.
function seedApplication(model, seed) {
  const r = rng(seed);
  const values = model.weights.map((w) => {
    const shape = w.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const name = w.originalName;
    let lo = -0.1;
    let hi = 0.1;
    if (/(gamma|moving_variance)$/.test(name)) {
      lo = 0.8;
      hi = 1.2;
    } else if (/kernel$/.test(name)) {
      const fanIn = /depthwise_kernel$/.test(name) ? shape[0] * shape[1] :
                                                      n / shape[shape.length - 1];
      hi = Math.sqrt(6 / fanIn);
      lo = -hi;
    }
    for (let i = 0; i < n; ++i) v[i] = lo + (hi - lo) * r();
    return tf.tensor(v, shape);
  });
  model.setWeights(values);
}

// Scales the classifier so that its logits on `input` are at most 3 in magnitude: a saturated
// softmax (all 0 and 1) would hide most of the network from the comparison.
function calibrateClassifier(model, input) {
  const name = model.layers.some((l) => l.name === 'conv_preds') ? 'conv_preds' : 'predictions';
  const layer = model.getLayer(name);
  const pre = tf.model({inputs: model.inputs, outputs: layer.input}).predict(input);
  const [kernel, bias] = layer.getWeights();
  const logits = pre.reshape([-1, kernel.shape[kernel.shape.length - 2]]).matMul(
      kernel.reshape([-1, kernel.shape[kernel.shape.length - 1]]));
  const peak = tf.max(tf.abs(logits)).dataSync()[0];
  if (peak > 3) layer.setWeights([tf.mul(kernel, 3 / peak), bias]);
}

// Initializers, regularizers and constraints play no part at inference, and Keras's from_config
// gives them their defaults when absent: they are left out of the saved configs to keep the
// fixtures small (about half of each layer's JSON).
function stripTopology(topology) {
  const drop = /_(initializer|regularizer|constraint)$/;
  const walk = (layers) => {
    for (const l of layers) {
      for (const k of Object.keys(l.config)) {
        if (drop.test(k)) delete l.config[k];
      }
      if (l.config.layers) walk(l.config.layers);
    }
  };
  walk(topology.config.layers);
}

// IEEE half precision, round to nearest even (as numpy's float16 cast).
function toHalf(f) {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, f);
  const x = b.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) ++h;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) ++h;
  return sign | h;
}

function fromHalf(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * Math.pow(2, -24);
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * Math.pow(2, e - 15);
}

// Stores the weights as tensorflowjs_converter's float16 quantization (half the bytes): the model
// is first given the float16-rounded weights, so that tfjs's prediction is the oracle for exactly
// the weights a reader decodes.
function halfWeights(model, artifacts) {
  const all = new Float32Array(artifacts.weightData);
  const q = new Uint16Array(all.length);
  const rounded = new Float32Array(all.length);
  for (let i = 0; i < all.length; ++i) {
    q[i] = toHalf(all[i]);
    rounded[i] = fromHalf(q[i]);
  }
  let offset = 0;
  const values = artifacts.weightSpecs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(rounded.subarray(offset, offset + n), spec.shape);
    offset += n;
    return t;
  });
  // weightSpecs follow model.weights (capture saves them in that order).
  model.setWeights(values);
  const specs = artifacts.weightSpecs.map((spec) => ({...spec, quantization: {dtype: 'float16'}}));
  return {specs, data: Buffer.from(q.buffer)};
}

async function main() {
  const only = process.argv.slice(2);
  let seed = 100;
  for (const [name, build] of Object.entries(APPS)) {
    ++seed;
    if (only.length && !only.includes(name)) continue;
    const model = build();
    seedApplication(model, 3000 + seed);
    const r = rng(4000 + seed);
    const shape = [1, ...model.inputs[0].shape.slice(1)];
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; ++i) v[i] = 2 * r() - 1;
    const input = tf.tensor(v, shape);
    calibrateClassifier(model, input);
    const dir = path.join(OUT, 'app_' + name);
    fs.mkdirSync(dir, {recursive: true});
    const artifacts = await capture(model);
    for (const l of artifacts.modelTopology.config.layers) {
      if (l.class_name === 'SeparableConv2D') {
        l.config.depth_multiplier = model.getLayer(l.config.name).depthMultiplier;
      }
    }
    const {specs, data} = halfWeights(model, artifacts);
    const outputs = asList(model.predict(input));
    stripTopology(artifacts.modelTopology);
    writeModel(dir, artifacts, specs, data);
    writeArrays(dir, 'input', [input]);
    writeArrays(dir, 'expected', outputs);
    const y = outputs[0].dataSync();
    console.log(`${name}: ${model.layers.length} layers, ${model.countParams()} weights, ` +
                `y[0..4] = ${Array.from(y.slice(0, CLASSES)).map((t) => t.toFixed(4))}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
