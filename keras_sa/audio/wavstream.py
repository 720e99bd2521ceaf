"""WAV as a stream: read from and write to pipes, headers of unknown length included.

A program that writes WAV into a pipe (``ffmpeg -i song.mp3 -f wav -``)
cannot go back to fill in the sizes, so its RIFF and ``data`` sizes are
placeholders, ``0xFFFFFFFF`` or 0, and the samples run to the end of the
stream. libsndfile and Python's ``wave`` need a seekable file or the true
sizes (``wave`` also has no float WAV), so this module parses the header
chunks itself and reads the samples in blocks from any binary stream.

Read: PCM 8 (unsigned), 16, 24 and 32-bit, IEEE float 32 and 64-bit,
plain or ``WAVE_FORMAT_EXTENSIBLE``, in ``RIFF`` or ``RF64`` files; chunks
before ``data`` (``LIST``, ``fact``, ...) are skipped. A ``data`` size that
is neither placeholder is honoured. Write: a header with the placeholder
sizes (``0xFFFFFFFF``, as ffmpeg writes) and 32-bit float or 16-bit PCM
samples.
"""

import struct

import numpy as np

from keras_sa.audio.headers import PARTIAL_FRAME_REASON, UNKNOWN_DATA_SIZES, truncation_reason
from keras_sa.audio.io import AudioError, _check_finite

#: ``data`` (and RIFF) sizes that mean "unknown: up to the end of the stream".
UNKNOWN_SIZES = UNKNOWN_DATA_SIZES

#: Largest ``fmt `` or ``ds64`` chunk read (``WAVE_FORMAT_EXTENSIBLE`` needs
#: 40 bytes): a header cannot make the reader hold what its size fields claim.
MAX_FORMAT_CHUNK = 1 << 16

#: Most channels accepted, libsndfile's own limit, so that a block of frames
#: stays a few megabytes whatever the header says.
MAX_CHANNELS = 1024

# Bytes asked of the stream per read call: BufferedReader.read(n) allocates
# n bytes before it knows how many will come.
_READ_PIECE = 1 << 20

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_KSDATAFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"  # GUID after the format tag

#: Output sample formats of :class:`WavStreamWriter`: (format tag, bits, numpy dtype).
OUTPUT_FORMATS = {"f32": (_FLOAT, 32, "<f4"), "s16": (_PCM, 16, "<i2")}


class WavStreamReader:
    """Reads a WAV stream's header at once, then its samples block by block.

    Args:
        stream: a binary stream (``sys.stdin.buffer``); it need not be seekable.
        name: what to call the stream in error messages.

    Attributes:
        sample_rate: Hz.
        channels: channel count.
        bits: bits per sample.
        is_float: IEEE float samples (else integer PCM).
        data_size: bytes of samples the header announces, or ``None`` for a
            stream of unknown length.

    Raises:
        AudioError: the stream is not WAV, its header is cut short, or its
            sample format is not one of those above.

    Example:

    >>> reader = WavStreamReader(sys.stdin.buffer, "stdin")      # doctest: +SKIP
    >>> for block in reader.blocks(4096):                         # doctest: +SKIP
    ...     print(block.shape)                                    # (channels, <= 4096) float32
    """

    def __init__(self, stream, name="stream"):
        self._stream = stream
        self.name = name
        riff = self._read(12)
        magic_ok = any(magic.startswith(riff[:4]) for magic in (b"RIFF", b"RF64"))
        if not riff:
            raise AudioError(name, "empty stream (no WAV header)")
        if not magic_ok or (len(riff) == 12 and riff[8:12] != b"WAVE"):
            raise AudioError(name, f"not a WAV stream (it starts with {riff[:12]!r})")
        if len(riff) < 12:
            raise AudioError(name, "truncated WAV stream (it ends inside the header)")
        rf64_data_size = None
        fmt = None
        while True:
            chunk, size = struct.unpack("<4sI", self._read_exactly(8, "header"))
            if chunk == b"data":
                break
            if chunk in (b"fmt ", b"ds64"):
                if size > MAX_FORMAT_CHUNK:
                    raise AudioError(name, f"WAV {chunk.decode().strip()} chunk of {size} bytes (at most {MAX_FORMAT_CHUNK})")
                body = self._read_exactly(size, f"{chunk.decode().strip()} chunk")
                if chunk == b"fmt ":
                    fmt = body
                    self._parse_format(fmt)
                elif len(body) >= 16:
                    rf64_data_size = struct.unpack("<Q", body[8:16])[0]
            else:
                self._skip(size, chunk)
            if size % 2:
                self._skip(1, chunk)
        if fmt is None:
            raise AudioError(name, "WAV stream without a fmt chunk before its data")
        if riff[:4] == b"RF64" and size == 0xFFFFFFFF and rf64_data_size is not None:
            size = rf64_data_size
        self.data_size = None if size in UNKNOWN_SIZES or size == 0xFFFFFFFFFFFFFFFF else size
        # Bytes of a last, partial frame are not audio; libsndfile drops them too.
        self._left = None if self.data_size is None else self.data_size - self.data_size % self.block_align
        self._received = 0

    def _read_exactly(self, count, what):
        data = self._read(count)
        if len(data) < count:
            raise AudioError(self.name, f"truncated WAV stream (it ends inside the {what})")
        return data

    def _read(self, count):
        parts, got = [], 0
        while got < count:  # a raw pipe may return less than asked before the end
            part = self._stream.read(min(count - got, _READ_PIECE))
            if not part:
                break
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def _skip(self, count, chunk):
        while count:
            part = self._read(min(count, 1 << 16))
            if not part:
                raise AudioError(self.name, f"truncated WAV stream (it ends inside a {chunk!r} chunk)")
            count -= len(part)

    def _parse_format(self, fmt):
        if len(fmt) < 16:
            raise AudioError(self.name, f"WAV fmt chunk of {len(fmt)} bytes (at least 16 expected)")
        tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
        if tag == _EXTENSIBLE:
            if len(fmt) < 40 or fmt[26:40] != _KSDATAFORMAT_TAIL:
                raise AudioError(self.name, "WAVE_FORMAT_EXTENSIBLE with an unknown sub-format")
            tag = struct.unpack("<H", fmt[24:26])[0]
        supported = {_PCM: (8, 16, 24, 32), _FLOAT: (32, 64)}
        if tag not in supported or bits not in supported[tag]:
            kind = {_PCM: "PCM", _FLOAT: "float"}.get(tag, f"format 0x{tag:04x}")
            raise AudioError(
                self.name, f"unsupported WAV sample format ({kind}, {bits} bits; expected PCM 8/16/24/32 or float 32/64)"
            )
        if channels < 1 or rate < 1:
            raise AudioError(self.name, f"WAV header with {channels} channels at {rate} Hz")
        if channels > MAX_CHANNELS:
            raise AudioError(self.name, f"WAV header with {channels} channels (at most {MAX_CHANNELS})")
        if block_align != channels * bits // 8:
            raise AudioError(self.name, f"WAV block align {block_align}, expected {channels * bits // 8}")
        self.sample_rate, self.channels, self.bits = rate, channels, bits
        self.is_float = tag == _FLOAT
        self.block_align = block_align

    def _decode(self, data):
        if self.is_float:
            # A double beyond float32's range becomes infinite, and a NaN
            # stays NaN, as libsndfile makes them; both are refused
            # downstream, without a RuntimeWarning here.
            with np.errstate(over="ignore", invalid="ignore"):
                samples = np.frombuffer(data, "<f4" if self.bits == 32 else "<f8").astype(np.float32)
        elif self.bits == 8:
            samples = (np.frombuffer(data, np.uint8).astype(np.float32) - 128) / 128
        elif self.bits == 24:
            raw = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
            values = (raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)) << 8  # sign in bit 31
            samples = values.astype(np.float32) / 2.0**31
        else:
            dtype = "<i2" if self.bits == 16 else "<i4"
            samples = np.frombuffer(data, dtype).astype(np.float32) / float(2 ** (self.bits - 1))
        return samples.reshape(-1, self.channels).T

    def read(self, frames):
        """The next ``frames`` frames or fewer at the end, ``(channels, n)`` float32 (``n`` 0 at the end).

        Raises:
            AudioError: the stream ends inside a frame, or before the
                ``data`` size its header announced, or holds NaN or
                infinite samples.
        """
        want = frames * self.block_align
        if self._left is not None:
            want = min(want, self._left)
        data = self._read(want)
        self._received += len(data)
        if self._left is not None:
            self._left -= len(data)
            if len(data) < want:
                raise AudioError(
                    self.name, truncation_reason(self.data_size // self.block_align / self.sample_rate,
                                                 self._received // self.block_align / self.sample_rate)
                )
        if len(data) % self.block_align:
            raise AudioError(self.name, PARTIAL_FRAME_REASON)
        samples = self._decode(data)
        _check_finite(self.name, samples)  # the words read_blocks uses for a file
        return samples

    def blocks(self, frames):
        """Yields ``(channels, n)`` float32 blocks of ``frames`` frames (the last may be shorter) to the end."""
        while True:
            block = self.read(frames)
            if block.shape[1] == 0:
                return
            yield block


class WavStreamWriter:
    """Writes a WAV stream: a header of unknown length, then samples as they come.

    Args:
        stream: a binary stream (``sys.stdout.buffer``).
        sample_rate: Hz.
        channels: channel count.
        sample_format: ``"f32"`` (32-bit float) or ``"s16"`` (16-bit PCM:
            ``round(x * 32768)``, clipped to the 16-bit range).

    The header is written at once; :meth:`write` writes and flushes each
    piece, so a reader downstream gets the samples as soon as they exist.
    """

    def __init__(self, stream, sample_rate, channels, sample_format="f32"):
        self._stream = stream
        self.channels = channels
        tag, bits, self._dtype = OUTPUT_FORMATS[sample_format]
        block_align = channels * bits // 8
        header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
        header += b"fmt " + struct.pack("<IHHIIHH", 16, tag, channels, sample_rate, sample_rate * block_align,
                                        block_align, bits)
        header += b"data" + struct.pack("<I", 0xFFFFFFFF)
        stream.write(header)
        stream.flush()

    def write(self, samples):
        """Writes ``(channels, n)`` float samples and flushes."""
        if samples.shape[1] == 0:
            return
        frames = samples.T
        if self._dtype == "<i2":  # the inverse of the reader's (and libsndfile's) division by 32768
            frames = np.clip(np.round(frames * 32768.0), -32768, 32767)
        self._stream.write(np.ascontiguousarray(frames, dtype=self._dtype).tobytes())
        self._stream.flush()
