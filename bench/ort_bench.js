#!/usr/bin/env node
// Times one ONNX model in ONNX Runtime (npm onnxruntime-node), the reference engine for dnnfi's
// benchmarks. Arguments and JSON output mirror `dnnfi run`, so bench/engine.sh can run both the
// same way:
//
//   node bench/ort_bench.js [run] MODEL.onnx --input X.npy [--output Y.npy] [--threads N]
//                           [--warmup W] [--repeat R] [--json]
//
// --json prints one line: {"model", "threads", "warmup", "repeat", "median_ms", "min_ms",
// "p90_ms", "peak_rss_mb"}. Times are wall-clock per session.run() call (feeds prepared once);
// median and p90 interpolate linearly between order statistics (numpy's default percentile).
// peak_rss_mb is the process's peak resident set (getrusage ru_maxrss) in MiB, so it includes the
// Node runtime itself (~40-50 MiB).
//
// Session options are fixed for a like-for-like comparison with dnnfi: intraOpNumThreads=N,
// interOpNumThreads=1, sequential execution, graphOptimizationLevel 'all'.
// Input .npy must be float32 ('<f4') or int64 ('<i8', token ids), C order; --output writes the first
// output as float32 .npy. --opt LEVEL sets graphOptimizationLevel (default 'all').

'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function usage(msg) {
  if (msg) process.stderr.write(`ort_bench: ${msg}\n`);
  process.stderr.write(
      'usage: node ort_bench.js [run] MODEL.onnx --input X.npy [--output Y.npy] [--threads N]\n' +
      '                         [--warmup W] [--repeat R] [--json]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    threads: 1, warmup: 3, repeat: 20, json: false, input: null, output: null, opt: 'all'};
  const positional = [];
  const intOpt = (name, v, min) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) {
      usage(`${name} needs an integer >= ${min}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--input': opts.input = argv[++i]; break;
      case '--output': opts.output = argv[++i]; break;
      case '--threads': opts.threads = intOpt(a, argv[++i], 1); break;
      case '--warmup': opts.warmup = intOpt(a, argv[++i], 0); break;
      case '--repeat': opts.repeat = intOpt(a, argv[++i], 1); break;
      case '--json': opts.json = true; break;
      case '--opt': opts.opt = argv[++i]; break;
      case '-h': case '--help': usage(); break;
      default:
        if (a.startsWith('-')) usage(`unknown option ${a}`);
        positional.push(a);
    }
  }
  if (positional[0] === 'run') positional.shift();
  if (positional.length !== 1) usage('expected exactly one MODEL.onnx');
  opts.model = positional[0];
  if (!opts.input) usage('--input X.npy is required');
  return opts;
}

// ---- .npy (format versions 1-3, little-endian float32, C order) -------------------------------

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw new Error(`${file}: not a .npy file`);
  }
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${file}: bad .npy header ${header}`);
  const types = {'<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array]};
  if (!types[descr[1]]) {
    throw new Error(`${file}: dtype ${descr[1]}, expected float32 '<f4' or int64 '<i8'`);
  }
  const [type, ArrayType] = types[descr[1]];
  if (fortran[1] !== 'False') throw new Error(`${file}: Fortran order is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const bytes = count * ArrayType.BYTES_PER_ELEMENT;
  if (buf.length - offset < bytes) throw new Error(`${file}: truncated data`);
  // Copy into an aligned buffer: typed arrays need an element-aligned offset.
  const data = new ArrayType(count);
  Buffer.from(data.buffer).set(buf.subarray(offset, offset + bytes));
  return {type, dims, data};
}

function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so that magic(6) + version(2) + len(2) + header ends on a 64-byte boundary, with '\n'.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.writeUInt8(0x93, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre.writeUInt8(1, 6);
  pre.writeUInt8(0, 7);
  pre.writeUInt16LE(header.length, 8);
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
  const body = Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

// ---- statistics -------------------------------------------------------------------------------

function percentile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(opts.model, {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.opt,
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  });
  if (session.inputNames.length !== 1) {
    throw new Error(`${opts.model}: ${session.inputNames.length} inputs, only 1 is supported`);
  }
  const x = readNpy(opts.input);
  const feeds = {[session.inputNames[0]]: new ort.Tensor(x.type, x.data, x.dims)};
  const outName = session.outputNames[0];

  let result;
  for (let i = 0; i < opts.warmup; i++) result = await session.run(feeds);
  const times = [];
  for (let i = 0; i < opts.repeat; i++) {
    const t0 = process.hrtime.bigint();
    result = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (opts.output) {
    if (!result) result = await session.run(feeds);
    const y = result[outName];
    if (y.type !== 'float32') throw new Error(`output ${outName} is ${y.type}, not float32`);
    writeNpy(opts.output, y.dims.map(Number), y.data);
  }

  const sorted = [...times].sort((a, b) => a - b);
  const round = (v) => Math.round(v * 1000) / 1000;
  const stats = {
    model: opts.model,
    threads: opts.threads,
    warmup: opts.warmup,
    repeat: opts.repeat,
    median_ms: round(percentile(sorted, 0.5)),
    min_ms: round(sorted[0]),
    p90_ms: round(percentile(sorted, 0.9)),
    // ru_maxrss is in KiB on Linux.
    peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
  };
  if (opts.json) {
    process.stdout.write(JSON.stringify(stats) + '\n');
  } else {
    process.stdout.write(
        `${path.basename(opts.model)}: onnxruntime-node ${ort.env.versions.common} ` +
        `threads=${stats.threads} median ${stats.median_ms} ms, min ${stats.min_ms} ms, ` +
        `p90 ${stats.p90_ms} ms over ${stats.repeat} runs (${stats.warmup} warm-up), ` +
        `peak RSS ${stats.peak_rss_mb} MiB\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`ort_bench: ${e.message || e}\n`);
  process.exit(1);
});
