/**
 * The STFT contract, the model's features and the ratio masks: the JavaScript twin of
 * keras_sa/audio/signal.py and keras_sa/streaming.py (and of the Java core's Stft, Features and
 * Separator.share), with the same convention:
 *
 * - a periodic Hann window of n_fft samples, hop hop_length;
 * - centred frames: n_fft / 2 zeros in front of and behind the signal, so frame f is centred on
 *   sample f * hop_length and n samples have 1 + floor(n / hop_length) frames;
 * - the inverse divides the overlap-added windowed frames by the summed squared window.
 *
 * FFTs run in double precision and spectra, frames and samples are stored as float32, as numpy
 * stores them (complex64 / float32).
 */

import {RealFft} from './fft.js';

const FLOAT32_TINY = 1.1754943508222875e-38;
const EPS = 1e-8;
export const SHARE_EPS = 1e-6;

const windows = new Map();

/** The periodic Hann window of n samples (float64, as numpy's hann_window). */
export function hannWindow(n) {
  if (!windows.has(n)) {
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
    windows.set(n, w);
  }
  return windows.get(n);
}

/** A growing float32 queue of samples, addressed by absolute index (the Java core's SampleQueue). */
export class SampleQueue {
  constructor(capacity = 1024) {
    this.data = new Float32Array(capacity);
    this.start = 0; // absolute index of data[head]
    this.head = 0;
    this.length = 0;
  }

  /** Absolute index one past the last sample. */
  get end() {
    return this.start + this.length;
  }

  append(samples) {
    if (this.head + this.length + samples.length > this.data.length) {
      if (this.length + samples.length <= this.data.length / 2) {
        this.data.copyWithin(0, this.head, this.head + this.length);
      } else {
        const data = new Float32Array(2 * (this.length + samples.length));
        data.set(this.data.subarray(this.head, this.head + this.length));
        this.data = data;
      }
      this.head = 0;
    }
    this.data.set(samples, this.head + this.length);
    this.length += samples.length;
  }

  appendZeros(count) {
    this.append(new Float32Array(count));
  }

  /** Sample at absolute index i (must be held). */
  get(i) {
    return this.data[this.head + i - this.start];
  }

  /** A view of the samples [from, to) by absolute index (valid until the next append). */
  view(from, to) {
    return this.data.subarray(this.head + from - this.start, this.head + to - this.start);
  }

  /** Removes and returns the first count samples. */
  take(count) {
    const out = this.data.slice(this.head, this.head + count);
    this.discardBefore(this.start + count);
    return out;
  }

  /** Drops the samples before absolute index i. */
  discardBefore(i) {
    const drop = Math.min(Math.max(i - this.start, 0), this.length);
    this.head += drop;
    this.start += drop;
    this.length -= drop;
  }
}

/**
 * The centred STFT of one channel that arrives in pieces (Python's StreamingSTFT, the Java core's
 * Stft.Analysis): frame f once samples up to f * hop + n_fft / 2 - 1 are in; finish() adds the
 * n_fft / 2 zeros behind. Holds fewer than n_fft + hop samples.
 */
export class StreamingSTFT {
  constructor(signal) {
    this.signal = signal;
    this.fft = new RealFft(signal.nFft);
    this.window = hannWindow(signal.nFft);
    this.frame = new Float64Array(signal.nFft);
    this.queue = new SampleQueue(signal.nFft * 2);
    this.queue.appendZeros(signal.nFft / 2);
    this.produced = 0; // frames
    this.finished = false;
  }

  push(samples) {
    if (this.finished) throw new Error('the STFT stream is finished');
    this.queue.append(samples);
  }

  /** The zeros behind the signal: the last frames become complete. */
  finish() {
    this.queue.appendZeros(this.signal.nFft / 2);
    this.finished = true;
  }

  hasFrame() {
    return this.queue.end >= this.produced * this.signal.hopLength + this.signal.nFft;
  }

  /** The next frame's spectrum, n_fft / 2 + 1 bins, into re / im (float32) at an offset. */
  next(re, im, offset = 0) {
    const {nFft, hopLength} = this.signal;
    const first = this.produced * hopLength;
    const x = this.queue.view(first, first + nFft);
    const frame = this.frame;
    for (let i = 0; i < nFft; i++) frame[i] = x[i] * this.window[i];
    this.fft.forward(frame, re, im, offset);
    this.produced++;
    this.queue.discardBefore(this.produced * this.signal.hopLength);
  }
}

/**
 * The inverse STFT of frames that arrive in order (Python's OverlapAdd, the Java core's
 * Stft.Synthesis): each frame's windowed inverse FFT is added, with the squared window, into an
 * accumulator; the samples no later frame reaches leave, divided by their summed squared window
 * (where it exceeds float32's tiny). The leading n_fft / 2 samples (the front padding) are dropped.
 */
export class OverlapAdd {
  constructor(signal) {
    this.signal = signal;
    const n = signal.nFft;
    this.fft = new RealFft(n);
    this.window = Float32Array.from(hannWindow(n));
    this.square = Float32Array.from(hannWindow(n), (w) => w * w);
    this.frame = new Float64Array(n);
    // The accumulators hold the frames' overlap at `at` onwards: they move on by hop per frame
    // and are shifted back to 0 only when they reach the end (a copy per 16 frames, not per frame).
    this.sum = new Float32Array(n + 16 * signal.hopLength);
    this.weight = new Float32Array(this.sum.length);
    this.at = 0;
    this.skip = n / 2;
    this.ready = new SampleQueue(4096);
    this.out = new Float32Array(signal.hopLength);
    this.emitted = 0;
  }

  _emit(count) {
    const {sum, weight, at} = this;
    if (this.out.length < count) this.out = new Float32Array(count);
    const out = this.out.subarray(0, count);
    for (let i = 0; i < count; i++) {
      const s = sum[at + i], w = weight[at + i];
      out[i] = w > FLOAT32_TINY ? s / w : s;
    }
    const skip = Math.min(this.skip, count);
    this.skip -= skip;
    this.ready.append(out.subarray(skip));
    this.emitted += count - skip;
  }

  /** Adds one frame's spectrum (float32 re / im of n_fft / 2 + 1 bins). */
  push(re, im, offset = 0) {
    const {nFft: n, hopLength: hop} = this.signal;
    const {frame, sum, weight, window, square, at} = this;
    this.fft.inverse(re, im, frame, offset);
    for (let i = 0; i < n; i++) {
      sum[at + i] = sum[at + i] + Math.fround(Math.fround(frame[i]) * window[i]);
      weight[at + i] = weight[at + i] + square[i];
    }
    this._emit(hop);
    this.at += hop;
    if (this.at + n > sum.length) {
      // Back to the front: the n - hop samples later frames still add to, then zeros.
      sum.copyWithin(0, this.at, this.at + n - hop);
      weight.copyWithin(0, this.at, this.at + n - hop);
      sum.fill(0, n - hop);
      weight.fill(0, n - hop);
      this.at = 0;
    }
  }

  /** The samples finished since the last call. */
  take() {
    return this.ready.take(this.ready.length);
  }

  /** The rest, to a total of length samples (zero-padded if the frames end sooner). */
  finish(length) {
    this._emit(this.signal.nFft);
    let out = this.take();
    const before = this.emitted - out.length;
    const keep = Math.max(0, length - before);
    if (out.length > keep) out = out.slice(0, keep);
    else if (out.length < keep) {
      const padded = new Float32Array(keep);
      padded.set(out);
      out = padded;
    }
    this.emitted = before + keep;
    return out;
  }
}

/**
 * The complex STFT of a whole signal: {frames, re, im}, each row n_fft / 2 + 1 bins (float32).
 */
export function stft(samples, signal) {
  const stream = new StreamingSTFT(signal);
  stream.push(samples);
  stream.finish();
  const frames = signal.numFrames(samples.length);
  const bins = signal.spectrumBins;
  const re = new Float32Array(frames * bins);
  const im = new Float32Array(frames * bins);
  for (let f = 0; f < frames; f++) stream.next(re, im, f * bins);
  return {frames, re, im};
}

/** Inverse of stft(): length samples (float32). */
export function istft(spectrum, signal, length) {
  const bins = signal.spectrumBins;
  const overlapAdd = new OverlapAdd(signal);
  const head = new SampleQueue();
  for (let f = 0; f < spectrum.frames; f++) {
    overlapAdd.push(spectrum.re, spectrum.im, f * bins);
    head.append(overlapAdd.take());
  }
  const done = head.take(Math.min(head.length, length));
  const rest = overlapAdd.finish(length);
  const out = new Float32Array(length);
  out.set(done);
  out.set(rest.subarray(0, length - done.length), done.length);
  return out;
}

/**
 * The model input of one window's model-band magnitudes (Python's model_input): divided by the
 * window's peak (at least 1e-8), then, for log compression, log1p(c m) divided by the window's
 * own maximum of it (log1p(c) for a window whose peak is below 1e-8). float32 at every step.
 *
 * @param {Float32Array} magnitude patch_frames * n_bins magnitudes.
 * @returns {Float32Array} the features, in [0, 1].
 */
export function modelInput(magnitude, signal) {
  let peak = 0;
  for (let i = 0; i < magnitude.length; i++) if (magnitude[i] > peak) peak = magnitude[i];
  const scale = Math.max(peak, Math.fround(EPS));
  const out = new Float32Array(magnitude.length);
  for (let i = 0; i < magnitude.length; i++) out[i] = magnitude[i] / scale;
  if (signal.compression === 'log') {
    const c = signal.compressionStrength;
    let top = 0;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.log1p(Math.fround(c * out[i]));
      if (out[i] > top) top = out[i];
    }
    const divisor = peak >= Math.fround(EPS) ? top : Math.fround(Math.log1p(c));
    for (let i = 0; i < out.length; i++) out[i] = out[i] / divisor;
  }
  return out;
}

/**
 * The vocals' share of the mixture in one frame (Python's vocal_shares):
 * (m_v + 1e-6) / (m_v + m_a + 2e-6); bins above n_bins take the share of bin n_bins - 1.
 *
 * @param {Float32Array} masks masks of one window, frame-major, sources last.
 * @param {number} offset index of the frame's first value in masks.
 * @param {Float32Array} share n_fft / 2 + 1 values out.
 */
export function vocalShare(masks, offset, signal, vocals, accompaniment, share) {
  const sources = signal.sources.length;
  const eps = Math.fround(SHARE_EPS);
  const eps2 = Math.fround(2 * SHARE_EPS);
  for (let k = 0; k < signal.nBins; k++) {
    const v = masks[offset + k * sources + vocals];
    const a = masks[offset + k * sources + accompaniment];
    share[k] = Math.fround(v + eps) / Math.fround(Math.fround(v + a) + eps2);
  }
  share.fill(share[signal.nBins - 1], signal.nBins);
}
