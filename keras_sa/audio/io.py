"""Reading and writing audio files.

Samples are float32 numpy arrays of shape ``(channels, samples)``: always
2-D, channels first, mono included, so that callers never branch on the
rank. Decoding is libsndfile's (through ``soundfile``), which reads WAV,
FLAC, Ogg Vorbis, Ogg Opus and MP3; resampling is ``soxr``'s.

Every problem with an input file surfaces as :class:`AudioError`, with a
one-line message ``"<path>: <reason>"`` that a command line can print as is.
"""

import io
import os
import stat
import tempfile

import numpy as np
import soundfile
import soxr

from keras_sa.audio.headers import truncation, truncation_reason, zero_data_size

SOXR_QUALITY = "HQ"  # offline and streamed resampling alike

# Output formats by extension, with a default subtype each. WAV is written
# as 32-bit float so that values beyond [-1, 1] survive unchanged; FLAC has
# no float subtype, and 24 bits is lossless for anything from a 16- or
# 24-bit source.
_OUTPUT_FORMATS = {"wav": ("WAV", "FLOAT"), "flac": ("FLAC", "PCM_24")}

# Exceptions soundfile raises for unreadable or undecodable data.
_SOUNDFILE_ERRORS = (soundfile.LibsndfileError, RuntimeError, TypeError)

# Samples (frames x channels) a decoded block holds at most. soundfile sizes
# a read by the frames the header declares, which a corrupt FLAC or MP3
# header can put at hours of 8 channels: the cap keeps such a header from
# allocating what it claims (16 MiB of float32), and leaves a 30 s block of
# a stereo 48 kHz song whole.
MAX_BLOCK_SAMPLES = 1 << 22

# Decoded float32 bytes per byte of file beyond which load_audio does not
# trust a header's length with one allocation (lossless codecs expand real
# audio 2-8 times; the rare file beyond, such as long silence in FLAC, is
# read block by block, to the same result).
_PLAUSIBLE_EXPANSION = 64
_PLAUSIBLE_BYTES = 64 << 20

# Formats whose header states the exact length, so a shorter decode is a
# truncated file (WAV and AIFF are checked on the header, before decoding).
_EXACT_LENGTH_FORMATS = ("FLAC",)


class AudioError(ValueError):
    """An audio file that cannot be read or written as asked.

    The message is one line, ``"<path>: <reason>"``.
    """

    def __init__(self, path, reason):
        self.path = os.fspath(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


def _describe(error):
    """A one-line reason from a soundfile (or other) exception."""
    # LibsndfileError's and OSError's str() repeat the path (for a failed
    # write, the temporary one); error_string and strerror are the reason.
    text = getattr(error, "error_string", None) or getattr(error, "strerror", None)
    text = text or str(error)
    # libsndfile says "System error." for a failed read or write; the C
    # errno it left (cffi keeps it) says which: "No space left on device".
    if isinstance(error, soundfile.LibsndfileError) and text.strip() == "System error.":
        code = soundfile._ffi.errno
        if code:
            text = os.strerror(code)
    return " ".join(text.split()) or type(error).__name__


def _check_readable(path):
    """Raises AudioError for a path that cannot hold audio at all.

    libsndfile reports a missing file as "System error" and an empty one as
    "Format not recognised"; checking first gives the user the real reason.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except OSError as error:
        raise AudioError(path, f"cannot access file ({_describe(error)})") from None
    if stat.S_ISDIR(status.st_mode):
        raise AudioError(path, "is a directory")
    if status.st_size == 0:
        raise AudioError(path, "empty file")


def _unsupported(path, error):
    reason = _describe(error)
    # libsndfile's MP3 decoder answers any undecodable file with its generic
    # "File does not exist or is not a regular file (possibly a pipe?)."
    # after the existence checks above have passed: name the real problem.
    if "does not exist or is not a regular file" in reason:
        reason = "no audio stream it can decode"
    return AudioError(path, f"unsupported or corrupt audio file ({reason})")


def _check_truncation(path):
    """Raises AudioError for a WAV or AIFF header that declares more audio than the file holds."""
    try:
        reason = truncation(path)
    except OSError as error:
        raise AudioError(path, f"cannot access file ({_describe(error)})") from None
    if reason:
        raise AudioError(path, reason)


def _check_decoded_length(path, file, decoded):
    """Raises AudioError when a format with an exact header length decoded fewer frames."""
    if file.format in _EXACT_LENGTH_FORMATS and 0 < decoded < file.frames:
        raise AudioError(path, truncation_reason(file.frames / file.samplerate, decoded / file.samplerate))


def _open(path):
    """``soundfile.SoundFile(path)`` with the decoders' notices kept off the terminal.

    libmpg123 prints "Note: Illegal Audio-MPEG-Header ..." lines on
    descriptor 2 for a file that is not MP3; the error that follows says
    all the user needs.
    """
    from keras_sa.native_logs import DECODER_NOTICES, filtered_stderr

    try:
        marker = zero_data_size(path)
    except OSError as error:
        raise AudioError(path, f"cannot access file ({_describe(error)})") from None
    source = os.fspath(path) if marker is None else _Patched(path, marker, b"\xff\xff\xff\xff")
    with filtered_stderr(DECODER_NOTICES):
        try:
            return soundfile.SoundFile(source)
        except BaseException:
            if marker is not None:
                source.close()
            raise


class _Patched(io.RawIOBase):
    """A file read with a few bytes at ``offset`` replaced (a WAV size marker libsndfile misreads)."""

    def __init__(self, path, offset, replacement):
        super().__init__()
        self._file = open(path, "rb")
        self._offset, self._replacement = offset, replacement

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, position, whence=io.SEEK_SET):
        return self._file.seek(position, whence)

    def tell(self):
        return self._file.tell()

    def readinto(self, buffer):
        start = self._file.tell()
        count = self._file.readinto(buffer)
        low, high = max(start, self._offset), min(start + count, self._offset + len(self._replacement))
        if low < high:
            memoryview(buffer)[low - start : high - start] = self._replacement[low - self._offset : high - self._offset]
        return count

    def close(self):
        self._file.close()
        super().close()


def _read(file, frames=-1):
    """``frames`` float32 frames of an open file, ``(frames, channels)``.

    An MP3 file is read with descriptor 2 held (:func:`_open`): libmpg123
    prints a "Note: ..." or "[src/libmpg123/...] error: ..." line for each
    damaged frame it skips. The ``separate`` command draws its progress
    bars on a copy of descriptor 2, so they are not held with it.
    """
    if file.format != "MPEG" and not file.subtype.startswith("MPEG"):  # MP3 inside WAV too
        return file.read(frames, dtype="float32", always_2d=True)
    from keras_sa.native_logs import DECODER_NOTICES, filtered_stderr

    with filtered_stderr(DECODER_NOTICES):
        return file.read(frames, dtype="float32", always_2d=True)


def audio_info(path):
    """Reads an audio file's header without decoding it.

    Args:
        path: the file (str or path-like).

    Returns:
        ``(rate, channels, frames)``: sample rate in Hz, channel count and
        length in samples per channel (as the header states it; a file with
        no samples reports 0 here, :func:`load_audio` rejects it).

    Raises:
        AudioError: the file is missing, a directory, empty, or not audio
            that libsndfile can open.
    """
    _check_readable(path)
    _check_truncation(path)
    try:
        with _open(path) as file:
            return file.samplerate, file.channels, file.frames
    except _SOUNDFILE_ERRORS as error:
        raise _unsupported(path, error) from None


def load_audio(path, sample_rate=None, mono=False, max_seconds=None):
    """Decodes an audio file into float32 samples.

    Args:
        path: the file (str or path-like): WAV, FLAC, Ogg Vorbis, Ogg Opus,
            MP3, or anything else libsndfile reads.
        sample_rate: rate, in Hz, to return the samples at; the file's own
            rate when ``None``. Other rates are resampled with soxr ('HQ').
        mono: average the channels into one.
        max_seconds: reject files longer than this many seconds (checked on
            the header, before decoding), to protect memory from a huge
            upload; no limit when ``None``.

    Returns:
        ``(samples, rate)``: float32 array of shape ``(channels, n)``
        (``(1, n)`` when ``mono``) and its sample rate.

    Raises:
        AudioError: the file is missing, a directory, empty, not decodable,
            holds no samples, holds NaN or infinite samples, or is longer
            than ``max_seconds``.
        ValueError: ``sample_rate`` or ``max_seconds`` is not positive.
    """
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    _check_max_seconds(max_seconds)
    _check_readable(path)
    _check_truncation(path)
    try:
        with _open(path) as file:
            rate = file.samplerate
            _check_length(path, file.frames, rate, max_seconds)
            frames = _read_all(path, file)
            _check_decoded_length(path, file, frames.shape[0])
    except _SOUNDFILE_ERRORS as error:
        raise _unsupported(path, error) from None
    # A WAV header that promises data it does not have decodes to nothing.
    if frames.shape[0] == 0:
        raise AudioError(path, "no samples")
    # Some decoders (MP3) report an estimated length; check the real one too.
    _check_length(path, frames.shape[0], rate, max_seconds)
    _check_finite(path, frames)

    # A transposed view, not a copy: a long song is held in memory once.
    samples = frames.T
    if mono and samples.shape[0] > 1:
        samples = samples.mean(axis=0, keepdims=True, dtype=np.float32)
    if sample_rate is not None and sample_rate != rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
    return samples, rate


def _read_all(path, file):
    """All of an open file's frames, ``(frames, channels)`` float32.

    soundfile allocates the whole array from the length the header
    declares. When that is more than the file could plausibly hold (a FLAC
    header can claim 2**36 frames in a few bytes), the file is read block
    by block instead, so memory follows what is decoded.
    """
    declared = file.frames * file.channels * 4
    if declared <= max(_PLAUSIBLE_BYTES, _PLAUSIBLE_EXPANSION * os.path.getsize(path)):
        return _read(file)
    blocks = []
    block_frames = max(1, MAX_BLOCK_SAMPLES // max(file.channels, 1))
    while True:
        block = _read(file, block_frames)
        if block.shape[0] == 0:
            break
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, file.channels), np.float32)


def _check_max_seconds(max_seconds):
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")


def _check_length(path, frames, rate, max_seconds):
    if max_seconds is not None and frames > max_seconds * rate:
        raise AudioError(path, f"too long ({frames / rate:.1f} s; the limit is {max_seconds:g} s)")


def _check_finite(path, frames):
    # A sum is NaN or infinite exactly when a sample is (audio cannot
    # overflow float64), and needs no mask the size of the song.
    # +inf and -inf sum to NaN: no RuntimeWarning for that on the terminal.
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(np.sum(frames, dtype=np.float64))
    if not finite:
        raise AudioError(path, "contains NaN or infinite samples")


def read_blocks(path, block_frames, max_seconds=None):
    """Decodes an audio file block by block, with :func:`load_audio`'s checks.

    Memory holds one block, whatever the file's length. The checks run as
    the blocks come: a header longer than ``max_seconds`` and a file with
    no samples fail before the first block, a NaN or infinite sample (or a
    real length beyond ``max_seconds`` that the header did not tell) when
    its block is reached.

    Args:
        path: the file (str or path-like).
        block_frames: samples per channel in each block (the last may be
            shorter).
        max_seconds: reject files longer than this many seconds.

    Yields:
        ``(channels, m)`` float32 blocks at the file's own rate
        (:func:`audio_info` gives the rate and channel count).

    Raises:
        AudioError: as :func:`load_audio`.
        ValueError: ``block_frames`` or ``max_seconds`` is not positive.
    """
    if block_frames <= 0:
        raise ValueError(f"block_frames must be positive, got {block_frames}")
    _check_max_seconds(max_seconds)
    _check_readable(path)
    _check_truncation(path)
    try:
        with _open(path) as file:
            rate = file.samplerate
            _check_length(path, file.frames, rate, max_seconds)
            block_frames = max(1, min(block_frames, MAX_BLOCK_SAMPLES // max(file.channels, 1)))
            total = 0
            while True:
                frames = _read(file, block_frames)
                if frames.shape[0] == 0:
                    break
                total += frames.shape[0]
                _check_length(path, total, rate, max_seconds)
                _check_finite(path, frames)
                yield frames.T
            _check_decoded_length(path, file, total)
    except _SOUNDFILE_ERRORS as error:
        raise _unsupported(path, error) from None
    if total == 0:
        raise AudioError(path, "no samples")


def resample(samples, orig_rate, target_rate):
    """Resamples each channel with soxr at 'HQ' quality.

    Args:
        samples: ``(channels, n)`` array.
        orig_rate: its sample rate in Hz.
        target_rate: the rate wanted, in Hz.

    Returns:
        ``(channels, m)`` float32 array, ``m`` about
        ``n * target_rate / orig_rate``; ``samples`` itself (as float32)
        when the rates are equal.

    Raises:
        ValueError: ``samples`` is not 2-D or a rate is not positive.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 2:
        raise ValueError(f"samples must be (channels, n), got shape {samples.shape}")
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(f"rates must be positive, got {orig_rate} and {target_rate}")
    if orig_rate == target_rate:
        return samples
    if samples.shape[1] == 0:
        return samples
    # soxr takes (frames, channels) and filters each channel independently:
    # one call gives the same result as a loop over channels.
    frames = samples.T
    if frames.shape[0] == 1:  # soxr rejects the strides of a one-frame array
        frames = np.pad(frames, ((0, 1), (0, 0)))
    out = soxr.resample(np.ascontiguousarray(frames), orig_rate, target_rate, quality=SOXR_QUALITY)
    out = out[: int(np.ceil(samples.shape[1] * target_rate / orig_rate))]
    return np.ascontiguousarray(out.T, dtype=np.float32)


def _current_umask():
    # The only portable way to read the umask is to set it and restore it.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AudioWriter:
    """Writes a WAV or FLAC file chunk by chunk, atomically.

    The file is written under a temporary name in the target directory and
    renamed over ``path`` when the ``with`` block ends without an error, so
    readers never see half a file and a failed write leaves nothing behind
    (an existing file at ``path`` is kept). Chunks let a long output be
    written without holding it in memory.

    Samples are never rescaled: a separator's sources must still add up to
    the mixture. WAV's default float subtype keeps values beyond [-1, 1]
    exactly. Integer PCM subtypes (FLAC's default 24 bits, or a requested
    ``PCM_16``) cannot hold them, so they are clipped to [-1, 1] there;
    libsndfile would otherwise wrap them around to the opposite sign.

    Args:
        path: the output file (str or path-like); its directory must exist.
        sample_rate: sample rate in Hz.
        channels: channel count.
        format: ``"wav"`` or ``"flac"``; inferred from the extension of
            ``path`` when ``None``.
        subtype: a libsndfile subtype (``"FLOAT"``, ``"PCM_16"``,
            ``"PCM_24"``, ...); ``"FLOAT"`` for WAV and ``"PCM_24"`` for FLAC
            when ``None``.

    Raises:
        AudioError: the format is not WAV or FLAC, the subtype does not fit
            it, a chunk is not ``(channels, n)`` or holds NaN or infinite
            values (:func:`load_audio` would reject the file), or the file
            cannot be written (e.g. its directory does not exist).
        ValueError: ``sample_rate`` is not positive.

    Example:

    >>> with AudioWriter("out.wav", 44100, 2) as writer:   # doctest: +SKIP
    ...     for chunk in chunks:
    ...         writer.write(chunk)
    """

    def __init__(self, path, sample_rate, channels, format=None, subtype=None):
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.path = os.fspath(path)
        name = format or os.path.splitext(self.path)[1].lstrip(".")
        if name.lower() not in _OUTPUT_FORMATS:
            raise AudioError(self.path, f"unsupported output format {name!r} (use wav or flac)")
        self.major, default_subtype = _OUTPUT_FORMATS[name.lower()]
        self.subtype = (subtype or default_subtype).upper()
        if not soundfile.check_format(self.major, self.subtype):
            raise AudioError(self.path, f"subtype {self.subtype} is not valid for {self.major}")
        if channels < 1:
            raise AudioError(self.path, f"cannot write {channels} channels")
        self.sample_rate = sample_rate
        self.channels = channels
        self._tmp_path = None
        self._file = None

    def __enter__(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            with tempfile.NamedTemporaryFile(
                dir=directory, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp", delete=False
            ) as tmp:
                self._tmp_path = tmp.name
            self._file = soundfile.SoundFile(
                self._tmp_path, "w", self.sample_rate, self.channels,
                format=self.major, subtype=self.subtype,
            )
        except (OSError, *_SOUNDFILE_ERRORS) as error:
            self._discard()
            raise AudioError(self.path, f"cannot write file ({_describe(error)})") from None
        return self

    def check(self, samples):
        """``samples`` as they will be written; raises AudioError if they cannot be."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 2 or samples.shape[0] != self.channels:
            raise AudioError(
                self.path, f"samples must be ({self.channels}, n), got shape {samples.shape}"
            )
        if not np.isfinite(samples).all():
            raise AudioError(self.path, "contains NaN or infinite samples")
        if self.subtype.startswith("PCM"):
            samples = np.clip(samples, -1.0, 1.0)
        return samples

    def write(self, samples):
        """Append ``(channels, n)`` samples."""
        samples = self.check(samples)
        try:
            self._file.write(samples.T)
        except (OSError, *_SOUNDFILE_ERRORS) as error:
            raise AudioError(self.path, f"cannot write file ({_describe(error)})") from None

    def _discard(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tmp_path is not None:
            try:
                os.remove(self._tmp_path)
            except OSError:
                pass
            self._tmp_path = None

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            self._discard()
            return False
        try:
            self._file.close()
            self._file = None
            # NamedTemporaryFile creates the file private (0600); give the
            # result the mode any newly created file would have.
            os.chmod(self._tmp_path, 0o666 & ~_current_umask())
            os.replace(self._tmp_path, self.path)
            self._tmp_path = None
        except (OSError, *_SOUNDFILE_ERRORS) as error:
            self._discard()
            raise AudioError(self.path, f"cannot write file ({_describe(error)})") from None
        return False


def save_audio(path, samples, sample_rate, format=None, subtype=None):
    """Writes samples to a WAV or FLAC file at once, atomically.

    Args:
        path, sample_rate, format, subtype: as for :class:`AudioWriter`.
        samples: ``(channels, n)`` array, ``n >= 0``.

    Raises:
        AudioError, ValueError: as for :class:`AudioWriter`.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise AudioError(os.fspath(path), f"samples must be (channels, n), got shape {samples.shape}")
    writer = AudioWriter(path, sample_rate, samples.shape[0], format, subtype)
    writer.check(samples)  # refuse bad samples before a file is created
    with writer:
        writer.write(samples)
