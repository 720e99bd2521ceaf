"""What a WAV or AIFF header declares, checked against what the file holds.

libsndfile quietly clamps a WAV or AIFF file whose header declares more
audio than the file holds (a half-downloaded file, a copy cut short) to
what is there, so a truncated song would be separated as if it were whole.
keras_sa refuses such a file instead, with one reason that every entry
point gives word for word (:func:`truncation_reason`): the ``separate`` and
``stream`` commands, the Python API, the Java ``WavReader`` and the web
page.

Only the chunk headers are read (a few bytes each, at most
:data:`MAX_CHUNKS` of them), never the sizes they claim: a header cannot
make this module allocate or read more than a few hundred bytes.

The streaming "unknown size" markers (a ``data`` size of 0 or
``0xFFFFFFFF``, as a program writing into a pipe leaves them) are not
truncation: such a file is read to its end.
"""

import math
import os
import struct

#: ``data`` sizes that mean "unknown: up to the end of the file" (ffmpeg's ``-f wav -``).
UNKNOWN_DATA_SIZES = (0, 0xFFFFFFFF)

#: Chunks looked at before the check gives up (and leaves the file to libsndfile).
MAX_CHUNKS = 4096

# WAV format tags whose frames are block_align bytes each.
_FRAME_TAGS = (0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE)
# AIFF-C compression types with a fixed sample size (bytes; 0: the COMM bit depth).
_AIFC_SAMPLE_BYTES = {
    b"NONE": 0, b"twos": 0, b"sowt": 0, b"raw ": 0, b"in24": 3, b"in32": 4,
    b"fl32": 4, b"FL32": 4, b"fl64": 8, b"FL64": 8, b"ulaw": 1, b"ULAW": 1, b"alaw": 1, b"ALAW": 1,
}


def truncation_reason(declared_seconds, held_seconds):
    """The one-line reason for a truncated input, the same from every entry point.

    Args:
        declared_seconds: audio the header declares, in seconds.
        held_seconds: audio the file (or stream) holds, in seconds.

    Returns:
        ``"truncated: header declares X s of audio, the file holds Y s"``,
        both figures with two decimals.
    """
    return f"truncated: header declares {declared_seconds:.2f} s of audio, the file holds {held_seconds:.2f} s"


#: The reason for WAV samples that stop inside a sample frame.
PARTIAL_FRAME_REASON = "truncated (it ends inside a sample frame)"


def truncation(path):
    """Why a WAV or AIFF file's header and contents disagree, or ``None``.

    Args:
        path: the file (str or path-like); any format: only WAV (RIFF,
            RF64) and AIFF / AIFF-C headers are checked.

    Returns:
        :func:`truncation_reason`'s text when the header declares more
        audio than the file holds, :data:`PARTIAL_FRAME_REASON` when a WAV
        of unknown data size ends inside a sample frame, else ``None``
        (also for headers too odd to judge, which libsndfile then reads
        or refuses).

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        head = file.read(12)
        if len(head) < 12:
            return None
        if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
            return _wav(file, size, head[:4] == b"RF64")
        if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            return _aiff(file, size)
    return None


def zero_data_size(path):
    """The offset of a WAV file's ``data`` size field when it holds the 0 marker, else ``None``.

    libsndfile reads a WAV whose ``data`` size is ``0xFFFFFFFF`` to the end
    of the file, but one whose size is 0 (the other marker programs writing
    into a pipe leave) as empty; :func:`keras_sa.audio.io` reads such a file
    with the field seen as ``0xFFFFFFFF``, as the stream reader does.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        for chunk, offset, length in _chunks(file, size, "<"):
            if chunk == b"data":
                return offset - 4 if length == 0 and offset < size else None
    return None


def _chunks(file, size, endian):
    """``(id, body offset, declared size)`` of each chunk after the 12-byte file header."""
    position = 12
    for _ in range(MAX_CHUNKS):
        if position + 8 > size:
            return
        file.seek(position)
        header = file.read(8)
        if len(header) < 8:  # the file shrank while it was read
            return
        chunk, length = struct.unpack(endian + "4sI", header)
        yield chunk, position + 8, length
        position += 8 + length + (length & 1)


def _read_at(file, offset, count):
    file.seek(offset)
    return file.read(count)


def _wav(file, size, rf64):
    fmt = rf64_data_size = None
    for chunk, offset, length in _chunks(file, size, "<"):
        if chunk == b"fmt " and length >= 16:
            fmt = struct.unpack("<HHIIHH", _read_at(file, offset, 16).ljust(16, b"\0"))
        elif chunk == b"ds64" and length >= 16:
            rf64_data_size = struct.unpack("<Q", _read_at(file, offset + 8, 8).ljust(8, b"\0"))[0]
        elif chunk == b"data":
            break
    else:
        return None
    if fmt is None:
        return None
    tag, _, rate, byte_rate, block_align, _ = fmt
    held = size - offset
    if rf64 and length == 0xFFFFFFFF and rf64_data_size is not None:
        length = rf64_data_size
    elif length in UNKNOWN_DATA_SIZES:
        if tag in _FRAME_TAGS and block_align and held % block_align:
            return PARTIAL_FRAME_REASON
        return None
    if tag in _FRAME_TAGS and block_align and rate:
        # Whole frames, as every reader decodes them: a data size that ends
        # in a partial frame whose bytes are missing loses no audio.
        declared, present = length // block_align, held // block_align
        if declared <= present:
            return None
        return truncation_reason(declared / rate, present / rate)
    if length <= held:
        return None
    if byte_rate:
        return truncation_reason(length / byte_rate, held / byte_rate)
    return None


def _aiff(file, size):
    comm = ssnd = None
    for chunk, offset, length in _chunks(file, size, ">"):
        if chunk == b"COMM" and length >= 18:
            comm = _read_at(file, offset, min(length, 22)).ljust(22, b"\0")
        elif chunk == b"SSND" and length >= 8:
            ssnd = offset, length
    if comm is None or ssnd is None:
        return None
    channels, frames, bits = struct.unpack(">HIH", comm[:8])
    rate = _extended(comm[8:18])
    sample_bytes = _AIFC_SAMPLE_BYTES.get(comm[18:22] if comm[18:22].strip(b"\0") else b"NONE")
    if sample_bytes is None or not channels or not bits or not 0 < rate < 1e9:
        return None
    frame_bytes = channels * (sample_bytes or -(-bits // 8))
    offset, length = ssnd
    start = offset + 8 + struct.unpack(">I", _read_at(file, offset, 4).ljust(4, b"\0"))[0]
    held = max(0, min(offset + length, size) - start) // frame_bytes
    if frames <= held:
        return None
    return truncation_reason(frames / rate, held / rate)


def _extended(data):
    """An IEEE 754 80-bit extended float (AIFF's sample rate); 0 when it is out of range."""
    exponent, mantissa = struct.unpack(">HQ", data)
    sign = -1 if exponent & 0x8000 else 1
    exponent &= 0x7FFF
    if exponent == 0 or exponent == 0x7FFF:
        return 0.0
    try:
        return sign * math.ldexp(mantissa, exponent - 16383 - 63)
    except OverflowError:
        return 0.0
