/**
 * The model's audio contract: the JSON file written beside each .tflite model by
 * keras_sa.export.tflite, read as the Java core's AudioContract reads it.
 *
 * A contract of another format, version or convention is refused (ContractError) rather than
 * silently misread.
 */

export const FORMAT = 'keras_sa.tflite';
export const VERSION = 1;

/** A contract that cannot be used: malformed, of another format or version, or inconsistent. */
export class ContractError extends Error {}

/**
 * The signal settings between samples and the model (Python's SignalConfig).
 */
export class SignalConfig {
  /** @param {object} s the contract's "signal" object. */
  constructor(s) {
    for (const key of ['sample_rate', 'n_fft', 'hop_length', 'n_bins', 'patch_frames', 'window_hop']) {
      if (!Number.isInteger(s[key]) || s[key] <= 0) throw new ContractError(`signal.${key} must be a positive integer`);
    }
    this.sampleRate = s.sample_rate;
    this.nFft = s.n_fft;
    this.hopLength = s.hop_length;
    this.nBins = s.n_bins;
    this.patchFrames = s.patch_frames;
    this.windowHop = s.window_hop;
    const spare = this.patchFrames - this.windowHop;
    // Contracts from before window_margin existed centre their windows.
    this.windowMargin = s.window_margin ?? spare / 2;
    this.compression = s.compression;
    this.compressionStrength = s.compression_strength;
    this.sources = [...s.sources];
    if (this.nFft & (this.nFft - 1)) throw new ContractError(`n_fft ${this.nFft} is not a power of two`);
    if (this.nBins > this.nFft / 2 + 1) throw new ContractError(`n_bins ${this.nBins} exceeds n_fft / 2 + 1`);
    if (spare < 0) throw new ContractError('window_hop exceeds patch_frames');
    if (!Number.isInteger(this.windowMargin) || this.windowMargin < 0 || this.windowMargin > spare) {
      throw new ContractError(`window_margin must be an integer in [0, ${spare}]`);
    }
    if (this.compression !== 'none' && this.compression !== 'log') {
      throw new ContractError(`unknown compression ${JSON.stringify(this.compression)}`);
    }
    for (const source of ['vocals', 'accompaniment']) {
      if (!this.sources.includes(source)) throw new ContractError(`the model has no '${source}' mask`);
    }
  }

  /** Bins of a full spectrum, n_fft / 2 + 1. */
  get spectrumBins() {
    return this.nFft / 2 + 1;
  }

  /** Frames of each window after the ones it keeps. */
  get windowLookAhead() {
    return this.patchFrames - this.windowHop - this.windowMargin;
  }

  /** Frames of the centred STFT of n samples. */
  numFrames(n) {
    return 1 + Math.floor(n / this.hopLength);
  }
}

/**
 * Parses and checks a contract.
 *
 * @param {object} json the parsed .json file.
 * @returns {{quantization: string, modelName: string, modelSha256: (string|null), signal: SignalConfig, input: object, output: object, json: object}}
 */
export function parseContract(json) {
  if (!json || typeof json !== 'object') throw new ContractError('the contract is not a JSON object');
  if (json.format !== FORMAT) throw new ContractError(`not a keras_sa TFLite contract (format ${JSON.stringify(json.format)})`);
  if (json.version !== VERSION) throw new ContractError(`contract version ${json.version} is not supported (this page reads version ${VERSION})`);
  if (!json.signal || !json.stft || !json.masks || !json.input || !json.output) {
    throw new ContractError('the contract lacks signal, stft, masks, input or output');
  }
  if (json.model_sha256 !== undefined && !(typeof json.model_sha256 === 'string' && /^[0-9a-f]{64}$/.test(json.model_sha256))) {
    throw new ContractError('model_sha256 must be 64 lowercase hexadecimal digits');
  }
  const signal = new SignalConfig(json.signal);
  if (!String(json.stft.window).startsWith('hann, periodic')) throw new ContractError(`STFT window ${json.stft.window} is not supported (periodic Hann)`);
  if (json.stft.center !== true) throw new ContractError('uncentred STFT frames are not supported');
  if (json.masks.sources && json.masks.sources.join() !== signal.sources.join()) {
    throw new ContractError('masks.sources differ from signal.sources');
  }
  const expectIn = [1, signal.patchFrames, signal.nBins, 1];
  const expectOut = [1, signal.patchFrames, signal.nBins, signal.sources.length];
  if (json.input.shape.join() !== expectIn.join()) throw new ContractError(`input shape [${json.input.shape}], the signal settings need [${expectIn}]`);
  if (json.output.shape.join() !== expectOut.join()) throw new ContractError(`output shape [${json.output.shape}], the signal settings need [${expectOut}]`);
  return {
    quantization: json.quantization,
    modelName: json.model?.name ?? 'model',
    modelSha256: json.model_sha256 ?? null,
    signal,
    input: json.input,
    output: json.output,
    json,
  };
}

/**
 * Checks a model file's bytes against the SHA-256 its contract records (nothing to check for a
 * contract without one). A model damaged inside its weights still loads and runs, giving wrong
 * stems, so this comes before the model is created.
 *
 * @param {ArrayBuffer|Uint8Array} bytes the .tflite file.
 * @param {{modelSha256: (string|null)}} contract its parsed contract.
 * @param {string} fileName the file, named in the error.
 * @throws {ContractError} the digests differ.
 */
export async function verifyModel(bytes, contract, fileName) {
  if (!contract.modelSha256) return;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== contract.modelSha256) {
    throw new ContractError(`${fileName}: the model file does not match its contract (SHA-256 differs: corrupt or replaced)`);
  }
}

/**
 * The stored integer of a value under an affine int8 quantization (Python's predictors._quantize):
 * divide in float, round half to even, add the zero point, clip to the type's range.
 */
export function quantize(value, spec) {
  const x = Math.fround(value / spec.scale);
  let r = Math.round(x);
  if (Math.abs(x % 1) === 0.5) r = 2 * Math.round(x / 2); // half to even
  const q = r + spec.zero_point;
  const [lo, hi] = spec.dtype === 'uint8' ? [0, 255] : [-128, 127];
  return Number.isNaN(q) ? lo : Math.min(Math.max(q, lo), hi);
}

/** The real value of a stored integer: (q - zero_point) * scale, in float32. */
export function dequantize(stored, spec) {
  return Math.fround((stored - spec.zero_point) * Math.fround(spec.scale));
}
