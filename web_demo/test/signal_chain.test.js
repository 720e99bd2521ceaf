// The JavaScript signal chain against the Python package's golden vectors: the STFT, the
// features, the int8 inputs, the masks, the vocal share and the separated stems of a MIR-1K
// clip at 16 kHz, and a stereo 44.1 kHz song through the resamplers. Tolerances as the Java
// twin's (android_demo/README.md): float rounding where both sides compute the same thing, a
// signal-to-error ratio where they resample with different filters of one specification.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {StreamingSeparator} from '../js/streaming.js';
import {Resampler} from '../js/resample.js';
import {modelInput, stft, vocalShare} from '../js/signal.js';
import {dequantize} from '../js/contract.js';
import {SKIP, ReplayModel, array, chunkSizes, contract, input, manifest, maxAbs, peak, report, rows, runStream, snrDb} from './golden.js';

const skip = SKIP;

test('STFT magnitudes match Python', {skip}, (t) => {
  const {channels: [x]} = input('mono');
  const expected = array('mono', 'stft_magnitude');
  const s = stft(x, contract.signal);
  assert.equal(s.frames, expected.shape[0]);
  const magnitude = Float32Array.from(s.re, (re, i) => Math.hypot(re, s.im[i]));
  const error = maxAbs(magnitude, expected.data);
  report(t, `max abs error ${error.toExponential(2)} (peak ${peak(expected.data).toFixed(1)})`);
  assert.ok(error <= 1e-6 * peak(expected.data));
});

test('features of the first window match Python', {skip}, (t) => {
  const {signal} = contract;
  const magnitude = array('mono', 'stft_magnitude');
  const bins = magnitude.shape[1];
  // Window 0 covers frames -window_margin .. patch_frames - window_margin - 1 (zeros before 0).
  const raw = new Float32Array(signal.patchFrames * signal.nBins);
  for (let f = signal.windowMargin; f < signal.patchFrames; f++) {
    const frame = f - signal.windowMargin;
    raw.set(magnitude.data.subarray(frame * bins, frame * bins + signal.nBins), f * signal.nBins);
  }
  const error = maxAbs(modelInput(raw, signal), array('mono', 'features_window0').data);
  report(t, `max abs error ${error.toExponential(2)}`);
  assert.ok(error <= 1e-6);
});

test('frame masks and vocal share from the recorded model outputs match Python', {skip}, (t) => {
  const {signal} = contract;
  const raw = array('mono', 'masks_q');
  const frames = manifest.mono.frames;
  const masks = array('mono', 'masks').data;
  const shares = array('mono', 'vocal_share').data;
  const per = signal.nBins * signal.sources.length;
  const bins = signal.spectrumBins;
  const share = new Float32Array(bins);
  let shareError = 0;
  for (let f = 0; f < frames; f++) {
    const w = Math.floor(f / signal.windowHop);
    const offset = (w * signal.patchFrames + signal.windowMargin + (f % signal.windowHop)) * per;
    const window = Float32Array.from(raw.data.subarray(offset, offset + per), (q) => dequantize(q, contract.output));
    assert.deepEqual(window, masks.subarray(f * per, (f + 1) * per), `frame ${f}`);
    vocalShare(window, 0, signal, 0, 1, share);
    shareError = Math.max(shareError, maxAbs(share, shares.subarray(f * bins, (f + 1) * bins)));
  }
  report(t, `masks exact; vocal share max abs error ${shareError.toExponential(2)}`);
  assert.ok(shareError <= 1e-7);
});

test('separated mono clip matches Python (recorded model outputs)', {skip}, async (t) => {
  const {sampleRate, channels} = input('mono');
  const model = new ReplayModel('mono');
  const stream = new StreamingSeparator(contract.signal, model, sampleRate, 1);
  const out = await runStream(stream, channels, [channels[0].length]);
  assert.equal(model.calls, manifest.mono.windows);
  const vocals = array('mono', 'vocals').data;
  const error = maxAbs(out.vocals[0], vocals);
  const accompanimentError = maxAbs(out.accompaniment[0], array('mono', 'accompaniment').data);
  report(t, `vocals max abs error ${error.toExponential(2)} (peak ${peak(vocals).toFixed(2)}), accompaniment ${accompanimentError.toExponential(2)}; int8 inputs: ${model.differing} of ${model.compared} differ (max ${model.maxDifference})`);
  assert.ok(error <= 5e-7 && accompanimentError <= 5e-7);
  assert.ok(model.maxDifference <= 1 && model.differing <= model.compared / 1000);
  assert.deepEqual(out.accompaniment[0], Float32Array.from(channels[0], (x, i) => x - out.vocals[0][i]));
});

test('stereo at the model rate, given soxr channels, matches Python', {skip}, async (t) => {
  const atRate = rows(array('stereo', 'at_rate'));
  const model = new ReplayModel('stereo');
  const stream = new StreamingSeparator(contract.signal, model, contract.signal.sampleRate, 2);
  const out = await runStream(stream, atRate, [atRate[0].length]);
  const expected = rows(array('stereo', 'vocals_at_rate'));
  const error = Math.max(maxAbs(out.vocals[0], expected[0]), maxAbs(out.vocals[1], expected[1]));
  report(t, `16 kHz vocals max abs error ${error.toExponential(2)}; int8 inputs: ${model.differing} of ${model.compared} differ`);
  assert.ok(error <= 5e-7);
  assert.ok(model.maxDifference <= 1);
});

test('stereo 44.1 kHz end to end with the JavaScript resampler matches Python (soxr)', {skip}, async (t) => {
  const {sampleRate, channels} = input('stereo');
  assert.equal(sampleRate, 44100);
  const model = new ReplayModel('stereo');
  const out = await runStream(new StreamingSeparator(contract.signal, model, sampleRate, 2), channels, [channels[0].length]);
  const expected = rows(array('stereo', 'vocals'));
  const snr = [0, 1].map((c) => snrDb(expected[c], out.vocals[c]));
  report(t, `vocals SNR ${snr.map((s) => s.toFixed(1)).join(' / ')} dB; ${model.differing} of ${model.compared} int8 inputs differ (max ${model.maxDifference})`);
  for (const s of snr) assert.ok(s >= 55, `SNR ${s}`);
});

test('resampler against soxr HQ on music, 44.1 -> 16 kHz', {skip}, (t) => {
  const {channels} = input('stereo');
  const expected = rows(array('stereo', 'at_rate'));
  const snr = [0, 1].map((c) => snrDb(expected[c], new Resampler(44100, 16000).process(channels[c])));
  report(t, `SNR ${snr.map((s) => s.toFixed(1)).join(' / ')} dB`);
  for (const s of snr) assert.ok(s >= 55, `SNR ${s}`);
});

for (const [name, check] of [['stream_mono', 'exact'], ['stream_stereo', 'snr']]) {
  test(`golden stream ${name}: the same samples in every chunking, Python's within tolerance`, {skip}, async (t) => {
    const {sampleRate, channels} = input(name);
    const expected = rows(array(name, 'vocals'));
    let first = null;
    for (const size of [1, 7, 1000, 4096, 0]) {
      const model = new ReplayModel(name);
      const stream = new StreamingSeparator(contract.signal, model, sampleRate, channels.length);
      const out = await runStream(stream, channels, chunkSizes(channels[0].length, size));
      assert.equal(model.calls, manifest[name].windows);
      const label = size || 'random size';
      if (check === 'exact') {
        const error = maxAbs(out.vocals[0], expected[0]);
        report(t, `chunks of ${label}: vocals max abs error ${error.toExponential(2)}; int8 inputs ${model.differing} of ${model.compared} differ (max ${model.maxDifference})`);
        assert.ok(error <= 5e-7);
        assert.ok(model.maxDifference <= 1);
        assert.equal(stream.latency, manifest[name].latency, 'latency, as the Python stream reports it');
      } else {
        const snr = expected.map((e, c) => snrDb(e, out.vocals[c]));
        report(t, `chunks of ${label}: vocals SNR ${snr.map((s) => s.toFixed(1)).join(' / ')} dB`);
        for (const s of snr) assert.ok(s >= 55);
      }
      for (let c = 0; c < channels.length; c++) {
        assert.deepEqual(out.accompaniment[c], Float32Array.from(channels[c], (x, i) => x - out.vocals[c][i]));
      }
      if (first) assert.deepEqual(out, first, `chunks of ${label} give other samples`);
      first = out;
    }
  });
}
