/**
 * Real FFTs of one power-of-two size, in double precision (as numpy.fft and the Java core's Fft):
 * a complex FFT of half the size, with the even and odd samples packed as real and imaginary parts.
 */

export class RealFft {
  /** @param {number} n the transform size, a power of two (at least 4). */
  constructor(n) {
    if (n < 4 || n & (n - 1)) throw new Error(`FFT size ${n} is not a power of two >= 4`);
    this.n = n;
    const m = (this.m = n / 2);
    this.re = new Float64Array(m);
    this.im = new Float64Array(m);
    this.bitReverse = new Uint32Array(m);
    const bits = Math.log2(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitReverse[i] = r;
    }
    // cos / sin of 2 pi k / n, k < n / 2: the half-size FFT's twiddles are every other one.
    this.cos = new Float64Array(m);
    this.sin = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
  }

  /**
   * In-place complex FFT of this.re / this.im (size m), their values already in bit-reversed
   * order (forward and inverse store them so): exponent sign -1, or +1 for the inverse (unscaled).
   */
  _complex(inverse) {
    const {m, re, im, cos, sin} = this;
    const sign = inverse ? 1 : -1;
    let s = 1; // the blocks' half size: stages double it
    if (Math.log2(m) % 2) {
      // One radix-2 stage (twiddle 1) when the stage count is odd.
      for (let a = 0; a < m; a += 2) {
        const tr = re[a + 1], ti = im[a + 1];
        re[a + 1] = re[a] - tr;
        im[a + 1] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
      s = 2;
    }
    // Two radix-2 stages at a time (blocks of 2s, then 4s): per k, w1 = W_2s^k for the first,
    // w2 = W_4s^k and w2 * W_4^1 for the second; W_N^j is table entry j * n / N.
    for (; s < m; s *= 4) {
      const step2 = m / (2 * s); // W_4s^k = table[k * 2m / 4s]
      for (let k = 0; k < s; k++) {
        const w2r = cos[k * step2], w2i = sign * sin[k * step2];
        const w1r = cos[2 * k * step2], w1i = sign * sin[2 * k * step2];
        for (let a = k; a < m; a += 4 * s) {
          const b = a + s, c = a + 2 * s, d = a + 3 * s;
          let tr = re[b] * w1r - im[b] * w1i, ti = re[b] * w1i + im[b] * w1r;
          const Ar = re[a] + tr, Ai = im[a] + ti, Br = re[a] - tr, Bi = im[a] - ti;
          tr = re[d] * w1r - im[d] * w1i;
          ti = re[d] * w1i + im[d] * w1r;
          const Cr = re[c] + tr, Ci = im[c] + ti, Dr = re[c] - tr, Di = im[c] - ti;
          const cr = Cr * w2r - Ci * w2i, ci = Cr * w2i + Ci * w2r;
          // D * w2 * W_4^1, W_4^1 = -i (forward) or +i (inverse)
          const er = Dr * w2r - Di * w2i, ei = Dr * w2i + Di * w2r;
          const dr = -sign * ei, di = sign * er;
          re[a] = Ar + cr; im[a] = Ai + ci;
          re[c] = Ar - cr; im[c] = Ai - ci;
          re[b] = Br + dr; im[b] = Bi + di;
          re[d] = Br - dr; im[d] = Bi - di;
        }
      }
    }
  }

  /**
   * Spectrum of n real samples: bins 0 .. n/2 into outRe / outIm (at an offset).
   *
   * @param {ArrayLike<number>} x n samples (already windowed).
   */
  forward(x, outRe, outIm, offset = 0) {
    const {m, re, im, cos, sin, bitReverse} = this;
    for (let i = 0; i < m; i++) {
      const j = bitReverse[i];
      re[j] = x[2 * i];
      im[j] = x[2 * i + 1];
    }
    this._complex(false);
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k; // Z is periodic in m: Z[m] = Z[0]
      const b = k === 0 ? 0 : m - k;
      const zr = re[a], zi = im[a], cr = re[b], ci = -im[b]; // Z[k], conj(Z[m - k])
      const er = (zr + cr) / 2, ei = (zi + ci) / 2; // even part
      const or = (zi - ci) / 2, oi = -(zr - cr) / 2; // (Z - conj) / 2i: odd part
      const wr = k < m ? cos[k] : -1, wi = k < m ? -sin[k] : 0; // e^{-2 pi i k / n}
      outRe[offset + k] = er + wr * or - wi * oi;
      outIm[offset + k] = ei + wr * oi + wi * or;
    }
  }

  /**
   * n real samples of a spectrum's bins 0 .. n/2 (the imaginary parts of bins 0 and n/2 are
   * ignored, as numpy's irfft does), scaled by 1/n.
   */
  inverse(inRe, inIm, out, offset = 0) {
    const {m, re, im, cos, sin, bitReverse} = this;
    for (let k = 0; k < m; k++) {
      const xr = inRe[offset + k], xi = k === 0 ? 0 : inIm[offset + k];
      const yr = inRe[offset + m - k], yi = k === 0 ? 0 : -inIm[offset + m - k]; // conj(X[m - k])
      const er = (xr + yr) / 2, ei = (xi + yi) / 2;
      const dr = (xr - yr) / 2, di = (xi - yi) / 2;
      const wr = cos[k], wi = sin[k]; // e^{+2 pi i k / n}
      const or = dr * wr - di * wi, oi = dr * wi + di * wr;
      const j = bitReverse[k];
      re[j] = er - oi; // E + i O
      im[j] = ei + or;
    }
    this._complex(true);
    for (let i = 0; i < m; i++) {
      out[2 * i] = re[i] / m;
      out[2 * i + 1] = im[i] / m;
    }
  }
}
