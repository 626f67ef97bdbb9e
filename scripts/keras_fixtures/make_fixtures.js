// Builds the Keras fixture models of tests/keras/data with the TensorFlow.js layers API, which is
// the test oracle: each fixture folder gets model.json + weights.bin (a tfjs layers model), fixed
// inputs input_<i>.npy and TensorFlow.js's predictions expected_<i>.npy. make_keras_files.py then
// writes the same model as Keras 2 .h5 and Keras 3 .keras. Run only to regenerate the fixtures:
//   cd scripts/keras_fixtures && npm ci && node make_fixtures.js && python3 make_keras_files.py
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

const OUT = path.resolve(__dirname, '../../tests/keras/data');
const BATCH = 2;

// Deterministic weights and inputs: a 32-bit LCG, so regenerating gives identical files.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function npy(array, shape) {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${
      shape.length === 1 ? ',' : ''}), }`;
  let h = header;
  while ((10 + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(h.length, 8);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), Buffer.from(new Float32Array(array).buffer)]);
}

// Sets every weight from the seeded generator; variances stay positive.
function seedWeights(model, seed) {
  const r = rng(seed);
  const values = model.weights.map((w) => {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const positive = /variance/.test(w.originalName);
    for (let i = 0; i < n; ++i) v[i] = positive ? 0.5 + r() : r() - 0.5;
    return tf.tensor(v, w.shape);
  });
  model.setWeights(values);
}

async function capture(model) {
  let artifacts = null;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  return artifacts;
}

function writeModel(dir, artifacts, weightSpecs, weightData) {
  const json = {
    format: 'layers-model',
    generatedBy: 'TensorFlow.js tfjs-layers v' + tf.version.tfjs,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{paths: ['weights.bin'], weights: weightSpecs}],
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(weightData));
}

function makeInputs(model, seed) {
  const r = rng(seed);
  return model.inputs.map((t) => {
    const shape = [BATCH, ...t.shape.slice(1)];
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; ++i) v[i] = 2 * r() - 1;
    return tf.tensor(v, shape);
  });
}

function asList(x) { return Array.isArray(x) ? x : [x]; }

function writeArrays(dir, prefix, tensors) {
  tensors.forEach((t, i) => {
    fs.writeFileSync(path.join(dir, `${prefix}_${i}.npy`), npy(t.dataSync(), t.shape));
  });
}

// tensorflowjs_converter's affine quantization (quantization.py): min/max of the weight, zero
// nudged onto the grid, q = round((w - min) / scale). tfjs dequantizes q * scale + min.
function quantize(values, dtype) {
  const qmax = dtype === 'uint8' ? 255 : 65535;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  let scale = hi === lo ? 1.0 : (hi - lo) / qmax;
  const zero = Math.round(-lo / scale);
  const min = -zero * scale;
  const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; ++i) {
    q[i] = Math.max(0, Math.min(qmax, Math.round((values[i] - min) / scale)));
  }
  return {q, scale, min};
}

function quantizeArtifacts(artifacts, dtype) {
  const specs = [];
  const parts = [];
  let offset = 0;
  const all = new Float32Array(artifacts.weightData);
  for (const spec of artifacts.weightSpecs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const {q, scale, min} = quantize(all.subarray(offset, offset + n), dtype);
    offset += n;
    specs.push({...spec, quantization: {dtype, scale, min}});
    parts.push(Buffer.from(q.buffer));
  }
  return {specs, data: Buffer.concat(parts)};
}

// ---------------------------------------------------------------------------------------------
// Fixture models. Every layer is named, so fault sites and weight names are stable.

const L = tf.layers;

function convSeq() {
  const m = tf.sequential({name: 'conv_seq'});
  m.add(L.conv2d({name: 'conv_a', inputShape: [9, 9, 3], filters: 4, kernelSize: 3, strides: 2,
                  padding: 'same', activation: 'relu'}));
  m.add(L.conv2d({name: 'conv_b', filters: 5, kernelSize: [2, 3], dilationRate: 1,
                  padding: 'valid', activation: 'tanh'}));
  m.add(L.depthwiseConv2d({name: 'dw', kernelSize: 3, depthMultiplier: 2, padding: 'same',
                           activation: 'relu6'}));
  m.add(L.separableConv2d({name: 'sep', filters: 6, kernelSize: 3, padding: 'same',
                           depthMultiplier: 1, activation: 'elu'}));
  m.add(L.batchNormalization({name: 'bn', epsilon: 0.01}));
  m.add(L.maxPooling2d({name: 'maxpool', poolSize: 2, strides: 1, padding: 'same'}));
  m.add(L.averagePooling2d({name: 'avgpool', poolSize: 3, strides: 2, padding: 'same'}));
  m.add(L.flatten({name: 'flatten'}));
  m.add(L.dense({name: 'dense', units: 7, activation: 'softmax'}));
  return m;
}

function dilated() {
  const m = tf.sequential({name: 'dilated'});
  m.add(L.conv2d({name: 'conv_d', inputShape: [10, 10, 2], filters: 3, kernelSize: 3,
                  dilationRate: 2, padding: 'same', activation: 'sigmoid'}));
  m.add(L.conv2d({name: 'conv_s', filters: 2, kernelSize: 4, strides: 3, padding: 'valid',
                  useBias: false}));
  m.add(L.maxPooling2d({name: 'pool_valid', poolSize: 2, padding: 'valid'}));
  m.add(L.globalAveragePooling2d({name: 'gap'}));
  return m;
}

function activations() {
  const input = tf.input({shape: [12], name: 'x'});
  const pre = L.dense({name: 'pre', units: 10}).apply(input);
  const outs = [];
  for (const a of ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'softplus', 'swish', 'elu',
                   'selu', 'gelu', 'linear', 'hard_sigmoid']) {
    outs.push(L.activation({name: 'act_' + a, activation: a === 'hard_sigmoid' ? 'hardSigmoid' : a})
                  .apply(pre));
  }
  outs.push(L.reLU({name: 'relu_max', maxValue: 0.3}).apply(pre));
  outs.push(L.leakyReLU({name: 'leaky', alpha: 0.2}).apply(pre));
  outs.push(L.prelu({name: 'prelu'}).apply(pre));
  outs.push(L.elu({name: 'elu_layer'}).apply(pre));
  outs.push(L.softmax({name: 'softmax_layer'}).apply(pre));
  outs.push(L.dense({name: 'dense_act', units: 3, activation: 'selu'}).apply(pre));
  return tf.model({inputs: input, outputs: outs, name: 'activations'});
}

function merges() {
  const a = tf.input({shape: [4, 4, 3], name: 'in_a'});
  const b = tf.input({shape: [4, 4, 3], name: 'in_b'});
  const c = L.conv2d({name: 'conv_c', filters: 3, kernelSize: 1}).apply(b);
  const outs = [
    L.add({name: 'add'}).apply([a, b, c]),
    L.multiply({name: 'mul'}).apply([a, b]),
    L.average({name: 'avg'}).apply([a, b, c]),
    L.maximum({name: 'max'}).apply([a, c]),
    L.minimum({name: 'min'}).apply([a, b]),
    L.concatenate({name: 'concat', axis: -1}).apply([a, b, c]),
    L.concatenate({name: 'concat_h', axis: 1}).apply([a, c]),
  ];
  return tf.model({inputs: [a, b], outputs: outs, name: 'merges'});
}

function shapes() {
  const input = tf.input({shape: [4, 3, 3], name: 'img'});
  let x = L.zeroPadding2d({name: 'zpad', padding: [[1, 2], [0, 1]]}).apply(input);
  x = L.cropping2D({name: 'crop', cropping: [[1, 0], [2, 1]]}).apply(x);
  x = L.upSampling2d({name: 'up', size: [2, 3]}).apply(x);
  x = L.conv2dTranspose({name: 'deconv_same', filters: 4, kernelSize: 3, strides: 2,
                         padding: 'same', activation: 'relu'}).apply(x);
  x = L.conv2dTranspose({name: 'deconv_valid', filters: 2, kernelSize: [2, 3], strides: [1, 2],
                         padding: 'valid'}).apply(x);
  x = L.dropout({name: 'drop', rate: 0.5}).apply(x);
  x = L.permute({name: 'perm', dims: [2, 1, 3]}).apply(x);
  const ln = L.layerNormalization({name: 'ln', epsilon: 0.001}).apply(x);
  const gmp = L.globalMaxPooling2d({name: 'gmp'}).apply(ln);
  const r = L.reshape({name: 'reshape', targetShape: [325, 2]}).apply(ln);
  const flat = L.flatten({name: 'flat'}).apply(r);
  const resc = L.rescaling({name: 'rescale', scale: 0.5, offset: -0.25}).apply(gmp);
  return tf.model({inputs: input, outputs: [resc, flat], name: 'shapes'});
}

function conv1d() {
  const input = tf.input({shape: [11, 3], name: 'seq'});
  let x = L.conv1d({name: 'c1', filters: 4, kernelSize: 3, strides: 2, padding: 'same',
                    activation: 'relu'}).apply(input);
  const dilated = L.conv1d({name: 'c_dilated', filters: 4, kernelSize: 3, padding: 'valid',
                            dilationRate: 2}).apply(input);
  // tfjs cannot run causal padding: built as 'same' (same output shape), PATCHES.conv1d rewrites it.
  const causal = L.conv1d({name: 'c_causal', filters: 2, kernelSize: 3, padding: 'same',
                           dilationRate: 2}).apply(input);
  x = L.maxPooling1d({name: 'mp1', poolSize: 2, strides: 1, padding: 'same'}).apply(x);
  x = L.averagePooling1d({name: 'ap1', poolSize: 3, strides: 2, padding: 'same'}).apply(x);
  const g1 = L.globalAveragePooling1d({name: 'gap1'}).apply(x);
  const g2 = L.globalMaxPooling1d({name: 'gmp1'}).apply(dilated);
  const y = L.concatenate({name: 'cat'}).apply([g1, g2]);
  const out = L.dense({name: 'head', units: 3}).apply(y);
  return tf.model({inputs: input, outputs: [out, causal], name: 'conv1d'});
}

function mobilenetv2() {
  const input = tf.input({shape: [12, 12, 3], name: 'input_1'});
  let x = L.conv2d({name: 'Conv1', filters: 8, kernelSize: 3, strides: 2, padding: 'same',
                    useBias: false}).apply(input);
  x = L.batchNormalization({name: 'bn_Conv1', epsilon: 1e-3}).apply(x);
  x = L.reLU({name: 'Conv1_relu', maxValue: 6}).apply(x);
  const shortcut = x;
  x = L.conv2d({name: 'block_1_expand', filters: 16, kernelSize: 1, useBias: false}).apply(x);
  x = L.batchNormalization({name: 'block_1_expand_BN'}).apply(x);
  x = L.reLU({name: 'block_1_expand_relu', maxValue: 6}).apply(x);
  x = L.depthwiseConv2d({name: 'block_1_depthwise', kernelSize: 3, padding: 'same',
                         useBias: false}).apply(x);
  x = L.batchNormalization({name: 'block_1_depthwise_BN'}).apply(x);
  x = L.reLU({name: 'block_1_depthwise_relu', maxValue: 6}).apply(x);
  x = L.conv2d({name: 'block_1_project', filters: 8, kernelSize: 1, useBias: false}).apply(x);
  x = L.batchNormalization({name: 'block_1_project_BN'}).apply(x);
  x = L.add({name: 'block_1_add'}).apply([shortcut, x]);
  x = L.zeroPadding2d({name: 'block_2_pad', padding: [[0, 1], [0, 1]]}).apply(x);
  x = L.depthwiseConv2d({name: 'block_2_depthwise', kernelSize: 3, strides: 2,
                         padding: 'valid', activation: 'relu6'}).apply(x);
  x = L.globalAveragePooling2d({name: 'global_average_pooling2d'}).apply(x);
  x = L.dense({name: 'predictions', units: 5, activation: 'softmax'}).apply(x);
  return tf.model({inputs: input, outputs: x, name: 'mobilenetv2'});
}

function resnet() {
  const input = tf.input({shape: [8, 8, 4], name: 'input_1'});
  let x = L.conv2d({name: 'conv1', filters: 6, kernelSize: 3, padding: 'same'}).apply(input);
  x = L.batchNormalization({name: 'conv1_bn'}).apply(x);
  x = L.activation({name: 'conv1_relu', activation: 'relu'}).apply(x);
  x = L.maxPooling2d({name: 'pool1', poolSize: 3, strides: 2, padding: 'same'}).apply(x);
  const shortcut = L.conv2d({name: 'block_0_conv', filters: 8, kernelSize: 1}).apply(x);
  let y = L.conv2d({name: 'block_1_conv', filters: 8, kernelSize: 3, padding: 'same'}).apply(x);
  y = L.batchNormalization({name: 'block_1_bn', center: false}).apply(y);
  y = L.activation({name: 'block_1_relu', activation: 'relu'}).apply(y);
  y = L.conv2d({name: 'block_2_conv', filters: 8, kernelSize: 3, padding: 'same'}).apply(y);
  y = L.batchNormalization({name: 'block_2_bn', scale: false}).apply(y);
  x = L.add({name: 'block_add'}).apply([shortcut, y]);
  x = L.activation({name: 'block_out', activation: 'relu'}).apply(x);
  x = L.globalAveragePooling2d({name: 'avg_pool'}).apply(x);
  x = L.dense({name: 'fc', units: 4}).apply(x);
  return tf.model({inputs: input, outputs: x, name: 'resnet'});
}

function densenet() {
  const input = tf.input({shape: [8, 8, 3], name: 'input_1'});
  let x = L.conv2d({name: 'conv0', filters: 4, kernelSize: 3, padding: 'same'}).apply(input);
  for (let i = 1; i <= 2; ++i) {
    let y = L.batchNormalization({name: `block${i}_bn`}).apply(x);
    y = L.activation({name: `block${i}_relu`, activation: 'relu'}).apply(y);
    y = L.conv2d({name: `block${i}_conv`, filters: 3, kernelSize: 3, padding: 'same',
                  useBias: false}).apply(y);
    x = L.concatenate({name: `block${i}_concat`, axis: 3}).apply([x, y]);
  }
  x = L.batchNormalization({name: 'pool_bn'}).apply(x);
  x = L.conv2d({name: 'pool_conv', filters: 5, kernelSize: 1}).apply(x);
  x = L.averagePooling2d({name: 'pool', poolSize: 2, strides: 2}).apply(x);
  x = L.globalMaxPooling2d({name: 'gmp'}).apply(x);
  return tf.model({inputs: input, outputs: x, name: 'densenet'});
}

function inception() {
  const input = tf.input({shape: [7, 7, 4], name: 'input_1'});
  const b1 = L.conv2d({name: 'b1x1', filters: 3, kernelSize: 1, activation: 'relu'}).apply(input);
  let b3 = L.conv2d({name: 'b3x3_reduce', filters: 2, kernelSize: 1}).apply(input);
  b3 = L.conv2d({name: 'b3x3', filters: 3, kernelSize: 3, padding: 'same',
                 activation: 'relu'}).apply(b3);
  let b5 = L.conv2d({name: 'b5x5_reduce', filters: 2, kernelSize: 1}).apply(input);
  b5 = L.conv2d({name: 'b5x5', filters: 2, kernelSize: [1, 5], padding: 'same'}).apply(b5);
  b5 = L.conv2d({name: 'b5x1', filters: 2, kernelSize: [5, 1], padding: 'same'}).apply(b5);
  let bp = L.averagePooling2d({name: 'bpool', poolSize: 3, strides: 1, padding: 'same'})
               .apply(input);
  bp = L.conv2d({name: 'bpool_proj', filters: 2, kernelSize: 1}).apply(bp);
  let x = L.concatenate({name: 'mixed0'}).apply([b1, b3, b5, bp]);
  x = L.maxPooling2d({name: 'mixed0_pool', poolSize: 3, strides: 2, padding: 'valid'}).apply(x);
  x = L.flatten({name: 'flatten'}).apply(x);
  x = L.dense({name: 'logits', units: 3}).apply(x);
  return tf.model({inputs: input, outputs: x, name: 'inception'});
}

function xception() {
  const input = tf.input({shape: [9, 9, 3], name: 'input_1'});
  let x = L.conv2d({name: 'block1_conv1', filters: 4, kernelSize: 3, strides: 2,
                    useBias: false}).apply(input);
  x = L.activation({name: 'block1_conv1_act', activation: 'relu'}).apply(x);
  const residual = L.conv2d({name: 'res_conv', filters: 6, kernelSize: 1, strides: 2,
                             padding: 'same', useBias: false}).apply(x);
  x = L.separableConv2d({name: 'block2_sepconv1', filters: 6, kernelSize: 3, padding: 'same',
                         useBias: false}).apply(x);
  x = L.batchNormalization({name: 'block2_sepconv1_bn'}).apply(x);
  x = L.activation({name: 'block2_sepconv2_act', activation: 'relu'}).apply(x);
  x = L.separableConv2d({name: 'block2_sepconv2', filters: 6, kernelSize: 3, padding: 'same',
                         depthMultiplier: 2}).apply(x);
  x = L.maxPooling2d({name: 'block2_pool', poolSize: 3, strides: 2, padding: 'same'}).apply(x);
  x = L.add({name: 'add'}).apply([x, residual]);
  x = L.globalAveragePooling2d({name: 'avg_pool'}).apply(x);
  return tf.model({inputs: input, outputs: x, name: 'xception'});
}

// A Sequential model used as a layer, a Dense layer shared by two calls, two inputs and outputs.
function nested() {
  const inner = tf.sequential({name: 'inner'});
  inner.add(L.dense({name: 'inner_dense', inputShape: [5], units: 4, activation: 'tanh'}));
  inner.add(L.dense({name: 'inner_out', units: 5}));
  const a = tf.input({shape: [5], name: 'in_a'});
  const b = tf.input({shape: [5], name: 'in_b'});
  const shared = L.dense({name: 'shared', units: 5, activation: 'relu'});
  const sa = shared.apply(a);
  const sb = shared.apply(b);
  const ia = inner.apply(sa);
  const sum = L.add({name: 'sum'}).apply([ia, sb]);
  const out = L.dense({name: 'out', units: 2}).apply(sum);
  return tf.model({inputs: [a, b], outputs: [out, sb], name: 'nested'});
}

function channelsFirst() {
  const m = tf.sequential({name: 'channels_first'});
  m.add(L.conv2d({name: 'conv_cf', inputShape: [3, 7, 6], filters: 4, kernelSize: 3, strides: 2,
                  padding: 'same', dataFormat: 'channelsFirst', activation: 'relu'}));
  m.add(L.maxPooling2d({name: 'pool_cf', poolSize: 2, padding: 'same',
                        dataFormat: 'channelsFirst'}));
  // tfjs's CPU BatchNorm kernel indexes its parameters by flat index modulo C, i.e. always on the
  // last axis, so its prediction is wrong here: PATCHES.channels_first computes the oracle.
  m.add(L.batchNormalization({name: 'bn_cf', axis: 1, epsilon: 0.01}));
  m.add(L.globalAveragePooling2d({name: 'gap_cf', dataFormat: 'channelsFirst'}));
  return m;
}

function conv3d() {
  const m = tf.sequential({name: 'conv3d'});
  m.add(L.conv3d({name: 'conv3', inputShape: [4, 5, 4, 2], filters: 3, kernelSize: [2, 3, 2],
                  strides: [1, 2, 1], padding: 'same', activation: 'relu'}));
  m.add(L.maxPooling3d({name: 'maxpool3', poolSize: 2, strides: 1, padding: 'same'}));
  m.add(L.averagePooling3d({name: 'avgpool3', poolSize: [3, 2, 3], strides: 2, padding: 'same'}));
  m.add(L.maxPooling3d({name: 'maxpool3_valid', poolSize: [2, 1, 2], padding: 'valid'}));
  m.add(L.flatten({name: 'flat'}));
  return m;
}

// Layers tfjs-layers lacks or cannot configure (Subtract, ReLU with negative_slope/threshold, ELU
// with alpha != 1, Normalization): built as placeholders with the same inputs and output shapes,
// then rewritten in the topology by PATCHES.patched, which computes their outputs with tfjs ops.
function patched() {
  const a = tf.input({shape: [3, 4], name: 'in_a'});
  const b = tf.input({shape: [3, 4], name: 'in_b'});
  const same = (name, x) => L.activation({name, activation: 'linear'}).apply(x);
  const outs = [L.add({name: 'sub'}).apply([a, b]), same('relu_slope_thr_max', a),
                same('relu_slope', a), same('relu_thr', a), same('elu_alpha', a), same('norm', b)];
  return tf.model({inputs: [a, b], outputs: outs, name: 'patched'});
}

// ThresholdedReLU alone: Keras 3 removed the layer, so this fixture has no .keras file.
function thresholdedRelu() {
  const m = tf.sequential({name: 'thresholded_relu'});
  m.add(L.thresholdedReLU({name: 'thr', inputShape: [6], theta: 0.4}));
  return m;
}

// A Conv2D feeding Flatten, for the fault-site layout test (NHWC coordinates).
function probe() {
  const m = tf.sequential({name: 'probe'});
  m.add(L.conv2d({name: 'conv', inputShape: [4, 5, 3], filters: 6, kernelSize: 3,
                  padding: 'same', activation: 'relu'}));
  m.add(L.flatten({name: 'flat'}));
  return m;
}

const FIXTURES = {
  conv_seq: convSeq, dilated, activations, merges, shapes, conv1d, mobilenetv2, resnet, densenet,
  inception, xception, nested, channels_first: channelsFirst, probe, conv3d, patched,
  thresholded_relu: thresholdedRelu,
};

// ---------------------------------------------------------------------------------------------
// Oracles for what tfjs cannot build or computes wrongly: each rewrites the captured topology (and
// weights) into the Keras layer and returns the model's outputs computed with tfjs ops.

function topologyLayer(artifacts, name) {
  return artifacts.modelTopology.config.layers.find((l) => l.config.name === name);
}

function rewriteLayer(artifacts, name, className, config) {
  const l = topologyLayer(artifacts, name);
  l.class_name = className;
  l.config = {name, trainable: true, dtype: 'float32', ...config};
}

function appendWeights(artifacts, weights) {
  const parts = [Buffer.from(artifacts.weightData)];
  for (const {name, value} of weights) {
    artifacts.weightSpecs.push({name, shape: value.shape, dtype: value.dtype});
    const data = value.dataSync();
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  const all = Buffer.concat(parts);
  artifacts.weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
}

// keras.activations.relu (Keras 2 backend.relu and Keras 3 ReLU.static_call) in tfjs ops.
function kerasRelu(x, slope, maxValue, threshold) {
  if (slope !== 0 && maxValue === null && threshold === 0) return tf.leakyRelu(x, slope);
  const negative = threshold !== 0 ? tf.relu(tf.sub(threshold, x)) : tf.relu(tf.neg(x));
  let y = threshold !== 0 ? tf.mul(x, tf.cast(tf.greater(x, threshold), 'float32')) : tf.relu(x);
  if (maxValue !== null) y = tf.clipByValue(y, 0, maxValue);
  return slope !== 0 ? tf.sub(y, tf.mul(slope, negative)) : y;
}

const PATCHES = {
  conv1d(model, artifacts, inputs, outputs) {
    topologyLayer(artifacts, 'c_causal').config.padding = 'causal';
    // Causal: (kernel - 1) * dilation = 4 zeros on the left, then a valid convolution.
    const [kernel, bias] = model.getLayer('c_causal').getWeights();
    const x = tf.pad(inputs[0], [[0, 0], [4, 0], [0, 0]]);
    return [outputs[0], tf.add(tf.conv1d(x, kernel, 1, 'valid', 'NWC', 2), bias)];
  },
  channels_first(model, artifacts, inputs) {
    const pool = model.getLayer('pool_cf');
    const x = tf.model({inputs: model.inputs, outputs: pool.output}).predict(inputs[0]);
    const bn = model.getLayer('bn_cf');
    const [gamma, beta, mean, variance] = bn.getWeights().map((w) => w.reshape([1, -1, 1, 1]));
    const y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, bn.epsilon))), gamma),
                     beta);
    return [tf.mean(y, [2, 3])];
  },
  patched(model, artifacts, inputs) {
    const [a, b] = inputs;
    rewriteLayer(artifacts, 'sub', 'Subtract', {});
    const relus = [['relu_slope_thr_max', 0.1, 0.7, 0.3], ['relu_slope', 0.25, null, 0],
                   ['relu_thr', 0, null, 0.5]];
    for (const [name, slope, maxValue, threshold] of relus) {
      rewriteLayer(artifacts, name, 'ReLU',
                   {max_value: maxValue, negative_slope: slope, threshold});
    }
    rewriteLayer(artifacts, 'elu_alpha', 'ELU', {alpha: 0.5});
    rewriteLayer(artifacts, 'norm', 'Normalization',
                 {axis: -1, mean: null, variance: null, invert: false});
    const r = rng(77);
    const mean = tf.tensor1d([0, 1, 2, 3].map(() => r() - 0.5));
    const variance = tf.tensor1d([0, 1, 2, 3].map(() => 0.5 + r()));
    // count is int64 in Keras; tensorflowjs_converter stores it as int32.
    appendWeights(artifacts, [{name: 'norm/mean', value: mean},
                              {name: 'norm/variance', value: variance},
                              {name: 'norm/count', value: tf.scalar(100, 'int32')}]);
    return [
      tf.sub(a, b),
      ...relus.map(([, slope, maxValue, threshold]) => kerasRelu(a, slope, maxValue, threshold)),
      // Keras ELU: x if x > 0 else alpha * (exp(x) - 1).
      tf.where(tf.greater(a, 0), a, tf.mul(0.5, tf.sub(tf.exp(a), 1))),
      // Keras Normalization: (x - mean) / max(sqrt(variance), epsilon = 1e-7).
      tf.div(tf.sub(b, mean), tf.maximum(tf.sqrt(variance), 1e-7)),
    ];
  },
};

async function main() {
  fs.mkdirSync(OUT, {recursive: true});
  let seed = 1;
  for (const [name, build] of Object.entries(FIXTURES)) {
    const model = build();
    seedWeights(model, 1000 + seed);
    const inputs = makeInputs(model, 2000 + seed);
    ++seed;
    const dir = path.join(OUT, name);
    fs.mkdirSync(dir, {recursive: true});
    const artifacts = await capture(model);
    // tfjs-layers' SeparableConv getConfig omits depth_multiplier; Keras (and tfjs's own loader)
    // would then build depth_multiplier=1 and reject the weights, so it is added back.
    for (const l of artifacts.modelTopology.config.layers) {
      if (l.class_name === 'SeparableConv2D') {
        l.config.depth_multiplier = model.getLayer(l.config.name).depthMultiplier;
      }
    }
    let outputs = asList(model.predict(inputs.length === 1 ? inputs[0] : inputs));
    if (PATCHES[name]) outputs = PATCHES[name](model, artifacts, inputs, outputs);
    writeModel(dir, artifacts, artifacts.weightSpecs, artifacts.weightData);
    writeArrays(dir, 'input', inputs);
    writeArrays(dir, 'expected', outputs);
    if (name === 'activations') {
      // Keras 3 redefined hard_sigmoid as relu6(x + 3) / 6 (Keras 2 and tfjs: clip(0.2x + 0.5)).
      // The .keras file must follow Keras 3; its expected output is computed here with tfjs ops.
      const pre = tf.model({inputs: model.inputs, outputs: model.getLayer('pre').output});
      const p = pre.predict(inputs[0]);
      const k3 = tf.div(tf.relu6(tf.add(p, 3)), 6);
      const idx = model.outputNames.indexOf('act_hard_sigmoid');
      fs.writeFileSync(path.join(dir, `expected_keras3_${idx}.npy`), npy(k3.dataSync(), k3.shape));
    }
    if (name === 'mobilenetv2') {
      for (const dtype of ['uint8', 'uint16']) {
        const qdir = path.join(OUT, `${name}_${dtype}`);
        fs.mkdirSync(qdir, {recursive: true});
        const {specs, data} = quantizeArtifacts(artifacts, dtype);
        writeModel(qdir, artifacts, specs, data);
        // The oracle: tfjs itself decodes the quantized weights and predicts.
        const loaded = await tf.loadLayersModel(tf.io.fromMemory({
          modelTopology: artifacts.modelTopology, weightSpecs: specs,
          weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length)}));
        writeArrays(qdir, 'input', inputs);
        writeArrays(qdir, 'expected', asList(loaded.predict(inputs[0])));
      }
    }
    console.log(`${name}: ${model.layers.length} layers, ${outputs.length} output(s)`);
  }
}

// make_applications.js reuses the seeded generator and the writers.
module.exports = {tf, rng, npy, capture, writeModel, writeArrays, asList, BATCH, OUT};

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
