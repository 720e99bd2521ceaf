/**
 * Band-limited sample-rate conversion by a rational factor: the twin of the Java core's
 * Resampler, a polyphase filter whose taps are a Kaiser-windowed sinc designed to soxr's "HQ"
 * specification, which the Python package uses: flat to 0.913 of the lower rate's Nyquist
 * frequency, stopband from that Nyquist frequency on (nothing aliases), 120 dB attenuation,
 * linear phase with its delay compensated (output sample 0 is aligned with input sample 0), and
 * round(n * to / from) samples out for n in. The filters differ from soxr's only in the shape of
 * the transition band; the tests compare by signal-to-error ratio.
 *
 * Output sample j lies at input time tau = j M / L (L / M = to / from, reduced) and is
 * sum_k x[k] h(tau - k), h(t) = 2 fc sinc(2 fc t) kaiser(t / T, beta), |t| < T; only L distinct
 * phases exist, tabulated once (each phase's taps sum to 1). Kaiser's formulas:
 * beta = 0.1102 (A - 8.7), N = (A - 7.95) / (14.36 df) + 1 taps, T = N / 2.
 */

import {loadSimd} from './simd.js';

export const PASSBAND = 0.913;
export const STOPBAND = 1.0;
export const ATTENUATION_DB = 120.0;
const MAX_TABLE = 1 << 22;
const simd = loadSimd();
const shared = new Map();

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x) {
  let sum = 1, term = 1;
  const quarter = (x * x) / 4;
  for (let k = 1; k < 500; k++) {
    term *= quarter / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Samples out for n samples in: round(n * to / from), halves rounded up. */
export function outputLength(n, from, to) {
  return Math.floor((2 * n * to + from) / (2 * from));
}

export class Resampler {
  constructor(from, to) {
    if (!(from > 0 && to > 0)) throw new Error(`rates must be positive, got ${from} and ${to}`);
    this.from = from;
    this.to = to;
    const g = gcd(from, to);
    this.up = to / g;
    this.down = from / g;
    const ratio = Math.min(1, to / from);
    const transition = (STOPBAND - PASSBAND) * 0.5 * ratio;
    this.cutoff = ((PASSBAND + STOPBAND) / 2) * 0.5 * ratio;
    this.beta = 0.1102 * (ATTENUATION_DB - 8.7);
    this.halfWidth = ((ATTENUATION_DB - 7.95) / (14.36 * transition) + 1) / 2;
    this.reach = Math.ceil(this.halfWidth);
    this.width = 2 * this.reach + 1;
    if (this.up === this.down) return;
    if (this.up * this.width > MAX_TABLE) throw new Error(`no resampler from ${from} to ${to} Hz (too fine a ratio)`);
    // Phase p's taps, reversed: taps[p * width + i] weighs x[base - reach + i].
    this.taps = new Float32Array(this.up * this.width);
    const w = new Float64Array(this.width);
    for (let p = 0; p < this.up; p++) {
      let total = 0;
      for (let o = -this.reach; o <= this.reach; o++) total += w[o + this.reach] = this._h(p / this.up + o);
      for (let i = 0; i < this.width; i++) this.taps[p * this.width + i] = w[this.width - 1 - i] / total;
    }
    this.tapsAt = simd ? simd.keep(this.taps) : -1;
  }

  /** The filter for a rate pair, made once (its taps stay in the SIMD memory). */
  static shared(from, to) {
    const key = `${from}:${to}`;
    if (!shared.has(key)) shared.set(key, new Resampler(from, to));
    return shared.get(key);
  }

  /** The continuous kernel t input samples from the output sample. */
  _h(t) {
    const a = Math.abs(t);
    if (a >= this.halfWidth) return 0;
    const x = 2 * this.cutoff * t;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const r = a / this.halfWidth;
    return (2 * this.cutoff * sinc * besselI0(this.beta * Math.sqrt(1 - r * r))) / besselI0(this.beta);
  }

  /** Input samples the filter reads beyond an output sample's own time. */
  get lookAhead() {
    return this.up === this.down ? 0 : this.reach;
  }

  /** A new stream through this filter. */
  stream() {
    return new ResamplerStream(this);
  }

  /** Resamples a whole channel. */
  process(x) {
    const stream = this.stream();
    const head = stream.process(x);
    const tail = stream.flush();
    const y = new Float32Array(head.length + tail.length);
    y.set(head);
    y.set(tail, head.length);
    return y;
  }
}

/**
 * Streaming resampling of one channel: each output computed as soon as the input it reads has
 * arrived, the same samples as Resampler.process for the whole signal however the input is cut
 * (the same dot product over the same inputs; zeros beyond the ends are left out in both).
 */
export class ResamplerStream {
  constructor(filter) {
    this.filter = filter;
    const reach = filter.reach;
    // Input with reach zeros in front, so that every output reads whole rows of taps.
    this.input = new Float32Array(4 * reach + 1024);
    this.start = -reach; // absolute index of input[0]
    this.length = reach;
    this.received = 0;
    this.produced = 0;
    this.flushed = false;
  }

  _append(x) {
    if (this.length + x.length > this.input.length) {
      const keep = this.input.subarray(0, this.length);
      const data = this.length + x.length > this.input.length / 2 ? new Float32Array(2 * (this.length + x.length)) : this.input;
      data.set(keep);
      this.input = data;
    }
    this.input.set(x, this.length);
    this.length += x.length;
  }

  /** Feeds samples; returns the outputs they complete. */
  process(x) {
    if (this.flushed) throw new Error('stream already flushed');
    const f = this.filter;
    if (f.up === f.down) {
      this.produced += x.length;
      return Float32Array.from(x);
    }
    this._append(x);
    this.received += x.length;
    // Output j is complete once x[floor(j down / up) + reach] has arrived.
    const last = this.received - f.reach - 1;
    const ready = last < 0 ? 0 : Math.floor(((last + 1) * f.up + f.down - 1) / f.down);
    return this._run(ready);
  }

  /** Ends the stream: the remaining outputs, round(n to / from) in all. */
  flush() {
    if (this.flushed) throw new Error('stream already flushed');
    this.flushed = true;
    const f = this.filter;
    if (f.up === f.down) return new Float32Array(0);
    // The zeros behind the signal: the same products as leaving them out.
    this._append(new Float32Array(f.reach + 1));
    return this._run(outputLength(this.received, f.from, f.to));
  }

  _run(until) {
    const f = this.filter;
    const {up, down, reach, width, taps} = f;
    const count = Math.max(until - this.produced, 0);
    const y = new Float32Array(count);
    const x = this.input;
    const firstBase = Math.floor((this.produced * down) / up);
    if (simd && count) {
      // The inputs these outputs read, copied next to the taps; the outputs in one call.
      const from = firstBase - reach - this.start;
      const to = Math.floor(((this.produced + count - 1) * down) / up) - reach - this.start + width;
      const phase = this.produced * down - firstBase * up;
      y.set(simd.resample(f.tapsAt, width, up, down, phase, x.subarray(from, to), 0, count));
    } else {
      for (let i = 0; i < count; i++) {
        const position = (this.produced + i) * down;
        const base = Math.floor(position / up);
        const t = (position - base * up) * width;
        const s = base - reach - this.start;
        let a = 0, b = 0, c = 0, d = 0, k = 0;
        for (; k + 3 < width; k += 4) {
          a += taps[t + k] * x[s + k];
          b += taps[t + k + 1] * x[s + k + 1];
          c += taps[t + k + 2] * x[s + k + 2];
          d += taps[t + k + 3] * x[s + k + 3];
        }
        for (; k < width; k++) a += taps[t + k] * x[s + k];
        y[i] = a + b + (c + d);
      }
    }
    this.produced += count;
    // Keep the inputs the next output reads from.
    const next = Math.floor((this.produced * down) / up) - reach;
    const drop = Math.min(Math.max(next - this.start, 0), this.length);
    if (drop > 0) {
      this.input.copyWithin(0, drop, this.length);
      this.start += drop;
      this.length -= drop;
    }
    return y;
  }
}
