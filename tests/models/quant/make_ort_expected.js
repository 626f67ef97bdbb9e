#!/usr/bin/env node
// Writes ONNX Runtime's outputs for the quantized fixtures (the test oracle of
// tests/models/test_quantized.cpp): for each tests/models/quant/<name>/ with model.onnx and
// input.npy,
//   ort_expected.npy          graphOptimizationLevel 'all': ORT fuses the QDQ pairs into its int8
//                             kernels (QLinearConv, QLinearAdd, QGemm...), the deployment path;
//   ort_expected_unfused.npy  graphOptimizationLevel 'disabled': ORT runs the graph as written
//                             (QuantizeLinear / DequantizeLinear around float Conv, Gemm...).
//   model_qop.onnx            the QOperator form of model.onnx: ORT's own rewrite at level
//                             'extended' (QLinearConv, com.microsoft QLinearAdd / QGemm /
//                             QLinearGlobalAveragePool, uint8 MaxPool), saved with
//                             optimizedModelFilePath;
//   ort_expected_qop.npy      ORT running model_qop.onnx as written.
// Outputs are float32 (the model's output is a DequantizeLinear).
//
//   cd bench && npm install --ignore-scripts && cd .. && node tests/models/quant/make_ort_expected.js
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require(require.resolve('onnxruntime-node',
                                    {paths: [path.join(__dirname, '../../../bench')]}));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${file}: expected C-order float32`);
  }
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
                   .filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(buf.subarray(start + headerLen, start + headerLen + count * 4));
  return {dims, data};
}

function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.writeUInt8(0x93, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre.writeUInt8(1, 6);
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

async function run(model, x, level, saveAs) {
  const options = {
    intraOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: level,
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  };
  if (saveAs) options.optimizedModelFilePath = saveAs;
  const session = await ort.InferenceSession.create(model, options);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims)};
  const y = (await session.run(feeds))[session.outputNames[0]];
  return {dims: y.dims.map(Number), data: y.data};
}

async function main() {
  for (const name of fs.readdirSync(__dirname).sort()) {
    const dir = path.join(__dirname, name);
    const model = path.join(dir, 'model.onnx');
    if (!fs.existsSync(model)) continue;
    const x = readNpy(path.join(dir, 'input.npy'));
    for (const [level, file] of [['all', 'ort_expected.npy'],
                                 ['disabled', 'ort_expected_unfused.npy']]) {
      const y = await run(model, x, level);
      writeNpy(path.join(dir, file), y.dims, y.data);
    }
    const qop = path.join(dir, 'model_qop.onnx');
    await run(model, x, 'extended', qop);
    const y = await run(qop, x, 'disabled');
    writeNpy(path.join(dir, 'ort_expected_qop.npy'), y.dims, y.data);
    process.stdout.write(`${name}: onnxruntime-node ${ort.env.versions.common}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`make_ort_expected: ${e.message || e}\n`);
  process.exit(1);
});
