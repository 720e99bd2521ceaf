/**
 * Streaming separation: the JavaScript twin of keras_sa/streaming.py's StreamingSeparator and
 * of the Java core's StreamingSeparator, the one definition of how a recording is separated.
 *
 * Chunks of any size go in (process, then flush at the end); each call returns the vocals and
 * accompaniment samples it has finished. Output sample i is the stem of input sample i, and the
 * outputs joined are the same whatever the chunk sizes. The chain:
 *
 * 1. each channel resampled to the model rate (resample.js);
 * 2. the centred STFT of each channel; the down-mix's spectrum is the mean of the channels'
 *    (the STFT is linear), and its model-band magnitudes go to the model's sliding windows
 *    (WindowedMasks: patch_frames frames every window_hop, each normalized on its own, each
 *    keeping the masks of the window_hop frames after its first window_margin);
 * 3. ratio masks, share = (m_vocals + 1e-6) / (m_vocals + m_accompaniment + 2e-6), applied to
 *    each channel's spectrum and inverted by overlap-add;
 * 4. the vocals resampled back to the input rate; accompaniment = the input, delayed to match,
 *    minus the vocals, so the two add up to the input.
 *
 * Latency: after n samples in, exactly max(0, n - latency) samples have come out. At the model
 * rate that is (patch_frames - window_margin - 1) hop + n_fft - 1 samples (22015, 1.376 s, for
 * the bundled models); at another rate the two resamplers' look-ahead is added. Memory holds the
 * look-ahead and one chunk, whatever the length of the stream.
 */

import {Resampler} from './resample.js';
import {OverlapAdd, SampleQueue, StreamingSTFT, modelInput, vocalShare} from './signal.js';

/**
 * The model's sliding windows over a stream of frames: model-band magnitudes in, one frame at a
 * time; the masks of each window's kept frames out. Window w covers frames
 * [w window_hop - window_margin, + patch_frames), zeros outside the signal, and runs once frame
 * (w + 1) window_hop + window_look_ahead - 1 has arrived. Holds patch_frames frames.
 */
export class WindowedMasks {
  /**
   * @param {SignalConfig} signal the contract's signal settings.
   * @param {{predict(features: Float32Array): Promise<Float32Array>}} model one window's masks.
   */
  constructor(signal, model) {
    this.signal = signal;
    this.model = model;
    this.frames = []; // Float32Array(n_bins) each, from absolute frame `first` on
    this.first = 0;
    this.pushed = 0;
    this.total = -1;
    this.windows = 0;
  }

  push(magnitude) {
    if (this.total >= 0) throw new Error('frames already finished');
    this.frames.push(magnitude);
    this.pushed++;
  }

  finish() {
    this.total = this.pushed;
  }

  hasWindow() {
    const hop = this.signal.windowHop;
    if (this.total >= 0) return this.windows * hop < this.total;
    return this.pushed >= (this.windows + 1) * hop + this.signal.windowLookAhead;
  }

  /** The features of the next window (patch_frames * n_bins, frame-major). */
  features() {
    const {patchFrames, nBins, windowHop, windowMargin} = this.signal;
    const start = this.windows * windowHop - windowMargin;
    const end = this.total >= 0 ? this.total : this.pushed;
    const raw = new Float32Array(patchFrames * nBins);
    for (let f = 0; f < patchFrames; f++) {
      const index = start + f;
      if (index >= 0 && index < end) raw.set(this.frames[index - this.first], f * nBins);
    }
    return modelInput(raw, this.signal);
  }

  /**
   * Runs the next window.
   *
   * @returns {Promise<{masks: Float32Array, offset: number, count: number}>} the window's masks
   *     (frame-major, sources last), where its kept frames start, and how many there are
   *     (fewer than window_hop for the last window of a signal).
   */
  async next() {
    if (!this.hasWindow()) throw new Error(`window ${this.windows} needs frames not yet received`);
    const {windowHop: hop, windowMargin: margin, nBins, sources} = this.signal;
    const masks = await this.model.predict(this.features());
    const end = this.total >= 0 ? this.total : this.pushed;
    const count = Math.min(hop, end - this.windows * hop);
    this.windows++;
    const drop = Math.min(Math.max(this.windows * hop - margin - this.first, 0), this.frames.length);
    this.frames.splice(0, drop);
    this.first += drop;
    return {masks, offset: margin * nBins * sources.length, count};
  }
}

/** The look-ahead at the model rate, in samples: (patch_frames - window_margin - 1) hop + n_fft - 1. */
export function modelLatency(signal) {
  return (signal.patchFrames - signal.windowMargin - 1) * signal.hopLength + signal.nFft - 1;
}

export class StreamingSeparator {
  /**
   * @param {SignalConfig} signal the contract's signal settings.
   * @param {{predict(features: Float32Array): Promise<Float32Array>}} model one window's masks.
   * @param {number} sampleRate the input's rate in Hz.
   * @param {number} channels the input's channel count.
   */
  constructor(signal, model, sampleRate, channels) {
    if (!(Number.isInteger(sampleRate) && sampleRate > 0)) throw new Error(`sample rate must be a positive integer, got ${sampleRate}`);
    if (!(Number.isInteger(channels) && channels > 0)) throw new Error(`audio needs at least one channel, got ${channels}`);
    this.signal = signal;
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.vocalsIndex = signal.sources.indexOf('vocals');
    this.accompanimentIndex = signal.sources.indexOf('accompaniment');
    this.masks = new WindowedMasks(signal, model);
    const resampled = sampleRate !== signal.sampleRate;
    const down = resampled ? Resampler.shared(sampleRate, signal.sampleRate) : null;
    const up = resampled ? Resampler.shared(signal.sampleRate, sampleRate) : null;
    this.down = [];
    this.up = [];
    this.analysis = [];
    this.synthesis = [];
    this.input = [];
    this.vocals = [];
    for (let c = 0; c < channels; c++) {
      this.analysis.push(new StreamingSTFT(signal));
      this.synthesis.push(new OverlapAdd(signal));
      this.input.push(new SampleQueue(1 << 16));
      this.vocals.push(new SampleQueue(1 << 16));
      if (resampled) {
        this.down.push(down.stream());
        this.up.push(up.stream());
      }
    }
    const lookAhead = modelLatency(signal);
    this.latency = resampled
      ? Math.floor(((up.lookAhead + lookAhead) * sampleRate + signal.sampleRate - 1) / signal.sampleRate) + down.lookAhead
      : lookAhead;
    this.spectra = []; // per frame waiting for its masks: {re, im}, channels * bins each
    const bins = signal.spectrumBins;
    this.share = new Float32Array(bins);
    this.received = 0;
    this.released = 0;
    this.flushed = false;
  }

  get latencySeconds() {
    return this.latency / this.sampleRate;
  }

  /** Model windows run so far. */
  get windows() {
    return this.masks.windows;
  }

  /**
   * Feeds a chunk; returns the samples finished.
   *
   * @param {Float32Array[]} chunk one array per channel, all of one length (0 allowed).
   * @returns {Promise<{vocals: Float32Array[], accompaniment: Float32Array[]}>} exactly the
   *     samples that bring the output to max(0, received - latency).
   */
  async process(chunk) {
    if (this.flushed) throw new Error('stream already flushed');
    if (chunk.length !== this.channels) throw new Error(`chunk has ${chunk.length} channels, the stream ${this.channels}`);
    const length = chunk[0].length;
    for (let c = 0; c < this.channels; c++) {
      if (chunk[c].length !== length) throw new Error('the channels of a chunk differ in length');
      this.input[c].append(chunk[c]);
      this.analysis[c].push(this.down.length ? this.down[c].process(chunk[c]) : chunk[c]);
    }
    this.received += length;
    await this._pump();
    for (let c = 0; c < this.channels; c++) this._addVocals(c, this.synthesis[c].take(), false);
    return this._release(Math.max(this.received - this.latency, this.released));
  }

  /** Ends the stream: the remaining samples, so that the outputs are as long as the input. */
  async flush() {
    if (this.flushed) throw new Error('stream already flushed');
    this.flushed = true;
    if (this.received === 0) return this._release(0);
    for (let c = 0; c < this.channels; c++) {
      if (this.down.length) this.analysis[c].push(this.down[c].flush());
      this.analysis[c].finish();
    }
    await this._pump();
    this.masks.finish();
    while (this.masks.hasWindow()) this._apply(await this.masks.next());
    const atRate = this.down.length ? this.down[0].produced : this.received;
    for (let c = 0; c < this.channels; c++) {
      this._addVocals(c, this.synthesis[c].finish(atRate), true);
      const missing = this.received - this.vocals[c].end;
      if (missing > 0) this.vocals[c].appendZeros(missing); // the resampled length fell short by rounding
    }
    return this._release(this.received);
  }

  /** Computes every frame the samples received allow, and every window those frames allow. */
  async _pump() {
    const {channels, signal} = this;
    const bins = signal.spectrumBins;
    while (this.analysis[0].hasFrame()) {
      const re = new Float32Array(channels * bins);
      const im = new Float32Array(channels * bins);
      for (let c = 0; c < channels; c++) this.analysis[c].next(re, im, c * bins);
      const magnitude = new Float32Array(signal.nBins);
      for (let k = 0; k < signal.nBins; k++) {
        let sr = 0, si = 0;
        for (let c = 0; c < channels; c++) {
          sr = Math.fround(sr + re[c * bins + k]);
          si = Math.fround(si + im[c * bins + k]);
        }
        const mr = Math.fround(sr / channels), mi = Math.fround(si / channels);
        magnitude[k] = Math.sqrt(mr * mr + mi * mi); // exact squares of float32 values: hypot's result, faster
      }
      this.masks.push(magnitude);
      this.spectra.push({re, im});
      while (this.masks.hasWindow()) this._apply(await this.masks.next());
    }
  }

  /** Masks the frames one window keeps and overlap-adds them. */
  _apply({masks, offset, count}) {
    const {channels, signal, share} = this;
    const bins = signal.spectrumBins;
    const frameValues = signal.nBins * signal.sources.length;
    const re = new Float32Array(bins);
    const im = new Float32Array(bins);
    for (let f = 0; f < count; f++) {
      const frame = this.spectra.shift();
      vocalShare(masks, offset + f * frameValues, signal, this.vocalsIndex, this.accompanimentIndex, share);
      for (let c = 0; c < channels; c++) {
        for (let k = 0; k < bins; k++) {
          re[k] = share[k] * frame.re[c * bins + k];
          im[k] = share[k] * frame.im[c * bins + k];
        }
        this.synthesis[c].push(re, im);
      }
    }
  }

  _addVocals(c, atModelRate, last) {
    if (!this.up.length) {
      this.vocals[c].append(atModelRate);
      return;
    }
    this.vocals[c].append(this.up[c].process(atModelRate));
    if (last) this.vocals[c].append(this.up[c].flush());
  }

  /** Hands out the outputs up to sample `until`. */
  _release(until) {
    const count = until - this.released;
    const vocals = [];
    const accompaniment = [];
    for (let c = 0; c < this.channels; c++) {
      if (this.vocals[c].end < until) throw new Error(`vocals up to ${this.vocals[c].end} of ${until} samples`);
      const v = this.vocals[c].take(count);
      const input = this.input[c].view(this.released, until);
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = input[i] - v[i];
      this.input[c].discardBefore(until);
      vocals.push(v);
      accompaniment.push(a);
    }
    this.released = until;
    return {vocals, accompaniment};
  }
}
