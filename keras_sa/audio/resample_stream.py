"""Streaming resamplers with a bounded hold-back, for the streaming separator.

soxr is fast and exact, but it filters in blocks: a stream holds back up to
a block before it emits, and the block is a fixed count of samples at the
*lower* rate. At 44.1 kHz <-> 16 kHz that is 40-58 ms; at 8 kHz it is
116 ms each way, and 96 kHz <-> 16 kHz costs 167 ms for the round trip.
Those would take the bundled models' streaming latency past 1 s, so
:func:`open_resampler` picks, per rate pair:

- **either rate below 16 kHz**: libsamplerate's ``sinc_medium`` converter
  (the ``samplerate`` package), which emits each output sample as soon as
  its filter has the input: 6 ms of hold-back at 8 kHz. It costs several
  times soxr's CPU, little at such low rates, and agrees with soxr's VHQ
  output to 86 dB on band-limited noise;
- **otherwise**: soxr at 'HQ' (as :func:`keras_sa.audio.resample`), either
  one stream or a chain through exact halvings of the higher rate, whichever
  holds back least (96 kHz -> 48 kHz -> 16 kHz: 56 ms instead of 79).

Each resampler's output is the same however its input is cut into chunks,
is time-aligned with its input (no leading delay to remove), and has
``round(n * out_rate / in_rate)`` samples for ``n`` in (a chain rounds at
each stage, so it may differ by one sample; the separator cuts or pads its
output to the input's length in any case).
"""

import functools
import itertools

import numpy as np

from keras_sa.audio.io import SOXR_QUALITY

SINC_CONVERTER = "sinc_medium"
SINC_BELOW = 16000  # Hz: a lower rate goes through libsamplerate
HALVE_ABOVE = 48000  # Hz: a higher rate may go through its exact halvings
MAX_RATIO = 256  # libsamplerate's limit, applied to every pair for one answer


def check_rates(in_rate, out_rate):
    """Raises ValueError, in one line, for a rate pair the streaming resamplers cannot convert.

    Args:
        in_rate, out_rate: rates in Hz.
    """
    if not (in_rate > 0 and out_rate > 0 and 1 / MAX_RATIO <= in_rate / out_rate <= MAX_RATIO):
        raise ValueError(
            f"{in_rate} Hz cannot be resampled to {out_rate} Hz (the rates may differ by a factor of {MAX_RATIO} at most)"
        )


def open_resampler(in_rate, out_rate):
    """A mono streaming resampler from ``in_rate`` to ``out_rate`` (Hz).

    Returns:
        An object with ``resample_chunk(samples, last=False)``, which takes
        1-D float32 samples and returns the output samples they finish
        (all of the rest when ``last``), as ``soxr.ResampleStream`` does.

    Raises:
        ValueError: the rates differ by more than :data:`MAX_RATIO`.
    """
    check_rates(in_rate, out_rate)
    if min(in_rate, out_rate) < SINC_BELOW:
        return _SincStream(in_rate, out_rate)
    rates = _soxr_path(in_rate, out_rate)
    stages = [_soxr_stream(a, b) for a, b in zip(rates, rates[1:])]
    return stages[0] if len(stages) == 1 else _Chain(stages)


def _soxr_stream(in_rate, out_rate):
    import soxr

    return soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=SOXR_QUALITY)


@functools.lru_cache(maxsize=None)
def _soxr_path(in_rate, out_rate):
    """The rates of the soxr chain that holds back the least time.

    The candidates are the direct stream and the chains through any of the
    exact halvings of the higher rate that stay above 48 kHz or reach it
    (at most a few: 192 kHz has 96 and 48 kHz).
    """
    high, low = max(in_rate, out_rate), min(in_rate, out_rate)
    halvings = []
    rate = high
    while rate > HALVE_ABOVE and rate % 2 == 0 and rate // 2 > low:
        rate //= 2
        halvings.append(rate)
    candidates = [
        [high, *middle, low]
        for count in range(len(halvings) + 1)
        for middle in itertools.combinations(halvings, count)
    ]
    if in_rate < out_rate:
        candidates = [path[::-1] for path in candidates]

    def seconds(path):
        return sum(_soxr_lag(a, b) / a for a, b in zip(path, path[1:]))

    return tuple(min(candidates, key=seconds))


@functools.lru_cache(maxsize=None)
def _soxr_lag(in_rate, out_rate):
    return _stream_lag(_soxr_stream(in_rate, out_rate), in_rate, out_rate)


@functools.lru_cache(maxsize=None)
def resampler_lag(in_rate, out_rate):
    """Most input samples :func:`open_resampler`'s stream holds back, whatever the chunk sizes.

    A soxr chain's lag is the sum of its stages' lags (each measured by
    :func:`_stream_lag`), counted in the chain's input samples.

    Args:
        in_rate, out_rate: the stream's rates in Hz.

    Returns:
        The bound, in input samples (a float).
    """
    check_rates(in_rate, out_rate)
    if min(in_rate, out_rate) < SINC_BELOW:
        return _stream_lag(_SincStream(in_rate, out_rate), in_rate, out_rate)
    rates = _soxr_path(in_rate, out_rate)
    return sum(_soxr_lag(a, b) * in_rate / a for a, b in zip(rates, rates[1:]))


def _stream_lag(stream, in_rate, out_rate):
    """Most input samples a fresh ``stream`` holds back.

    A stream gives its output in blocks (soxr) or sample by sample once its
    filter is full (libsamplerate). Fed one sample at a time, the lag peaks
    just before each emission and repeats with each block; between blocks
    the peak moves by less than one output sample (the phase of the rate
    ratio), so the highest peak of the first eight emissions plus one output
    sample bounds every later one. Larger chunks let a stream process as
    far or further (``tests/test_streaming.py`` checks the bound for several
    chunkings).
    """
    one = np.zeros(1, np.float32)
    ratio = in_rate / out_rate
    fed = emitted = blocks = 0
    worst = 0.0
    while blocks < 8:
        fed += 1
        count = len(stream.resample_chunk(one))
        if count:
            worst = max(worst, (fed - 1) - emitted * ratio)
            emitted += count
            blocks += 1
    return worst + ratio


class _Chain:
    """soxr stages one after the other."""

    def __init__(self, stages):
        self.stages = stages

    def resample_chunk(self, samples, last=False):
        for stage in self.stages:
            samples = stage.resample_chunk(samples, last=last)
        return samples


class _SincStream:
    """libsamplerate's sinc converter, with soxr's output length.

    libsamplerate stops short of the input's end: it never pads the signal
    to finish the last output samples. At the end this feeds zeros, a
    filter's length and more, and cuts the output to
    ``round(n * out_rate / in_rate)``.
    """

    def __init__(self, in_rate, out_rate):
        import samplerate

        self._in, self._out = in_rate, out_rate
        self._ratio = out_rate / in_rate
        self._converter = samplerate.Resampler(SINC_CONVERTER, channels=1)
        self._received = self._emitted = 0
        # sinc_medium's filter reaches about 50 input samples to each side
        # at any ratio; the flush feeds well over that.
        self._flush = max(256, int(256 / self._ratio))

    def resample_chunk(self, samples, last=False):
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        self._received += len(samples)
        out = self._converter.process(samples, self._ratio, end_of_input=False)
        if last:
            tail = self._converter.process(np.zeros(self._flush, np.float32), self._ratio, end_of_input=True)
            out = np.concatenate([out, tail])
            total = (2 * self._received * self._out + self._in) // (2 * self._in)
            out = out[: max(0, total - self._emitted)]
        self._emitted += len(out)
        return out
