/**
 * A dot product of float32 arrays in WebAssembly SIMD (f32x4), for the resampler's filters,
 * which are most of the signal chain's arithmetic (about 30 M multiply-adds per second of
 * stereo 44.1 kHz audio). The module is tiny, so it is assembled here from its bytecode rather
 * than shipped as a binary file. In WebAssembly text:
 *
 *   (func (export "dot") (param $t i32) (param $x i32) (param $n i32) (result f32)
 *     (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $s f32)
 *     ;; while n >= 16: a += t[0:4] * x[0:4]; b += t[4:8] * x[4:8]; c += ...; d += ...;
 *     ;;   t += 64; x += 64; n -= 16     (four sums: the additions of one would wait on each other)
 *     ;; s = lanes of (a + b) + (c + d) summed; then while n > 0: s += t[0] * x[0]; t += 4; x += 4; n -= 1
 *     local.get $s)
 *
 *   (func (export "run") (param $taps $width $up $down $phase $x $out $count i32)
 *     ;; the resampler's outputs: out[i] = dot(taps + phase * width * 4, x, width); then
 *     ;; phase += down; x += 4 * (phase / up); phase %= up   (count times)
 *
 * Sums are float32 in sixteen lanes: within about 1e-6 of a double-precision sum of the same
 * products, far below the 120 dB filter's own error.
 */

const leb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
// Signed LEB128, for i32.const (small non-negative values only: 64 and up need a second byte).
const sleb = (n) => (n < 64 ? [n] : [(n & 0x7f) | 0x80, ...sleb(n >> 7)]);
const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
const name = (s) => [s.length, ...[...s].map((c) => c.charCodeAt(0))];

const [T, X, N, A, B, C, D, S] = [0, 1, 2, 3, 4, 5, 6, 7];
const get = (i) => [0x20, i];
const set = (i) => [0x21, i];
const simd = (op) => [0xfd, ...leb(op)];
const V128_LOAD = (offset) => [...simd(0x00), 4, offset];
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const LANE = (l) => [...simd(0x1f), l];
const F32_LOAD = [0x2a, 2, 0];
const add = (local, by) => [...get(local), 0x41, ...sleb(by), 0x6a, ...set(local)];
const sub = (local, by) => [...get(local), 0x41, ...sleb(by), 0x6b, ...set(local)];

const madd = (acc, offset) => [...get(acc), ...get(T), ...V128_LOAD(offset), ...get(X), ...V128_LOAD(offset), ...F32X4_MUL,
  ...F32X4_ADD, ...set(acc)];

const body = [
  2, 4, 0x7b, 1, 0x7d, // locals: 4 x v128, 1 x f32
  0x02, 0x40, 0x03, 0x40, // block, loop
  ...get(N), 0x41, ...sleb(16), 0x48, 0x0d, 1, // n < 16: out
  ...madd(A, 0), ...madd(B, 16), ...madd(C, 32), ...madd(D, 48),
  ...add(T, 64), ...add(X, 64), ...sub(N, 16),
  0x0c, 0, 0x0b, 0x0b, // br loop, end, end
  ...get(A), ...get(B), ...F32X4_ADD, ...get(C), ...get(D), ...F32X4_ADD, ...F32X4_ADD, ...set(A),
  ...get(A), ...LANE(0), ...get(A), ...LANE(1), 0x92,
  ...get(A), ...LANE(2), ...get(A), ...LANE(3), 0x92, 0x92, ...set(S),
  0x02, 0x40, 0x03, 0x40,
  ...get(N), 0x45, 0x0d, 1, // n == 0: out
  ...get(S), ...get(T), ...F32_LOAD, ...get(X), ...F32_LOAD, 0x94, 0x92, ...set(S),
  ...add(T, 4), ...add(X, 4), ...sub(N, 1),
  0x0c, 0, 0x0b, 0x0b,
  ...get(S), 0x0b,
];

// run's parameters
const [TAPS, WIDTH, UP, DOWN, PHASE, XP, OUT, COUNT] = [0, 1, 2, 3, 4, 5, 6, 7];
const run = [
  0, // no locals
  0x02, 0x40, 0x03, 0x40,
  ...get(COUNT), 0x45, 0x0d, 1, // count == 0: out
  ...get(OUT),
  ...get(TAPS), ...get(PHASE), ...get(WIDTH), 0x6c, 0x41, 4, 0x6c, 0x6a, // taps + phase * width * 4
  ...get(XP), ...get(WIDTH), 0x10, 0, // call dot
  0x38, 2, 0, // f32.store
  ...add(OUT, 4),
  ...get(PHASE), ...get(DOWN), 0x6a, ...set(PHASE),
  ...get(XP), ...get(PHASE), ...get(UP), 0x6e, 0x41, 4, 0x6c, 0x6a, ...set(XP), // x += 4 * (phase / up)
  ...get(PHASE), ...get(UP), 0x70, ...set(PHASE), // phase %= up
  ...sub(COUNT, 1),
  0x0c, 0, 0x0b, 0x0b,
  0x0b,
];

const bytes = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [2, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7d, 0x60, 8, ...Array(8).fill(0x7f), 0]), // dot, run
  ...section(3, [2, 0, 1]),
  ...section(5, [1, 0, 1]), // one memory, one page to start with
  ...section(7, [3, ...name('memory'), 2, 0, ...name('dot'), 0, 0, ...name('run'), 0, 1]),
  ...section(10, [2, ...leb(body.length), ...body, ...leb(run.length), ...run]),
]);

/**
 * The SIMD dot product with a bump allocator over its memory, or null where WebAssembly SIMD is
 * unavailable (the resampler then uses plain JavaScript).
 */
export function loadSimd() {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    return new SimdMemory(instance.exports);
  } catch {
    return null;
  }
}

class SimdMemory {
  constructor({memory, dot, run}) {
    this.memory = memory;
    this.dot = dot;
    this.run = run;
    this.used = 0; // bytes of permanent allocations (filter taps)
    this.floats = new Float32Array(memory.buffer);
  }

  _ensure(bytes) {
    const missing = bytes - this.memory.buffer.byteLength;
    if (missing > 0) {
      this.memory.grow(Math.ceil(missing / 65536));
      this.floats = new Float32Array(this.memory.buffer);
    }
  }

  /** Copies a permanent array in; returns its byte offset. */
  keep(values) {
    const at = this.used;
    this._ensure(at + values.length * 4);
    this.floats.set(values, at / 4);
    this.used += values.length * 4;
    return at;
  }

  /**
   * Copies a temporary array in, after the permanent ones, with room for `extra` more floats
   * behind it (valid until the next call); returns its byte offset.
   */
  scratch(values, extra = 0) {
    this._ensure(this.used + (values.length + extra) * 4);
    this.floats.set(values, this.used / 4);
    return this.used;
  }

  /**
   * Resampler outputs: count dot products of width taps, the taps' phase and the input moving
   * as a polyphase filter's do (see the module comment). Returns a copy of the outputs.
   */
  resample(tapsAt, width, up, down, phase, input, inputStart, count) {
    const at = this.scratch(input, count);
    const out = at + input.length * 4;
    this.run(tapsAt, width, up, down, phase, at + 4 * inputStart, out, count);
    return this.floats.slice(out / 4, out / 4 + count);
  }
}
