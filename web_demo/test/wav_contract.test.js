// WAV decoding against libsndfile (the golden vectors' WAV files, with the samples libsndfile
// decodes from them), the truncation check against the Python package's wording, the float WAV
// writer, and the contract parser's refusals.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';
import zlib from 'node:zlib';

import {ContractError, parseContract} from '../js/contract.js';
import {PARTIAL_FRAME_REASON, WavError, decodeWav, encodeWav, truncation} from '../js/wav.js';
import {GOLDEN, SKIP, manifest} from './golden.js';

const contractFile = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../tflite/models/sa_shn_mobile_float32.json');

test('WAV files decode to the samples libsndfile gives', {skip: SKIP}, () => {
  for (const entry of manifest.wav) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(GOLDEN, entry.file)));
    if (entry.unsupported) {
      assert.throws(() => decodeWav(bytes), WavError, entry.file);
      continue;
    }
    const {sampleRate, channels} = decodeWav(bytes);
    assert.equal(sampleRate, entry.sample_rate, entry.file);
    assert.equal(channels.length, entry.channels, entry.file);
    const raw = zlib.gunzipSync(fs.readFileSync(path.join(GOLDEN, entry.decoded.file)));
    const expected = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const frames = entry.decoded.shape[1];
    channels.forEach((c, i) => assert.deepEqual(c, expected.subarray(i * frames, (i + 1) * frames), `${entry.file} channel ${i}`));
    assert.equal(truncation(bytes), null, entry.file);
  }
});

test('a float WAV written here reads back exactly, and a cut one is refused in the Python package\'s words', () => {
  const left = Float32Array.from({length: 4410}, (_, i) => Math.sin(i / 7) * 0.9);
  const right = Float32Array.from(left, (x) => -x / 2);
  const bytes = new Uint8Array(encodeWav([left, right], 44100));
  const back = decodeWav(bytes);
  assert.equal(back.sampleRate, 44100);
  assert.deepEqual(back.channels, [left, right]);
  assert.equal(truncation(bytes), null);
  assert.equal(truncation(bytes.subarray(0, 44 + 8 * 1000)), 'truncated: header declares 0.10 s of audio, the file holds 0.02 s');
  assert.equal(truncation(bytes.subarray(0, 44 + 8 * 1000 + 3)), 'truncated: header declares 0.10 s of audio, the file holds 0.02 s');
  // A pipe's "unknown size" marker: read to the end, unless it ends inside a sample frame.
  const unknown = bytes.slice(0, 44 + 8 * 100);
  new DataView(unknown.buffer).setUint32(40, 0xffffffff, true);
  assert.equal(truncation(unknown), null);
  assert.equal(truncation(unknown.subarray(0, unknown.length - 3)), PARTIAL_FRAME_REASON);
  // Only the head of a long file is read: the size comes separately.
  assert.equal(truncation(bytes.subarray(0, 1000), bytes.length), null);
  assert.equal(truncation(bytes.subarray(0, 1000), bytes.length - 8), 'truncated: header declares 0.10 s of audio, the file holds 0.10 s');
  // A data size that ends in a partial frame whose bytes are missing loses no whole frame: read, as in Python and Java.
  const partial = bytes.slice();
  new DataView(partial.buffer).setUint32(40, 8 * 4410 + 5, true);
  assert.equal(truncation(partial), null);
  new DataView(partial.buffer).setUint32(40, 8 * 4411 + 5, true);
  assert.equal(truncation(partial), 'truncated: header declares 0.10 s of audio, the file holds 0.10 s');
});

test('the contract parser refuses other formats, versions and conventions', () => {
  const good = JSON.parse(fs.readFileSync(contractFile, 'utf8'));
  const parsed = parseContract(good);
  assert.equal(parsed.signal.sampleRate, 16000);
  assert.equal(parsed.signal.windowMargin, 24);
  assert.equal(parsed.signal.windowLookAhead, 4);
  const broken = (edit) => {
    const copy = structuredClone(good);
    edit(copy);
    return () => parseContract(copy);
  };
  assert.throws(broken((c) => { c.format = 'other'; }), ContractError);
  assert.throws(broken((c) => { c.version = 2; }), ContractError);
  assert.throws(broken((c) => { c.stft.window = 'hann, symmetric'; }), ContractError);
  assert.throws(broken((c) => { c.stft.center = false; }), ContractError);
  assert.throws(broken((c) => { c.signal.n_fft = 1000; }), ContractError);
  assert.throws(broken((c) => { c.signal.sources = ['drums', 'bass']; }), ContractError);
  assert.throws(broken((c) => { c.input.shape = [1, 32, 1024, 1]; }), ContractError);
  assert.throws(() => parseContract(null), ContractError);
});
