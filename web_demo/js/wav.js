/**
 * WAV files: the truncation check every entry point shares (the twin of
 * keras_sa/audio/headers.py), a decoder for the PCM and float encodings (the samples libsndfile
 * gives), and the 32-bit float writer of the downloads.
 */

/** data sizes that mean "unknown: up to the end of the file" (written by programs into a pipe). */
const UNKNOWN_DATA_SIZES = [0, 0xffffffff];
const MAX_CHUNKS = 4096;
const FRAME_TAGS = [0x0001, 0x0003, 0x0006, 0x0007, 0xfffe];
const AIFC_SAMPLE_BYTES = {NONE: 0, twos: 0, sowt: 0, 'raw ': 0, in24: 3, in32: 4, fl32: 4, FL32: 4, fl64: 8, FL64: 8,
  ulaw: 1, ULAW: 1, alaw: 1, ALAW: 1};

/** The one-line reason for a truncated input, word for word as the Python package and the Java core give it. */
export function truncationReason(declaredSeconds, heldSeconds) {
  return `truncated: header declares ${declaredSeconds.toFixed(2)} s of audio, the file holds ${heldSeconds.toFixed(2)} s`;
}

export const PARTIAL_FRAME_REASON = 'truncated (it ends inside a sample frame)';

const tag = (bytes, at) => String.fromCharCode(...bytes.subarray(at, at + 4));

function* chunks(view, littleEndian, size = view.byteLength) {
  let position = 12;
  // Only what was read of the file is looked at (its head); size is the whole file's.
  for (let i = 0; i < MAX_CHUNKS && position + 8 <= Math.min(size, view.byteLength); i++) {
    const length = view.getUint32(position + 4, littleEndian);
    yield {id: tag(new Uint8Array(view.buffer, view.byteOffset), position), offset: position + 8, length};
    position += 8 + length + (length & 1);
  }
}

/**
 * Why a WAV or AIFF file's header and contents disagree, or null (also for other formats and for
 * headers too odd to judge, which the decoder then reads or refuses).
 *
 * @param {Uint8Array} bytes the file, or its head (the first megabyte holds the headers).
 * @param {number} size the whole file's size in bytes.
 */
export function truncation(bytes, size = bytes.length) {
  if (bytes.length < 12) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const riff = tag(bytes, 0);
  if ((riff === 'RIFF' || riff === 'RF64') && tag(bytes, 8) === 'WAVE') return wavTruncation(view, riff === 'RF64', size);
  if (riff === 'FORM' && ['AIFF', 'AIFC'].includes(tag(bytes, 8))) return aiffTruncation(view, size);
  return null;
}

function wavTruncation(view, rf64, size) {
  let fmt = null, rf64DataSize = null, data = null;
  for (const chunk of chunks(view, true, size)) {
    if (chunk.id === 'fmt ' && chunk.length >= 16 && chunk.offset + 16 <= view.byteLength) {
      fmt = {tag: view.getUint16(chunk.offset, true), rate: view.getUint32(chunk.offset + 4, true),
        byteRate: view.getUint32(chunk.offset + 8, true), blockAlign: view.getUint16(chunk.offset + 12, true)};
    } else if (chunk.id === 'ds64' && chunk.length >= 16 && chunk.offset + 16 <= view.byteLength) {
      rf64DataSize = Number(view.getBigUint64(chunk.offset + 8, true));
    } else if (chunk.id === 'data') {
      data = chunk;
      break;
    }
  }
  if (!data || !fmt) return null;
  let length = data.length;
  const held = size - data.offset;
  const framed = FRAME_TAGS.includes(fmt.tag) && fmt.blockAlign;
  if (rf64 && length === 0xffffffff && rf64DataSize !== null) {
    length = rf64DataSize;
  } else if (UNKNOWN_DATA_SIZES.includes(length)) {
    return framed && held % fmt.blockAlign ? PARTIAL_FRAME_REASON : null;
  }
  if (framed && fmt.rate) {
    // Whole frames, as every reader decodes them (a missing partial last frame loses no audio).
    const declared = Math.floor(length / fmt.blockAlign), present = Math.floor(held / fmt.blockAlign);
    return declared <= present ? null : truncationReason(declared / fmt.rate, present / fmt.rate);
  }
  if (length <= held) return null;
  return fmt.byteRate ? truncationReason(length / fmt.byteRate, held / fmt.byteRate) : null;
}

function aiffTruncation(view, size) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let comm = null, ssnd = null;
  for (const chunk of chunks(view, false, size)) {
    if (chunk.id === 'COMM' && chunk.length >= 18) comm = chunk;
    else if (chunk.id === 'SSND' && chunk.length >= 8) ssnd = chunk;
  }
  if (!comm || !ssnd || comm.offset + 18 > view.byteLength || ssnd.offset + 4 > view.byteLength) return null;
  const channels = view.getUint16(comm.offset, false);
  const frames = view.getUint32(comm.offset + 2, false);
  const bits = view.getUint16(comm.offset + 6, false);
  const rate = extended(view, comm.offset + 8);
  const compression = comm.length >= 22 && comm.offset + 22 <= view.byteLength ? tag(bytes, comm.offset + 18) : 'NONE';
  const sampleBytes = AIFC_SAMPLE_BYTES[compression.replace(/\0/g, '') ? compression : 'NONE'];
  if (sampleBytes === undefined || !channels || !bits || !(rate > 0 && rate < 1e9)) return null;
  const frameBytes = channels * (sampleBytes || Math.ceil(bits / 8));
  const start = ssnd.offset + 8 + view.getUint32(ssnd.offset, false);
  const held = Math.floor(Math.max(0, Math.min(ssnd.offset + ssnd.length, size) - start) / frameBytes);
  return frames <= held ? null : truncationReason(frames / rate, held / rate);
}

/** An IEEE 754 80-bit extended float (AIFF's sample rate); 0 when it is out of range. */
function extended(view, at) {
  let exponent = view.getUint16(at, false);
  const mantissa = Number(view.getBigUint64(at + 2, false));
  const sign = exponent & 0x8000 ? -1 : 1;
  exponent &= 0x7fff;
  if (exponent === 0 || exponent === 0x7fff) return 0;
  return sign * mantissa * 2 ** (exponent - 16383 - 63);
}

/** A WAV file this decoder cannot read. */
export class WavError extends Error {}

/**
 * Decodes a PCM (8, 16, 24, 32-bit) or IEEE float (32, 64-bit) WAV file, WAVE_FORMAT_EXTENSIBLE
 * too, into float32 samples as libsndfile scales them (integers divided by 2^(bits - 1)).
 *
 * @param {Uint8Array} bytes the whole file (checked with truncation() first).
 * @returns {{sampleRate: number, channels: Float32Array[]}}
 */
export function decodeWav(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || tag(bytes, 0) !== 'RIFF' || tag(bytes, 8) !== 'WAVE') throw new WavError('not a RIFF WAVE file');
  let fmt = null, data = null;
  for (const chunk of chunks(view, true)) {
    if (chunk.id === 'fmt ' && chunk.length >= 16) {
      let format = view.getUint16(chunk.offset, true);
      if (format === 0xfffe && chunk.length >= 40) format = view.getUint16(chunk.offset + 24, true);
      fmt = {format, channels: view.getUint16(chunk.offset + 2, true), rate: view.getUint32(chunk.offset + 4, true),
        blockAlign: view.getUint16(chunk.offset + 12, true), bits: view.getUint16(chunk.offset + 14, true)};
    } else if (chunk.id === 'data') {
      data = chunk;
      break;
    }
  }
  if (!fmt || !data) throw new WavError('no fmt or data chunk');
  const {format, channels, rate, bits, blockAlign} = fmt;
  const width = bits / 8;
  const known = (format === 1 && [8, 16, 24, 32].includes(bits)) || (format === 3 && [32, 64].includes(bits));
  if (!known || !channels || !rate || blockAlign !== width * channels) throw new WavError(`unsupported WAV encoding (format ${format}, ${bits} bits)`);
  const available = view.byteLength - data.offset;
  const size = UNKNOWN_DATA_SIZES.includes(data.length) ? available : Math.min(data.length, available);
  const frames = Math.floor(size / blockAlign);
  const out = Array.from({length: channels}, () => new Float32Array(frames));
  const read = format === 3
    ? (bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true))
    : {8: (at) => (view.getUint8(at) - 128) / 128,
      16: (at) => view.getInt16(at, true) / 32768,
      24: (at) => ((view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16))) / 8388608,
      32: (at) => view.getInt32(at, true) / 2147483648}[bits];
  for (let i = 0, at = data.offset; i < frames; i++) {
    for (let c = 0; c < channels; c++, at += width) out[c][i] = read(at);
  }
  return {sampleRate: rate, channels: out};
}

/**
 * The 44-byte header of a 32-bit float WAV file.
 *
 * @param {number} channels channel count.
 * @param {number} sampleRate rate in Hz.
 * @param {number} frames samples per channel.
 * @returns {ArrayBuffer}
 */
export function wavHeader(channels, sampleRate, frames) {
  const dataBytes = frames * channels * 4;
  const view = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 3, true); // IEEE float
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * channels * 4, true);
  view.setUint16(32, channels * 4, true);
  view.setUint16(34, 32, true);
  text(36, 'data');
  view.setUint32(40, dataBytes, true);
  return view.buffer;
}

/** Planar samples interleaved frame by frame, the layout of a WAV file's data (little-endian float32). */
export function interleave(channels) {
  const count = channels.length;
  const frames = channels[0].length;
  const out = new Float32Array(frames * count);
  for (let c = 0; c < count; c++) {
    const samples = channels[c];
    for (let i = 0; i < frames; i++) out[i * count + c] = samples[i];
  }
  return out;
}

/**
 * A 32-bit float WAV file of planar samples.
 *
 * @param {Float32Array[]} channels one array per channel, all of one length.
 * @param {number} sampleRate their rate in Hz.
 * @returns {ArrayBuffer}
 */
export function encodeWav(channels, sampleRate) {
  const header = wavHeader(channels.length, sampleRate, channels[0].length);
  const data = interleave(channels);
  const out = new Uint8Array(44 + data.byteLength);
  out.set(new Uint8Array(header));
  out.set(new Uint8Array(data.buffer), 44);
  return out.buffer;
}
