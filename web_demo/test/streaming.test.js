// The stream's contract, without golden vectors: bounded latency (after n samples in, exactly
// max(0, n - latency) out), the same samples whatever the chunk sizes, outputs as long as the
// input, and accompaniment = input - vocals, with a fake model whose masks follow its features.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';

import {parseContract} from '../js/contract.js';
import {StreamingSeparator} from '../js/streaming.js';
import {chunkSizes} from './golden.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const {signal} = parseContract(JSON.parse(fs.readFileSync(path.join(here, '../../tflite/models/sa_shn_mobile_float32.json'), 'utf8')));

/** Vocal mask = the feature, accompaniment mask = 1 - the feature: the masks depend on every input sample. */
const fakeModel = {
  async predict(features) {
    const masks = new Float32Array(features.length * 2);
    for (let i = 0; i < features.length; i++) {
      masks[2 * i] = features[i];
      masks[2 * i + 1] = 1 - features[i];
    }
    return masks;
  },
};

function noise(channels, frames, seed = 1) {
  let state = seed;
  return Array.from({length: channels}, () => Float32Array.from({length: frames}, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648 - 0.5) * 0.6;
  }));
}

for (const [rate, channels, latency] of [[16000, 1, 22015], [44100, 2, 61178]]) {
  test(`${rate} Hz, ${channels} channel(s): latency ${latency}, chunk sizes change nothing`, async () => {
    const input = noise(channels, 3 * rate + 123);
    let reference = null;
    for (const size of [rate * 10, 1000, 4096, 0]) {
      const stream = new StreamingSeparator(signal, fakeModel, rate, channels);
      assert.equal(stream.latency, latency);
      const vocals = input.map(() => []);
      const accompaniment = input.map(() => []);
      let fed = 0, out = 0;
      for (const n of chunkSizes(input[0].length, size, 7)) {
        const result = await stream.process(input.map((c) => c.subarray(fed, fed + n)));
        fed += n;
        out += result.vocals[0].length;
        assert.equal(out, Math.max(0, fed - latency), `after ${fed} samples in`);
        result.vocals.forEach((v, c) => vocals[c].push(...v));
        result.accompaniment.forEach((a, c) => accompaniment[c].push(...a));
      }
      const rest = await stream.flush();
      rest.vocals.forEach((v, c) => vocals[c].push(...v));
      rest.accompaniment.forEach((a, c) => accompaniment[c].push(...a));
      for (let c = 0; c < channels; c++) {
        assert.equal(vocals[c].length, input[c].length);
        assert.deepEqual(Float32Array.from(accompaniment[c]), Float32Array.from(input[c], (x, i) => x - vocals[c][i]));
      }
      if (reference) assert.deepEqual(vocals, reference, `chunks of ${size || 'random size'}`);
      reference = vocals;
    }
  });
}

test('an empty stream gives nothing and runs no window', async () => {
  let calls = 0;
  const stream = new StreamingSeparator(signal, {predict: async (f) => (calls++, fakeModel.predict(f))}, 44100, 2);
  const out = await stream.flush();
  assert.deepEqual(out.vocals.map((v) => v.length), [0, 0]);
  assert.equal(calls, 0);
  await assert.rejects(stream.process([new Float32Array(1), new Float32Array(1)]), /flushed/);
});
