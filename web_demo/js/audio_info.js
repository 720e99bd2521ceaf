/**
 * The sample rate a compressed or PCM file declares, read from its first bytes, so that the
 * browser decodes it at that rate (the stems then have the input's own rate, as in Python).
 * WAV, AIFF, FLAC, MP3 and Ogg (Vorbis, Opus) are read; for anything else null, and the page
 * decodes at its audio context's rate.
 */

const MP3_RATES = [[44100, 48000, 32000], [22050, 24000, 16000], [11025, 12000, 8000]]; // MPEG 1, 2, 2.5

/** @param {Uint8Array} b the file's head (a few kilobytes; ID3 tags may need more). */
export function declaredSampleRate(b) {
  const text = (at, n) => String.fromCharCode(...b.subarray(at, at + n));
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 12) return null;
  if (text(0, 4) === 'RIFF' && text(8, 4) === 'WAVE') {
    for (let at = 12; at + 16 <= b.length;) {
      const size = view.getUint32(at + 4, true);
      if (text(at, 4) === 'fmt ') return view.getUint32(at + 12, true) || null;
      at += 8 + size + (size & 1);
    }
    return null;
  }
  if (text(0, 4) === 'fLaC' && b.length >= 21) return (b[18] << 12) | (b[19] << 4) | (b[20] >> 4) || null;
  if (text(0, 4) === 'OggS' && b.length >= 28 + 19) {
    const body = 27 + b[26]; // after the segment table
    if (text(body, 7) === '\x01vorbis') return view.getUint32(body + 12, true) || null;
    if (text(body, 8) === 'OpusHead') return 48000; // Opus always decodes at 48 kHz
    return null;
  }
  let at = 0;
  if (text(0, 3) === 'ID3' && b.length >= 10) at = 10 + ((b[6] << 21) | (b[7] << 14) | (b[8] << 7) | b[9]);
  // The first MPEG audio frame header: 11 sync bits, then version, layer and rate index.
  for (const end = Math.min(b.length - 4, at + 65536); at < end; at++) {
    if (b[at] !== 0xff || (b[at + 1] & 0xe0) !== 0xe0) continue;
    const version = (b[at + 1] >> 3) & 3; // 3: MPEG 1, 2: MPEG 2, 0: MPEG 2.5
    const layer = (b[at + 1] >> 1) & 3;
    const rate = (b[at + 2] >> 2) & 3;
    if (version === 1 || layer === 0 || rate === 3 || (b[at + 2] >> 4) === 15) continue;
    return MP3_RATES[{3: 0, 2: 1, 0: 2}[version]][rate];
  }
  return null;
}
