"""The Separator: samples in, vocals and accompaniment out.

How a recording of any rate, length and channel count is separated:

1. **Masks from the mono down-mix at the model rate.** The channels are
   resampled to the model's rate and averaged, and the magnitude STFT is
   cut into windows of ``patch_frames`` frames, ``window_hop`` frames apart;
   each window is normalized on its own (as in training) and each keeps the
   masks of ``window_hop`` of its frames (the SHN's sliding window), after
   the config's ``window_margin`` frames (centred unless it says otherwise).
   One set of masks serves every channel, so the stereo image is kept.
2. **Ratio masks.** The vocals and accompaniment masks are turned into
   shares of the mixture, ``m_v / (m_v + m_a)``, so the two estimates add up
   to the model-band mixture.
3. **Vocals per channel.** Each channel is resampled to the model rate,
   masked, inverted and resampled back to the input rate.
4. **Accompaniment = input - vocals**, at the input rate. Nothing is lost:
   the two outputs sum to the input sample for sample (within float
   rounding), and content above the model's band (above 8 kHz for a 16 kHz
   model) goes to the accompaniment.

All of it runs as a stream (:class:`keras_sa.streaming.StreamingSeparator`,
from :meth:`Separator.stream`): :meth:`Separator.separate` feeds it the
whole recording, :func:`separate_file` the file's blocks as they are
decoded, so block-wise and streaming separation have one definition and
memory holds the stream's state (about one model window), whatever the
length.
"""

import concurrent.futures
from pathlib import Path

import numpy as np

from keras_sa.audio.io import AudioError, AudioWriter, audio_info, read_blocks
from keras_sa.audio.signal import model_input
from keras_sa.streaming import SHARE_EPS, StreamingSeparator, vocal_shares

__all__ = ["SHARE_EPS", "Separator", "StreamingSeparator", "iter_blocks", "open_stream", "output_paths", "separate_file"]

# Input samples per call when a whole recording is fed to the stream, and
# windows per predictor call there: a multiple of the Keras predictor's
# batch, and work for every interpreter of a multi-threaded LiteRT one.
_BLOCK_SECONDS = 30
_OFFLINE_BATCH_WINDOWS = 64


class Separator:
    """Separates vocals from accompaniment with a trained SA-SHN / SHN model.

    Args:
        predictor: what computes the masks: a
            :class:`keras_sa.predictors.KerasPredictor` or
            :class:`keras_sa.predictors.TFLitePredictor` (anything with a
            ``config`` and ``predictor(features) -> masks``).

    Example:

    >>> separator = Separator.from_pretrained()              # doctest: +SKIP
    >>> stems = separator.separate(samples, sample_rate)     # doctest: +SKIP
    >>> stems["vocals"].shape == samples.shape               # doctest: +SKIP
    True
    """

    def __init__(self, predictor):
        self.predictor = predictor
        self.config = predictor.config
        self.signal = self.config.signal

    @classmethod
    def from_file(cls, path, backend="keras", threads=None, batch_size=16, **kwargs):
        """A separator for a model file.

        Args:
            path: a ``.keras`` file written by ``keras_sa.models.save_model``
                (``backend="keras"``) or a ``.tflite`` file written by
                ``keras_sa.export.tflite`` (``backend="tflite"``).
            backend: ``"keras"`` or ``"tflite"``.
            threads: LiteRT interpreter threads (tflite backend).
            batch_size: windows per model call (keras backend).
            **kwargs: passed to :class:`Separator`.
        """
        from keras_sa import predictors

        if backend == "tflite":
            return cls(predictors.TFLitePredictor(path, threads=threads), **kwargs)
        if backend != "keras":
            raise ValueError(f"unknown backend {backend!r}")
        from keras_sa.models import load_model

        model, config = load_model(path)
        return cls(predictors.KerasPredictor(model, config, batch_size=batch_size), **kwargs)

    @classmethod
    def from_pretrained(cls, name="default", backend=None, **kwargs):
        """A separator for a bundled model or a file path.

        Without ``backend``, a bundled name runs its fastest TFLite
        conversion that passed the verification gate (the dynamic-range
        model for the bundled ones); ``backend="keras"`` runs the float
        model. ``keras_sa.pretrained.locate`` decides.
        """
        from keras_sa import pretrained

        path, backend = pretrained.locate(name, backend)
        return cls.from_file(path, backend=backend, **kwargs)

    # ------------------------------------------------------------------
    # masks at the model rate

    def _padded(self, magnitude):
        """``magnitude`` with the zero frames around it that whole windows need."""
        hop = self.signal.window_hop
        frames = magnitude.shape[0]
        count = -(-frames // hop)
        after = count * hop - frames + self.signal.window_look_ahead
        return np.pad(magnitude, ((self.signal.window_margin, after), (0, 0)))

    def _features(self, frames):
        patch, hop = self.signal.patch_frames, self.signal.window_hop
        windows = np.lib.stride_tricks.sliding_window_view(frames, patch, axis=0)[::hop]
        features, _ = model_input(np.swapaxes(windows, 1, 2), self.signal)
        return features.astype(np.float32)

    def windows(self, magnitude):
        """The model inputs for a model-band magnitude spectrogram.

        Args:
            magnitude: ``(frames, n_bins)`` magnitudes at the model's rate.

        Returns:
            ``(windows, patch_frames, n_bins)`` features, window ``i``
            centred on frames ``[i * window_hop, (i + 1) * window_hop)``.
        """
        return self._features(self._padded(magnitude))

    def window_masks(self, frames):
        """Masks of consecutive windows' kept frames.

        Args:
            frames: ``((count - 1) * window_hop + patch_frames, n_bins)``
                magnitudes; window ``i`` is ``frames[i * window_hop :][:
                patch_frames]``.

        Returns:
            ``(count * window_hop, n_bins, n_sources)`` masks: each window's
            kept ``window_hop`` frames (after its first ``window_margin``),
            in order.
        """
        hop, margin = self.signal.window_hop, self.signal.window_margin
        predicted = self.predictor(self._features(frames))[:, margin : margin + hop]
        return predicted.reshape(-1, *predicted.shape[2:])

    def masks(self, magnitude):
        """Masks for a model-band magnitude spectrogram.

        Args:
            magnitude: ``(frames, n_bins)`` magnitudes at the model's rate.

        Returns:
            ``(frames, n_bins, n_sources)`` masks: each window contributes
            its kept ``window_hop`` frames.
        """
        return self.window_masks(self._padded(magnitude))[: magnitude.shape[0]]

    def vocal_share(self, spectrum):
        """Per-bin vocal share ``(frames, n_fft//2+1)`` of a mono mixture's STFT."""
        masks = self.masks(np.abs(spectrum[:, : self.signal.n_bins]))
        return vocal_shares(masks, spectrum.shape[1])

    # ------------------------------------------------------------------
    # any rate, any channel count, any length

    def stream(self, sample_rate, channels, batch_windows=1):
        """A :class:`keras_sa.streaming.StreamingSeparator` for audio at ``sample_rate`` with ``channels``."""
        return StreamingSeparator(self, sample_rate, channels, batch_windows=batch_windows)

    def iter_vocals(self, samples, sample_rate):
        """Vocals of a ``(channels, n)`` recording, block by block.

        Yields:
            ``(start, vocals)``: consecutive, final pieces of the vocals
            (``vocals`` is ``(channels, m)`` for samples ``start`` to
            ``start + m``, ``m`` possibly 0), as the stream finishes them.
        """
        stream = self.stream(sample_rate, samples.shape[0], batch_windows=_OFFLINE_BATCH_WINDOWS)
        block = _BLOCK_SECONDS * stream.sample_rate
        start = 0
        for first in range(0, samples.shape[1], block):
            vocals, _ = stream.process(samples[:, first : first + block])
            yield start, vocals
            start += vocals.shape[1]
        yield start, stream.flush()[0]

    def separate(self, samples, sample_rate, progress=None):
        """Separate a recording: :meth:`stream` fed all of it.

        Args:
            samples: ``(channels, n)`` float32 samples (a 1-D array is
                treated as mono).
            sample_rate: their rate in Hz.
            progress: optional callable ``progress(done_samples, total)``
                called after each block.

        Returns:
            ``{"vocals": ..., "accompaniment": ...}``, each shaped like
            ``samples``; they sum to ``samples``.
        """
        samples = np.asarray(samples, dtype=np.float32)
        squeeze = samples.ndim == 1
        if squeeze:
            samples = samples[np.newaxis]
        vocals = np.zeros_like(samples)
        for start, piece in self.iter_vocals(samples, sample_rate):
            vocals[:, start : start + piece.shape[1]] = piece
            if progress is not None:
                progress(start + piece.shape[1], samples.shape[1])
        accompaniment = samples - vocals
        if squeeze:
            return {"vocals": vocals[0], "accompaniment": accompaniment[0]}
        return {"vocals": vocals, "accompaniment": accompaniment}

    def estimator(self):
        """This separator as an estimator for :mod:`keras_sa.evaluation`."""

        def estimate(mixture, references=None, sample_rate=None):
            rate = sample_rate or self.signal.sample_rate
            return self.separate(mixture, rate)

        return estimate


def iter_blocks(samples, sample_rate, separate_segment, block_seconds=30.0, margin_seconds=2.0):
    """Run ``separate_segment`` on a long recording block by block, joining the results.

    For separators that take whole segments (the TensorFlow Serving client);
    the :class:`Separator` itself streams instead.

    Blocks are ``block_seconds`` long; each is separated with
    ``margin_seconds`` of context on each side, and consecutive blocks are
    joined by a linear cross-fade (50 ms at most), so the seams do not show.

    Args:
        samples: ``(channels, n)`` samples.
        sample_rate: their rate in Hz (sets the block lengths).
        separate_segment: ``(channels, m)`` segment -> ``(channels, m)``
            estimate (the vocals).
        block_seconds: audio per block.
        margin_seconds: context on each side of a block.

    Yields:
        ``(start, piece)``: consecutive, final pieces of the estimate,
        ``piece`` covering samples ``start`` to ``start + piece.shape[1]``.
    """
    total = samples.shape[1]
    block = max(int(block_seconds * sample_rate), 1)
    margin = int(margin_seconds * sample_rate)
    fade = min(margin, int(0.05 * sample_rate), block // 4)
    carry = None  # previous block's weighted share of [start - fade, start + fade)
    for start in range(0, total, block):
        end = min(start + block, total)
        lo, hi = max(start - margin, 0), min(end + margin, total)
        segment = separate_segment(samples[:, lo:hi])
        keep_lo = max(start - fade, 0)
        keep_hi = min(end + fade, total)
        positions = np.arange(keep_lo, keep_hi)
        weights = np.ones(keep_hi - keep_lo, np.float32)
        if start > 0:
            weights *= np.clip((positions - (start - fade)) / (2 * fade), 0, 1)
        if end < total:
            weights *= np.clip(((end + fade) - positions) / (2 * fade), 0, 1)
        piece = segment[:, keep_lo - lo : keep_hi - lo] * weights
        if carry is not None:
            piece[:, : carry.shape[1]] += carry
        final = (end - fade if end < total else total) - keep_lo
        yield keep_lo, piece[:, :final]
        carry = piece[:, final:]


def open_stream(separator, name, sample_rate, channels, batch_windows=1):
    """``separator.stream(...)`` for the input called ``name``, a rate it cannot take as :class:`AudioError`.

    The ``separate`` and ``stream`` commands both open their stream here,
    so that a file and the same audio piped in get the same answer.
    """
    try:
        return separator.stream(sample_rate, channels, batch_windows=batch_windows)
    except ValueError as error:
        raise AudioError(name, f"unsupported sample rate: {error}") from None


def output_paths(target, fmt="wav"):
    """``{"vocals": target/vocals.<fmt>, "accompaniment": ...}``."""
    return {name: Path(target) / f"{name}.{fmt}" for name in ("vocals", "accompaniment")}


def separate_file(separator, path, target, fmt="wav", max_seconds=None, progress=None):
    """Separate an audio file into ``target/vocals.<fmt>`` and ``target/accompaniment.<fmt>``.

    The input is decoded block by block into the separator's stream and the
    stems are written as the stream finishes them, so memory holds two
    blocks (the next one is decoded in the background, and the last stems
    are written there) and the stream's state, whatever the length. Each file is written under
    a temporary name and renamed when complete; a bad input leaves neither.
    Existing files are replaced: checking for them is the caller's choice.

    Args:
        separator: a :class:`Separator`.
        path: the input file (any format ``keras_sa.audio.load_audio`` reads).
        target: folder for the two stems; created if missing.
        fmt: ``"wav"`` (32-bit float) or ``"flac"`` (24-bit).
        max_seconds: refuse longer inputs (``AudioError``).
        progress: optional callable ``progress(samples_done, total)``.

    Returns:
        The input's duration in seconds.

    Raises:
        AudioError: the input cannot be read or an output cannot be written.
        OSError: ``target`` cannot be created.
    """
    rate, channels, total = audio_info(path)
    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="audio-io") as io:
        blocks = _Prefetched(read_blocks(path, _BLOCK_SECONDS * rate, max_seconds=max_seconds), io)
        try:
            return _separate_blocks(separator, path, blocks, target, fmt, rate, channels, total, progress, io)
        finally:
            blocks.close()


class _Prefetched:
    """An iterator of decoded blocks whose next block is decoded in the background.

    libsndfile releases the GIL while it decodes, so the next block is read
    while the stream works on this one: decoding costs the command no wall
    time while the model leaves a core free.
    """

    def __init__(self, blocks, pool):
        self._blocks, self._pool = blocks, pool
        self._next = pool.submit(next, blocks, None)

    def __iter__(self):
        return self

    def __next__(self):
        block = self._next.result()
        if block is None:
            raise StopIteration
        self._next = self._pool.submit(next, self._blocks, None)
        return block

    def close(self):
        # A generator cannot be closed while the decoder thread runs it.
        concurrent.futures.wait([self._next])
        self._blocks.close()


def _separate_blocks(separator, path, blocks, target, fmt, rate, channels, total, progress, io):
    first = next(blocks)  # refuses an unreadable, empty or too long input before creating anything
    stream = open_stream(separator, path, rate, channels, batch_windows=_OFFLINE_BATCH_WINDOWS)
    outputs = output_paths(target, fmt)
    created = not Path(target).exists()
    Path(target).mkdir(parents=True, exist_ok=True)
    try:
        return _write_stems(stream, first, blocks, outputs, rate, channels, total, progress, io)
    except BaseException:
        # A failed or interrupted input leaves no empty folder it made (nor files: the writers remove theirs).
        if created:
            try:
                Path(target).rmdir()
            except OSError:
                pass
        raise


def _write_stems(stream, first, blocks, outputs, rate, channels, total, progress, io):
    done = 0
    with AudioWriter(outputs["vocals"], rate, channels) as vocals_out, AudioWriter(
        outputs["accompaniment"], rate, channels
    ) as accompaniment_out:
        # One write job at a time, in order, behind the separation (libsndfile
        # releases the GIL while it encodes); a failed write surfaces at the
        # next block or at the end, before the files are renamed into place.
        writing = None

        def write(stems):
            nonlocal done, writing
            if writing is not None:
                writing.result()
            vocals, accompaniment = stems
            writing = io.submit(_write_pair, vocals_out, vocals, accompaniment_out, accompaniment)
            done += vocals.shape[1]
            if progress is not None:
                progress(done, max(total, done))

        try:
            write(stream.process(first))
            for block in blocks:
                write(stream.process(block))
            write(stream.flush())
        finally:
            # The writers close when this block ends, error or not: never
            # under a write still running.
            if writing is not None:
                concurrent.futures.wait([writing])
        writing.result()
    return done / rate


def _write_pair(first_writer, first, second_writer, second):
    first_writer.write(first)
    second_writer.write(second)
