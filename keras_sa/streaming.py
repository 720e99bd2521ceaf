"""Streaming separation: audio in pieces of any size, stems out as soon as they are final.

:class:`StreamingSeparator` is the one definition of how a recording is
separated: :meth:`keras_sa.separation.Separator.separate` is this stream fed
the whole input. Every stage keeps only the state it needs to continue, so
memory does not grow with the stream's length, and every stage gives the
same samples however the input is cut into chunks.

The stages, for an input at rate ``r`` with ``C`` channels and a model whose
:class:`keras_sa.audio.signal.SignalConfig` has rate ``R``, ``n_fft`` ``N``,
hop ``H``, ``patch_frames`` ``P``, ``window_hop`` ``W``, ``window_margin``
``M`` and ``window_look_ahead = P - W - M`` (``A``):

1. **Input delay line.** Each chunk is kept until its stems leave, so that
   ``accompaniment = input - vocals`` exactly, sample for sample.
2. **Resampling to the model rate** (skipped when ``r == R``): one
   :func:`keras_sa.audio.resample_stream.open_resampler` stream per channel
   (soxr 'HQ', or libsamplerate where soxr would hold back too much). Its
   output does not depend on how its input is cut and is aligned with it
   (no leading delay to remove).
3. **Centred STFT** per channel (:class:`keras_sa.audio.signal.StreamingSTFT`):
   ``N / 2`` zeros are known in front from the start; frame ``f`` covers
   model-rate samples ``[f H - N/2, f H + N/2)`` and is computed as soon as
   they are in. At the end ``N / 2`` zeros complete the last frames:
   ``1 + L // H`` frames for ``L`` model-rate samples.
4. **Masks from the down-mix.** Frame ``f``'s mixture magnitude is
   ``|mean over channels of the channels' spectra|`` in bins ``[0, n_bins)``
   (the STFT is linear: that is the down-mix's spectrum). Model window ``k``
   covers frames ``[k W - M, k W - M + P)`` (frames before 0, and after the
   last frame at the end, are zero), is normalized on its own
   (:func:`keras_sa.audio.signal.model_input`) and keeps the masks of its
   frames ``[k W, k W + W)``. A window is ready once its last frame
   ``k W + W + A - 1`` exists; the windows ready in one call go to the
   predictor as one batch (``batch_windows`` waits for that many).
5. **Ratio mask.** Vocal share ``s = (m_v + 1e-6) / (m_v + m_a + 2e-6)``
   per frame and bin; bins above ``n_bins`` (the Nyquist bin) take the
   share of bin ``n_bins - 1``.
6. **Inverse STFT** per channel (:class:`keras_sa.audio.signal.OverlapAdd`):
   each masked frame ``s * X_c`` is inverted, windowed and added, frame after
   frame, into an accumulator together with the squared window; after frame
   ``f`` the samples before ``(f + 1) H - N/2`` are final and leave, divided
   by their summed squared window. At the end the rest leaves, cut to ``L``.
7. **Resampling back** (skipped when ``r == R``): the same kind of
   stream from ``R`` to ``r`` per channel; at the end the vocals are cut,
   or padded with zeros, to the input's length.
8. **Stems out.** The vocals that left step 7, and the same number of
   input samples from the delay line minus them: the accompaniment.

Latency (``StreamingSeparator.latency``, input samples): at the model rate
a window is ready at most ``(batch_windows W + A - 1) H + N - 1`` samples
after the first sample whose stems it finishes (the frame span's ``N / 2``
look-ahead, the window's ``W + A - 1`` frames beyond its first kept frame,
and the overlap-add's ``N / 2``). Each resampler holds back at most a
fixed number of samples (its filter and its processing block; measured once
per rate pair by :func:`resampler_lag`). The sum, in input samples, is the
latency: after ``k`` samples have been fed, at least ``k - latency`` have
been returned. For the bundled models (``W`` 36, ``P`` 64, ``M`` 24, ``A``
4, ``N`` 2048, ``H`` 512, 16 kHz) that is 22015 samples, 1.376 s, for 16 kHz
input; the resamplers add 0.012 s at 8 kHz, 0.073 s at 48 kHz, 0.098 s at
44.1 and 22.05 kHz and 0.112 s at 96 kHz (``benchmarks/streaming.py`` prints
the table for thirteen rates).
"""

import math
import numbers

import numpy as np

from keras_sa.audio.resample_stream import open_resampler, resampler_lag
from keras_sa.audio.signal import OverlapAdd, StreamingSTFT

__all__ = ["SHARE_EPS", "StreamingSeparator", "resampler_lag", "vocal_shares"]

# Chunks longer than this many input samples are processed in pieces of it,
# so that the arrays between stages stay small whatever the caller sends.
_PIECE = 1 << 16


def _positive_int(value, name):
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not (is_real and value == int(value) and value > 0):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class _Fifo:
    """Arrays that grow along ``axis``: pushed at the back, taken from the front.

    A buffer with room to spare, so that a push copies only what arrives
    (not everything held, as a concatenation would) and taking from the
    front moves nothing.
    """

    def __init__(self, shape, axis, dtype=np.float32, capacity=64):
        self._shape, self._axis = tuple(shape), axis
        self._data = np.zeros(self._shape[:axis] + (capacity,) + self._shape[axis:], dtype)
        self._start = self._end = 0

    def __len__(self):
        return self._end - self._start

    def _span(self, first, stop):
        return (slice(None),) * self._axis + (slice(first, stop),)

    def push(self, samples):
        count, live = samples.shape[self._axis], len(self)
        if self._end + count > self._data.shape[self._axis]:
            capacity = max(self._data.shape[self._axis], 2 * (live + count))
            data = np.zeros(self._shape[: self._axis] + (capacity,) + self._shape[self._axis :], self._data.dtype)
            data[self._span(0, live)] = self.peek(live)
            self._data, self._start, self._end = data, 0, live
        self._data[self._span(self._end, self._end + count)] = samples
        self._end += count

    def peek(self, count):
        """The first ``count`` items, a view valid until the next push."""
        return self._data[self._span(self._start, self._start + min(count, len(self)))]

    def drop(self, count):
        self._start += min(count, len(self))

    def pop(self, count):
        out = self.peek(count).copy()
        self.drop(count)
        return out

    @property
    def capacity(self):
        return self._data.shape[self._axis]


class StreamingSeparator:
    """Separates a stream of audio chunk by chunk; see the module docstring for how.

    Made by :meth:`keras_sa.separation.Separator.stream`.

    Args:
        separator: a :class:`keras_sa.separation.Separator`.
        sample_rate: the input's rate in Hz (a positive integer).
        channels: the input's channel count.
        batch_windows: model windows sent to the predictor together (the
            last ones at :meth:`flush` may be fewer). Larger batches use a
            batched or multi-threaded predictor better and add
            ``(batch_windows - 1) * window_hop`` STFT frames of latency; the
            output is the same.

    Attributes:
        latency: input samples of look-ahead: after ``k`` samples have been
            fed, at least ``k - latency`` output samples have been returned.
        latency_seconds: ``latency / sample_rate``.

    Raises:
        ValueError: ``sample_rate``, ``channels`` or ``batch_windows`` is
            not a positive integer.

    Example:

    >>> stream = Separator.from_pretrained().stream(44100, 2)   # doctest: +SKIP
    >>> for chunk in chunks:                                    # doctest: +SKIP
    ...     vocals, accompaniment = stream.process(chunk)
    ...     play(vocals)
    >>> vocals, accompaniment = stream.flush()                  # doctest: +SKIP
    """

    def __init__(self, separator, sample_rate, channels, batch_windows=1):
        self.separator = separator
        self.signal = signal = separator.signal
        self.sample_rate = _positive_int(sample_rate, "sample_rate")
        self.channels = _positive_int(channels, "channels")
        self.batch_windows = _positive_int(batch_windows, "batch_windows")
        if self.sample_rate == signal.sample_rate:
            self._to_model = self._from_model = None
        else:
            # One mono stream per channel: the resamplers filter channels
            # independently, so the samples are those of one multi-channel
            # stream, without interleaving every chunk and back.
            self._to_model = [open_resampler(self.sample_rate, signal.sample_rate) for _ in range(self.channels)]
            self._from_model = [open_resampler(signal.sample_rate, self.sample_rate) for _ in range(self.channels)]
        self._stft = StreamingSTFT(signal, shape=(self.channels,))
        self._istft = OverlapAdd(signal, shape=(self.channels,))
        # Mixture magnitudes from the next window's first frame on (starting
        # with the zero frames in front of frame 0), and the channels'
        # spectra from that window's first kept frame on.
        self._magnitude = _Fifo((signal.n_bins,), axis=0)
        self._magnitude.push(np.zeros((signal.window_margin, signal.n_bins), np.float32))
        self._spectra = _Fifo((self.channels, signal.n_fft // 2 + 1), axis=1, dtype=np.complex64)
        self._model_samples = 0
        self._input = _Fifo((self.channels,), axis=1)
        self._received = self._returned = 0
        self._finished = False
        self.latency = self._latency()

    @property
    def latency_seconds(self):
        return self.latency / self.sample_rate

    def _latency(self):
        signal = self.signal
        model_lag = (self.batch_windows * signal.window_hop + signal.window_look_ahead - 1) * signal.hop_length + signal.n_fft - 1
        if self._to_model is None:
            return model_lag
        rate, model_rate = self.sample_rate, signal.sample_rate
        lag = resampler_lag(rate, model_rate) + (model_lag + resampler_lag(model_rate, rate)) * rate / model_rate
        return math.ceil(lag)

    # ------------------------------------------------------------------

    def _check(self, chunk):
        if self._finished:
            raise RuntimeError("the stream is finished: flush() was called")
        try:
            samples = np.asarray(chunk, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"chunk must be a ({self.channels}, n) array of samples") from None
        if samples.ndim == 1 and self.channels == 1:
            samples = samples[np.newaxis]
        if samples.ndim != 2:
            raise ValueError(f"chunk must be ({self.channels}, n), got shape {samples.shape}")
        if samples.shape[0] != self.channels:
            raise ValueError(f"chunk has {samples.shape[0]} channels, the stream has {self.channels}")
        # A sum is NaN or infinite exactly when a sample is (float32 samples
        # cannot overflow a float64 sum), and needs no mask the chunk's size.
        if not np.isfinite(np.sum(samples, dtype=np.float64)):
            raise ValueError("chunk contains NaN or infinite samples")
        return samples

    def process(self, chunk):
        """Feeds a chunk; returns the stems that became final.

        Args:
            chunk: ``(channels, n)`` samples, any ``n >= 0`` (a 1-D array
                for a mono stream).

        Returns:
            ``(vocals, accompaniment)``, each ``(channels, m)`` float32,
            ``m >= 0``: the next ``m`` samples of the stems, in order.

        Raises:
            ValueError: the chunk has another channel count, is not 1-D or
                2-D, or holds NaN or infinite samples.
            RuntimeError: the stream was flushed.
        """
        samples = self._check(chunk)
        pieces = [self._step(samples[:, start : start + _PIECE]) for start in range(0, samples.shape[1], _PIECE)]
        return self._join(pieces)

    def flush(self):
        """Ends the stream; returns the rest of the stems.

        The stems returned by all :meth:`process` calls and this one,
        concatenated, have exactly the input's length. The stream is
        finished afterwards.
        """
        self._check(np.zeros((self.channels, 0), np.float32))
        self._finished = True
        if self._received == 0:
            return self._join([])
        return self._join([self._step(np.zeros((self.channels, 0), np.float32), last=True)])

    def _join(self, pieces):
        if not pieces:
            empty = np.zeros((self.channels, 0), np.float32)
            return empty, empty.copy()
        if len(pieces) == 1:
            return pieces[0]
        return tuple(np.concatenate(stems, axis=1) for stems in zip(*pieces))

    # ------------------------------------------------------------------

    def _step(self, samples, last=False):
        self._input.push(samples)
        self._received += samples.shape[1]
        at_model_rate = self._resample(self._to_model, samples, last)
        vocals = self._resample(self._from_model, self._vocals(at_model_rate, last), last)
        if last:
            count = self._received - self._returned
            vocals = vocals[:, :count]
            if vocals.shape[1] < count:
                vocals = np.pad(vocals, ((0, 0), (0, count - vocals.shape[1])))
        # A resampler never runs ahead of its input, so before the end this cuts
        # nothing; it keeps the delay line's invariant explicit.
        vocals = vocals[:, : self._received - self._returned]
        self._returned += vocals.shape[1]
        return vocals, self._input.pop(vocals.shape[1]) - vocals

    @staticmethod
    def _resample(streams, samples, last):
        if streams is None:
            return samples
        return np.stack([stream.resample_chunk(row, last=last) for stream, row in zip(streams, samples)])

    def _vocals(self, samples, last):
        """Model-rate vocals ``(channels, m)`` finished by ``samples`` (and the end, if ``last``)."""
        self._model_samples += samples.shape[1]
        spectra = self._stft.push(samples)
        if last:
            spectra = np.concatenate([spectra, self._stft.finish()], axis=1)
        if spectra.shape[1]:
            mixture = np.abs(spectra.mean(axis=0)[:, : self.signal.n_bins])
            self._magnitude.push(mixture)
            self._spectra.push(spectra)
        vocals = self._istft.push(self._masked_frames(last))
        if last:
            vocals = np.concatenate([vocals, self._istft.finish(self._model_samples)], axis=1)
            vocals = vocals[:, : vocals.shape[1] - max(0, self._istft.emitted - self._model_samples)]
        return vocals

    def _masked_frames(self, last):
        """``share * spectrum`` of the frames whose windows are ready, ``(channels, frames, bins)``."""
        patch, hop = self.signal.patch_frames, self.signal.window_hop
        pending = len(self._spectra)
        if last:
            count = -(-pending // hop)
            missing = (count - 1) * hop + patch - len(self._magnitude) if count else 0
            if missing > 0:
                self._magnitude.push(np.zeros((missing, self.signal.n_bins), np.float32))
        else:
            count = max(0, (len(self._magnitude) - patch) // hop + 1)
            if count < self.batch_windows:
                count = 0
        if count == 0:
            return self._spectra.peek(0)
        masks = self.separator.window_masks(self._magnitude.peek((count - 1) * hop + patch))
        frames = min(count * hop, pending)
        share = vocal_shares(masks[:frames], self.signal.n_fft // 2 + 1)
        masked = share * self._spectra.peek(frames)
        self._magnitude.drop(count * hop)
        self._spectra.drop(frames)
        return masked

    def buffer_sizes(self):
        """Samples and frames held by each stage (for tests and benchmarks): constant in the stream's length."""
        return {
            "input_delay_capacity": self._input.capacity,
            "input_delay": len(self._input),
            "stft_samples": self._stft.pending,
            "magnitude_frames": len(self._magnitude),
            "spectra_frames": len(self._spectra),
        }


SHARE_EPS = 1e-6


def vocal_shares(masks, n_freq):
    """The vocals' share of the mixture per frame and bin.

    Args:
        masks: ``(frames, n_bins, n_sources)`` masks, vocals first and
            accompaniment second.
        n_freq: bins of the spectrum they apply to (``n_fft // 2 + 1``).

    Returns:
        ``(frames, n_freq)`` float32 shares ``(m_v + eps) / (m_v + m_a + 2 eps)``;
        bins above the model's band (the Nyquist bin for
        ``n_bins = n_fft // 2``) take the share of the highest bin the model saw.
    """
    vocals, accompaniment = masks[..., 0], masks[..., 1]
    share = (vocals + SHARE_EPS) / (vocals + accompaniment + 2 * SHARE_EPS)
    missing = n_freq - share.shape[1]
    if missing:
        share = np.concatenate([share, np.repeat(share[:, -1:], missing, axis=1)], axis=1)
    return share
