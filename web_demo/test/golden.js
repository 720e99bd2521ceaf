// The golden vectors that android_demo/tools/make_golden.py writes from real audio with the
// Python package (its own STFT, Separator, StreamingSeparator and the int8 model under LiteRT),
// shared by the Java and JavaScript twins. KERAS_SA_GOLDEN overrides where they are.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {fileURLToPath} from 'node:url';

import {dequantize, parseContract, quantize} from '../js/contract.js';
import {decodeWav} from '../js/wav.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const GOLDEN = process.env.KERAS_SA_GOLDEN
  ?? path.resolve(here, '../../android_demo/separator-core/src/test/resources/golden');
const manifestPath = path.join(GOLDEN, 'manifest.json');

/** Why the golden tests are skipped, or false when the vectors are there. */
export const SKIP = fs.existsSync(manifestPath)
  ? false
  : `no golden vectors at ${GOLDEN}: run .venv/bin/python android_demo/tools/make_golden.py --data ../shared/data/mir1k`;

export const manifest = SKIP ? null : JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
export const contract = SKIP ? null : parseContract(JSON.parse(fs.readFileSync(path.join(GOLDEN, 'contract.json'), 'utf8')));

/** An array of a test case: {data: Float32Array | Int8Array, shape}. */
export function array(testCase, name) {
  const entry = manifest[testCase].arrays[name];
  const raw = zlib.gunzipSync(fs.readFileSync(path.join(GOLDEN, entry.file)));
  const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const data = entry.dtype === 'int8' ? new Int8Array(bytes) : new Float32Array(bytes);
  return {data, shape: entry.shape};
}

/** Rows of a 2-D array (channels x samples). */
export function rows({data, shape}) {
  return Array.from({length: shape[0]}, (_, r) => data.subarray(r * shape[1], (r + 1) * shape[1]));
}

/** The decoded input WAV of a test case. */
export function input(testCase) {
  return decodeWav(new Uint8Array(fs.readFileSync(path.join(GOLDEN, manifest[testCase].input.file))));
}

/**
 * A model that replays the int8 outputs LiteRT gave in Python, window by window, and records
 * how far the features it is handed, quantized as the contract says, are from Python's inputs.
 */
export class ReplayModel {
  constructor(testCase) {
    this.inputs = array(testCase, 'features_q').data;
    this.outputs = array(testCase, 'masks_q').data;
    this.calls = 0;
    this.differing = 0;
    this.compared = 0;
    this.maxDifference = 0;
  }

  async predict(features) {
    const n = features.length;
    const expected = this.inputs.subarray(this.calls * n, (this.calls + 1) * n);
    if (expected.length !== n) throw new Error(`window ${this.calls}: Python ran fewer windows`);
    for (let i = 0; i < n; i++) {
      const d = Math.abs(quantize(features[i], contract.input) - expected[i]);
      if (d) this.differing++;
      this.maxDifference = Math.max(this.maxDifference, d);
    }
    this.compared += n;
    const m = this.outputs.length / this.inputs.length * n;
    const raw = this.outputs.subarray(this.calls * m, (this.calls + 1) * m);
    this.calls++;
    return Float32Array.from(raw, (q) => dequantize(q, contract.output));
  }
}

export function maxAbs(a, b) {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function peak(a) {
  return a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

/** Signal-to-error ratio of b against the reference a, in dB. */
export function snrDb(a, b) {
  let s = 0, e = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i] * a[i];
    e += (a[i] - b[i]) ** 2;
  }
  return 10 * Math.log10(s / e);
}

/** Chunk sizes adding up to total: all `size`, or random sizes up to 6000 (size 0). */
export function chunkSizes(total, size, seed = 99) {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const sizes = [];
  for (let done = 0; done < total;) {
    const n = Math.min(size || Math.floor(random() * 6000), total - done);
    sizes.push(n);
    done += n;
  }
  return sizes;
}

/** Runs a stream over planar input in the given chunk sizes; returns {vocals, accompaniment} joined. */
export async function runStream(stream, channels, sizes) {
  const parts = {vocals: [], accompaniment: []};
  let fed = 0;
  for (const size of sizes) {
    const out = await stream.process(channels.map((c) => c.subarray(fed, fed + size)));
    fed += size;
    parts.vocals.push(out.vocals);
    parts.accompaniment.push(out.accompaniment);
  }
  const last = await stream.flush();
  parts.vocals.push(last.vocals);
  parts.accompaniment.push(last.accompaniment);
  const join = (pieces) => channels.map((_, c) => {
    const out = new Float32Array(pieces.reduce((n, p) => n + p[c].length, 0));
    let at = 0;
    for (const p of pieces) {
      out.set(p[c], at);
      at += p[c].length;
    }
    return out;
  });
  return {vocals: join(parts.vocals), accompaniment: join(parts.accompaniment)};
}

/** Reports a measured figure in the test log. */
export function report(t, text) {
  t.diagnostic(text);
}
