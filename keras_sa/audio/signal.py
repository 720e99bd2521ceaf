"""The model's audio contract and the STFT, as numpy and TensorFlow twins.

Everything that turns samples into model inputs, or masks back into samples,
goes through this module: training, evaluation, separation and the exports
all share it. The numpy twin (``numpy.fft``; librosa is only the tests'
reference) serves separation, tools and file-level work, and streams:
:class:`StreamingSTFT` and :class:`OverlapAdd` take a signal in pieces, and
:func:`stft` / :func:`istft` are those fed everything at once. The
TensorFlow twin (``tf.signal``) serves tf.data pipelines and exported graphs.
Both use the same convention, tested to agree:

- a periodic Hann window of ``n_fft`` samples, hop ``hop_length``;
- centred frames: the signal is zero-padded by ``n_fft // 2`` on both sides,
  so frame ``i`` is centred on sample ``i * hop_length`` and a signal of ``n``
  samples has ``1 + n // hop_length`` frames;
- the inverse divides the overlap-added frames by the summed squared window,
  so ``istft(stft(x)) == x`` up to rounding.
"""

import dataclasses
import functools
import json
import math
import numbers

import numpy as np

_EPS = 1e-8


def check_integer(name, value, low, high):
    """``value`` as an int, or ValueError when it is not a whole number in ``[low, high]``.

    Configurations come from files (model files, TFLite contracts): a
    wrong type or an absurd size must be refused here, in one line, before
    anything allocates by it. ``bool`` is not taken for a number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in [{low}, {high}], got {value!r:.80}")
    return int(value)


def check_fields(cls, values, what):
    """``values`` as keyword arguments of the dataclass ``cls``, or ValueError.

    Args:
        cls: a dataclass.
        values: what a file said (anything JSON can hold).
        what: its name in messages (``"model config"``).
    """
    if not isinstance(values, dict):
        raise ValueError(f"a {what} must be a JSON object, got {type(values).__name__}")
    unknown = set(values) - {field.name for field in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(map(str, unknown))}")
    return values


@dataclasses.dataclass(frozen=True)
class SignalConfig:
    """The audio contract between samples and a model.

    Args:
        sample_rate: rate, in Hz, the model works at.
        n_fft: STFT window and FFT size.
        hop_length: STFT hop in samples.
        n_bins: number of frequency bins the model sees, counted from DC.
            ``n_fft // 2`` drops the Nyquist bin, as the SHN does.
        patch_frames: number of STFT frames in one model input.
        window_hop: frames between successive model windows when a long
            input is separated; each window contributes ``window_hop`` of
            its frames, so the model runs ``patch_frames / window_hop``
            times per frame of audio.
        window_margin: frames of each window before the ``window_hop``
            frames it keeps; the other ``patch_frames - window_hop -
            window_margin`` (:attr:`window_look_ahead`) come after them, and
            are what a stream waits for. ``None``: the kept frames are the
            central ones, ``(patch_frames - window_hop) // 2``.
        compression: what the model input is. ``"none"``: the magnitude
            divided by the window's maximum; ``"log"``: that, compressed with
            ``log1p(c * m) / log1p(c)`` (still within ``[0, 1]``).
        compression_strength: ``c`` above.
        sources: names of the model's output masks, in order.
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    n_bins: int = 512
    patch_frames: int = 64
    window_hop: int = 32
    window_margin: int = None
    compression: str = "log"
    compression_strength: float = 1000.0
    sources: tuple = ("vocals", "accompaniment")

    def __post_init__(self):
        check_integer("sample_rate", self.sample_rate, 1, 10_000_000)
        check_integer("n_fft", self.n_fft, 2, 1 << 16)
        check_integer("hop_length", self.hop_length, 1, self.n_fft)
        check_integer("n_bins", self.n_bins, 1, 1 << 16)
        check_integer("patch_frames", self.patch_frames, 1, 1 << 12)
        check_integer("window_hop", self.window_hop, 1, 1 << 12)
        strength = self.compression_strength
        if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not 0 < strength < math.inf:
            raise ValueError(f"compression_strength must be a positive number, got {strength!r:.80}")
        if (
            not isinstance(self.sources, (list, tuple))
            or not 1 <= len(self.sources) <= 16
            or not all(isinstance(name, str) and name for name in self.sources)
            or len(set(self.sources)) != len(self.sources)
        ):
            raise ValueError(f"sources must be 1 to 16 distinct names, got {self.sources!r:.80}")
        if not isinstance(self.compression, str):
            raise ValueError(f"unknown compression {self.compression!r:.80}")
        if self.n_bins > self.n_fft // 2 + 1:
            raise ValueError(f"n_bins={self.n_bins} exceeds n_fft // 2 + 1")
        if self.compression not in ("none", "log"):
            raise ValueError(f"unknown compression {self.compression!r}")
        if not 0 < self.window_hop <= self.patch_frames:
            raise ValueError("window_hop must lie in (0, patch_frames]")
        spare = self.patch_frames - self.window_hop
        if self.window_margin is None:
            if spare % 2:
                raise ValueError("patch_frames - window_hop must be even for a centred window (or set window_margin)")
            object.__setattr__(self, "window_margin", spare // 2)
        elif isinstance(self.window_margin, bool) or not (isinstance(self.window_margin, int) and 0 <= self.window_margin <= spare):
            raise ValueError(f"window_margin must be an integer in [0, patch_frames - window_hop = {spare}]")
        object.__setattr__(self, "sources", tuple(self.sources))

    @property
    def window_look_ahead(self):
        """Frames of each window after the ones it keeps."""
        return self.patch_frames - self.window_hop - self.window_margin

    @property
    def frames_per_second(self):
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples):
        """Frames of the centred STFT of ``num_samples`` samples."""
        return 1 + num_samples // self.hop_length

    def to_dict(self):
        return dataclasses.asdict(self) | {"sources": list(self.sources)}

    @classmethod
    def from_dict(cls, values):
        """A SignalConfig from :meth:`to_dict`'s output; ValueError for anything else."""
        return cls(**check_fields(cls, values, "signal config"))

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)


# ----------------------------------------------------------------------------
# numpy twin


@functools.lru_cache(maxsize=8)
def hann_window(n_fft):
    """The periodic Hann window of ``n_fft`` samples (float64, read-only), as librosa's ``"hann"``."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    window.flags.writeable = False
    return window


def frame_spectra(frames, config):
    """Spectra ``(..., n_fft//2+1)`` complex64 of time frames ``(..., n_fft)``.

    The window product and the FFT run in float64 and are rounded once, as
    librosa does, so both agree to float32 rounding.
    """
    return np.fft.rfft(frames * hann_window(config.n_fft), axis=-1).astype(np.complex64)


@functools.lru_cache(maxsize=8)
def _hann_window_float32(n_fft):
    window = hann_window(n_fft).astype(np.float32)
    window.flags.writeable = False
    return window


def frame_signals(spectra, config):
    """Windowed time frames ``(..., n_fft)`` float32 of spectra ``(..., n_fft//2+1)``.

    The inverse FFT and the window product run in float32 (numpy keeps
    complex64 input in single precision): the frames differ from a float64
    computation by float32 rounding (about 6e-8 of full scale), and the
    product needs no float64 copy of every frame.
    """
    frames = np.fft.irfft(np.asarray(spectra, np.complex64), n=config.n_fft, axis=-1)
    frames *= _hann_window_float32(config.n_fft)
    return frames


class StreamingSTFT:
    """The STFT of a signal that arrives in pieces.

    :meth:`push` returns the spectra of the frames its samples completed,
    :meth:`finish` those that only the end padding completes; all of them
    together are :func:`stft` of the whole signal (which is defined as
    this). A frame is complete once its ``n_fft`` samples are in, so the
    stream holds fewer than ``n_fft + hop_length`` samples, whatever the
    signal's length.

    Args:
        config: the :class:`SignalConfig`.
        center: pad ``n_fft // 2`` zeros in front (known from the start)
            and behind (added by :meth:`finish`); ``False`` pads nothing.
        shape: the leading shape of the samples (``()`` for a 1-D signal,
            ``(channels,)`` for ``(channels, n)`` pieces).
    """

    def __init__(self, config, center=True, shape=()):
        self.config = config
        self.center = center
        self._pad = config.n_fft // 2 if center else 0
        self._buffer = np.zeros(tuple(shape) + (self._pad,), np.float32)
        self._finished = False

    @property
    def pending(self):
        """Samples held for the next frames (fewer than ``n_fft``)."""
        return self._buffer.shape[-1]

    def push(self, samples):
        """Appends ``(*shape, n)`` samples; returns ``(*shape, frames, n_fft//2+1)``."""
        if self._finished:
            raise RuntimeError("the STFT stream is finished")
        buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)], axis=-1)
        n_fft, hop = self.config.n_fft, self.config.hop_length
        count = max(0, (buffer.shape[-1] - n_fft) // hop + 1)
        if count == 0:
            self._buffer = buffer
            return np.zeros(buffer.shape[:-1] + (0, n_fft // 2 + 1), np.complex64)
        frames = np.lib.stride_tricks.sliding_window_view(buffer, n_fft, axis=-1)[..., : count * hop : hop, :]
        self._buffer = buffer[..., count * hop :]
        return frame_spectra(frames, self.config)

    def finish(self):
        """The frames the end padding completes; the stream is finished afterwards."""
        spectra = self.push(np.zeros(self._buffer.shape[:-1] + (self._pad,), np.float32))
        self._finished = True
        return spectra


class OverlapAdd:
    """The inverse STFT of frames that arrive in order.

    Each frame's windowed inverse FFT is added into an accumulator of
    ``n_fft`` samples, frame after frame, together with the squared window;
    the accumulator's first ``hop_length`` samples then have every frame
    that touches them, are divided by their summed squared window (where it
    exceeds float32's ``tiny``) and leave. The leading ``n_fft // 2``
    samples (the centred STFT's front padding) are dropped. :func:`istft` is
    this fed all frames at once.

    Args:
        config: the :class:`SignalConfig`.
        shape: the leading shape of the frames (``()`` or ``(channels,)``).
    """

    def __init__(self, config, shape=()):
        self.config = config
        n_fft = config.n_fft
        hop = config.hop_length
        self._parts = -(-n_fft // hop)
        self._pad = self._parts * hop - n_fft
        # The squared window cut into the hop-long parts that push() adds.
        square = np.square(hann_window(n_fft)).astype(np.float32)
        self._square_parts = np.pad(square, (0, self._pad)).reshape(self._parts, hop)
        self._signal = np.zeros(tuple(shape) + (n_fft,), np.float32)
        self._weight = np.zeros(n_fft, np.float32)
        self._skip = n_fft // 2
        self.emitted = 0

    def _emit(self, signal, weight):
        tiny = np.finfo(np.float32).tiny
        out = signal / np.where(weight > tiny, weight, np.float32(1))
        skip = min(self._skip, out.shape[-1])
        self._skip -= skip
        out = out[..., skip:]
        self.emitted += out.shape[-1]
        return out

    def push(self, spectra):
        """Adds ``(*shape, frames, n_fft//2+1)`` spectra; returns the finished samples."""
        frames = frame_signals(spectra, self.config)
        hop, count = self.config.hop_length, frames.shape[-2]
        n_fft, parts, pad = self.config.n_fft, self._parts, self._pad
        # Frame i's k-th hop-long part lands on output segment i + k. Adding
        # the parts k = parts-1 ... 0 one slice at a time gives every sample
        # its frames in increasing order after the carried partial sums: the
        # same additions, in the same order, as adding frame after frame,
        # without a Python step per frame.
        length = (count + parts) * hop
        signal = np.zeros(self._signal.shape[:-1] + (length,), np.float32)
        weight = np.zeros(length, np.float32)
        signal[..., :n_fft] = self._signal
        weight[:n_fft] = self._weight
        if pad:
            frames = np.pad(frames, [(0, 0)] * (frames.ndim - 1) + [(0, pad)])
        frames = frames.reshape(frames.shape[:-1] + (parts, hop))
        segments = signal.reshape(signal.shape[:-1] + (count + parts, hop))
        weights = weight.reshape(count + parts, hop)
        for part in reversed(range(parts)):
            segments[..., part : part + count, :] += frames[..., part, :]
            weights[part : part + count] += self._square_parts[part]
        self._signal = signal[..., count * hop : count * hop + n_fft].copy()
        self._weight = weight[count * hop : count * hop + n_fft].copy()
        return self._emit(signal[..., : count * hop], weight[: count * hop])

    def finish(self, length):
        """The rest, to a total of ``length`` samples (zero-padded if the frames end sooner)."""
        rest = self._emit(self._signal, self._weight)
        before = self.emitted - rest.shape[-1]
        keep = max(0, length - before)
        rest = rest[..., :keep]
        if rest.shape[-1] < keep:
            rest = np.concatenate([rest, np.zeros(rest.shape[:-1] + (keep - rest.shape[-1],), np.float32)], axis=-1)
        self.emitted = before + keep
        return rest


def stft(samples, config, center=True):
    """Complex STFT of ``samples`` (``(..., n)``) -> ``(..., frames, n_fft//2+1)``.

    ``center=False`` takes frames from the samples alone, with no padding:
    ``1 + (n - n_fft) // hop_length`` frames (none when ``n < n_fft``), the
    interior frames of a longer signal's centred STFT (how training patches
    are cut).
    """
    samples = np.asarray(samples, np.float32)
    stream = StreamingSTFT(config, center=center, shape=samples.shape[:-1])
    return np.concatenate([stream.push(samples), stream.finish()], axis=-2)


def istft(spectrogram, config, length):
    """Inverse of :func:`stft`: ``(..., frames, n_fft//2+1)`` -> ``(..., length)`` float32."""
    spectrogram = np.asarray(spectrogram)
    overlap_add = OverlapAdd(config, shape=spectrogram.shape[:-2])
    head = overlap_add.push(spectrogram)[..., :length]
    return np.concatenate([head, overlap_add.finish(length)], axis=-1)


def model_input(magnitude, config, xp=np):
    """Model input from model-band magnitudes of one window.

    Args:
        magnitude: ``(..., T, n_bins)`` non-negative magnitudes of one input
            window (or a batch of windows, normalized each on its own).
        config: the :class:`SignalConfig`.
        xp: ``numpy``, ``keras.ops`` or ``tf.experimental.numpy`` (any
            module with numpy's ``max``, ``maximum``, ``log1p`` and ``where``).

    Returns:
        ``(features, scale)``: the features, in ``[0, 1]``, and the per-window
        divisor that was applied to the magnitudes.
    """
    peak = xp.max(magnitude, axis=(-2, -1), keepdims=True)
    scale = xp.maximum(peak, _EPS)
    normalized = magnitude / scale
    if config.compression == "log":
        c = config.compression_strength
        compressed = xp.log1p(c * normalized)
        # Dividing by log1p(c) taken in float64 (or by another kernel than
        # the one that compressed the peak) let rounding push features to
        # 1.0000001 for many c. Where the peak is at least _EPS its normalized
        # value is exactly 1, so the compressed window's own maximum is
        # log1p(c) as this backend rounds it: dividing by that keeps features
        # within [0, 1] with the peak exactly 1. Near-silent windows keep the
        # constant divisor rather than being raised to full scale.
        top = xp.max(compressed, axis=(-2, -1), keepdims=True)
        divisor = xp.where(peak >= _EPS, top, float(np.log1p(c)))
        normalized = compressed / divisor
    return normalized, scale


# ----------------------------------------------------------------------------
# TensorFlow twin


def tf_stft(samples, config):
    """TensorFlow twin of :func:`stft` for ``(..., n)`` float32 samples."""
    import tensorflow as tf

    samples = tf.convert_to_tensor(samples, dtype=tf.float32)
    pad = config.n_fft // 2
    rank = samples.shape.rank
    padded = tf.pad(samples, [[0, 0]] * (rank - 1) + [[pad, pad]])
    return tf.signal.stft(
        padded,
        frame_length=config.n_fft,
        frame_step=config.hop_length,
        fft_length=config.n_fft,
        window_fn=tf.signal.hann_window,
        pad_end=False,
    )


def tf_istft(spectrogram, config, length, valid_frames=None):
    """TensorFlow twin of :func:`istft`.

    ``valid_frames`` (boolean, ``spectrogram``'s shape without the bins)
    marks the frames a row really has: the squared-window sum that the
    overlap-add is divided by counts only those, so a zero-padded row is
    inverted as it would be alone.
    """
    import tensorflow as tf

    spectrogram = tf.convert_to_tensor(spectrogram, dtype=tf.complex64)
    window = tf.signal.hann_window(config.n_fft, dtype=tf.float32)
    frames = tf.signal.irfft(spectrogram, fft_length=[config.n_fft]) * window
    signal = tf.signal.overlap_and_add(frames, config.hop_length)
    if valid_frames is None:
        n_frames = tf.shape(spectrogram)[-2]
        weights = tf.tile(tf.square(window)[tf.newaxis, :], [n_frames, 1])
    else:
        weights = tf.square(window) * tf.cast(valid_frames, tf.float32)[..., tf.newaxis]
    window_sum = tf.signal.overlap_and_add(weights, config.hop_length)
    tiny = np.finfo(np.float32).tiny
    signal = signal / tf.where(window_sum > tiny, window_sum, 1.0)
    pad = config.n_fft // 2
    signal = signal[..., pad:]
    available = tf.shape(signal)[-1]
    signal = signal[..., : tf.minimum(length, available)]
    missing = tf.maximum(length - available, 0)
    rank = spectrogram.shape.rank - 1
    return tf.pad(signal, [[0, 0]] * (rank - 1) + [[0, missing]])
