// The real pretrained Keras classifiers that the npm package nsfwjs ships (MobileNetV2 at 224x224
// and InceptionV3 at 299x299, Keras 2.2.4 functional models with uint8-quantized weights, five
// classes: Drawing, Hentai, Neutral, Porn, Sexy), unpacked into TensorFlow.js layers directories
// that dnnfi reads natively, with TensorFlow.js's own outputs on given inputs as the oracle.
//
//   node nsfwjs.js unpack PACKAGE_DIR OUT_DIR
//       PACKAGE_DIR: an extracted nsfwjs tarball (its package/ folder). Writes
//       OUT_DIR/<model>/model.json + group1-shardKofN (the base64 shards nsfwjs wraps in
//       JavaScript modules, decoded) for mobilenet_v2 and inception_v3, and labels.txt.
//   node nsfwjs.js predict MODEL_DIR INPUT.f32 N H W C OUTPUT.f32
//       Runs the model in TensorFlow.js (pure JS CPU backend, from scripts/keras_fixtures) on N
//       NHWC float32 images (raw little-endian) and writes the N x 5 softmax outputs.
// Called by scripts/real_models/fetch.sh; nothing here is needed to build or test dnnfi.
'use strict';
const fs = require('fs');
const path = require('path');

const MODELS = {mobilenet_v2: 224, inception_v3: 299};

function unpack(pkg, out) {
  const models = path.join(pkg, 'dist', 'models');
  const classes = require(path.resolve(pkg, 'dist', 'cjs', 'nsfw_classes.js')).NSFW_CLASSES;
  for (const name of Object.keys(MODELS)) {
    const dir = path.join(out, name);
    fs.mkdirSync(dir, {recursive: true});
    const model = require(path.resolve(models, name, 'model.min.js'));
    if (!model.modelTopology || !model.weightsManifest) {
      throw new Error(`${name}/model.min.js: no modelTopology/weightsManifest`);
    }
    for (const group of model.weightsManifest) {
      for (const shard of group.paths) {
        const b64 = require(path.resolve(models, name, `${shard}.min.js`));
        if (typeof b64 !== 'string') throw new Error(`${name}/${shard}.min.js: not a string`);
        fs.writeFileSync(path.join(dir, shard), Buffer.from(b64, 'base64'));
      }
    }
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(
        {format: 'layers-model', generatedBy: 'nsfwjs 4.4.0 (scripts/real_models/nsfwjs.js)',
         modelTopology: model.modelTopology, weightsManifest: model.weightsManifest}));
    const labels = Object.keys(classes).sort((a, b) => a - b).map((k) => classes[k]);
    fs.writeFileSync(path.join(dir, 'labels.txt'), labels.join('\n') + '\n');
    console.log(`${dir}: ${MODELS[name]}x${MODELS[name]}, ${labels.length} classes`);
  }
}

async function predict(dir, input, n, h, w, c, output) {
  const tf = require(path.join(__dirname, '..', 'keras_fixtures', 'node_modules', '@tensorflow',
                               'tfjs'));
  await tf.setBackend('cpu');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of manifest.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tf.loadLayersModel(
      tf.io.fromMemory({modelTopology: manifest.modelTopology, weightSpecs: specs,
                        weightData: data}));
  const raw = fs.readFileSync(input);
  const x = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4),
                        [n, h, w, c]);
  const y = model.predict(x);
  fs.writeFileSync(output, Buffer.from((await y.data()).buffer));
  console.log(`${output}: ${y.shape.join('x')}`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'unpack' && args.length === 2) {
  unpack(args[0], args[1]);
} else if (cmd === 'predict' && args.length === 7) {
  const [dir, input, n, h, w, c, output] = args;
  predict(dir, input, +n, +h, +w, +c, output).catch((e) => {
    console.error(`nsfwjs.js: ${e.message}`);
    process.exit(2);
  });
} else {
  console.error('usage: nsfwjs.js unpack PACKAGE_DIR OUT_DIR | predict MODEL_DIR IN.f32 N H W C OUT.f32');
  process.exit(2);
}
