/**
 * Spectrograms for the eye: one column per pixel, each the magnitude spectrum of one Hann-windowed
 * frame of the mono down-mix at that column's time, in dB on a log-frequency axis. The cost and
 * memory are the canvas's, whatever the recording's length.
 */

import {RealFft} from './fft.js';
import {hannWindow} from './signal.js';

const N_FFT = 2048;
const DB_RANGE = 90; // from -90 dBFS (dark) to 0 dBFS (bright)
const fft = new RealFft(N_FFT);
const window = hannWindow(N_FFT);

/** 256 dark-to-bright colours, RGB: index 0 is -DB_RANGE dBFS, 255 is 0 dBFS. */
const PALETTE = new Uint8Array(3 * 256);
for (let i = 0; i < 256; i++) {
  const v = i / 255;
  PALETTE[3 * i] = Math.min(255, Math.round(255 * Math.min(1, 1.6 * v)));
  PALETTE[3 * i + 1] = Math.round(255 * Math.max(0, Math.min(1, 2 * v - 0.6)));
  PALETTE[3 * i + 2] = Math.round(255 * Math.max(0, 0.5 - Math.abs(v - 0.3)) * 1.4 + 40 * (1 - v));
}

/**
 * A spectrogram drawn column by column as its samples arrive (a stem while it is separated).
 */
export class Spectrogram {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {Float32Array[]} channels the samples, filled in from the front.
   * @param {number} sampleRate
   */
  constructor(canvas, channels, sampleRate) {
    const {width, height} = canvas;
    this.canvas = canvas;
    this.channels = channels;
    this.context = canvas.getContext('2d');
    this.image = this.context.createImageData(width, height);
    this.frame = new Float64Array(N_FFT);
    this.re = new Float64Array(N_FFT / 2 + 1);
    this.im = new Float64Array(N_FFT / 2 + 1);
    const low = 40, high = Math.min(16000, sampleRate / 2);
    this.binOfRow = Array.from({length: height}, (_, y) => {
      const hz = low * (high / low) ** ((height - 1 - y) / (height - 1));
      return Math.min(N_FFT / 2, Math.round((hz * N_FFT) / sampleRate));
    });
    this.columns = 0; // drawn
  }

  /** Draws the columns whose frames lie within the first `available` samples. */
  draw(available) {
    const {width} = this.canvas;
    const length = this.channels[0].length;
    const first = this.columns;
    while (this.columns < width) {
      const centre = Math.floor(((this.columns + 0.5) / width) * length);
      if (available < length && centre + N_FFT / 2 > available) break;
      this._column(this.columns++, centre);
    }
    if (this.columns > first) this.context.putImageData(this.image, 0, 0, first, 0, this.columns - first, this.canvas.height);
  }

  _column(x, centre) {
    const {channels, frame, re, im, binOfRow, image} = this;
    const {width, height} = this.canvas;
    const length = channels[0].length;
    for (let i = 0; i < N_FFT; i++) {
      const t = centre - N_FFT / 2 + i;
      let s = 0;
      if (t >= 0 && t < length) for (let c = 0; c < channels.length; c++) s += channels[c][t];
      frame[i] = (s / channels.length) * window[i];
    }
    fft.forward(frame, re, im);
    for (let y = 0; y < height; y++) {
      const k = binOfRow[y];
      // dB of full scale: a full-scale sine's bin is half the window's sum.
      const db = 20 * Math.log10((2 * Math.hypot(re[k], im[k])) / (N_FFT / 2) + 1e-12);
      const c = 3 * Math.round(255 * Math.max(0, Math.min(1, (db + DB_RANGE) / DB_RANGE)));
      const at = 4 * (y * width + x);
      image.data[at] = PALETTE[c];
      image.data[at + 1] = PALETTE[c + 1];
      image.data[at + 2] = PALETTE[c + 2];
      image.data[at + 3] = 255;
    }
  }
}

/**
 * Draws the spectrogram of planar samples into a canvas.
 *
 * @param {HTMLCanvasElement} canvas
 * @param {Float32Array[]} channels
 * @param {number} sampleRate
 */
export function drawSpectrogram(canvas, channels, sampleRate) {
  new Spectrogram(canvas, channels, sampleRate).draw(channels[0].length);
}
