"""``keras-sa stream`` and its WAV stream parser, on real audio through real pipes."""

import io
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from keras_sa.audio import AudioError, load_audio
from keras_sa.audio.wavstream import WavStreamReader, WavStreamWriter


class Pipe(io.RawIOBase):
    """A non-seekable stream that returns at most ``step`` bytes per read, as a pipe may."""

    def __init__(self, data, step=1000):
        self._data, self._position, self._step = data, 0, step

    def readable(self):
        return True

    def read(self, count=-1):
        count = self._step if count < 0 else min(count, self._step)
        part = self._data[self._position : self._position + count]
        self._position += len(part)
        return part


def wav_bytes(samples, rate, subtype, sizes=0xFFFFFFFF, extra_chunk=False):
    """``samples`` (channels, n) as WAV bytes written by libsndfile, the sizes replaced by ``sizes``."""
    buffer = io.BytesIO()
    sf.write(buffer, samples.T, rate, format="WAV", subtype=subtype)
    data = bytearray(buffer.getvalue())
    start = data.index(b"data")
    if extra_chunk:  # a LIST chunk of odd length, with its pad byte, before the data
        data[start:start] = b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"
        start += 14
    if sizes is not None:
        data[4:8] = struct.pack("<I", sizes)
        data[start + 4 : start + 8] = struct.pack("<I", sizes)
    return bytes(data)


@pytest.fixture(scope="module")
def song(shared_data):
    return shared_data / "songs" / "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"


@pytest.fixture(scope="module")
def excerpt(song):
    samples, rate = load_audio(song)
    return samples[:, : 3 * rate], rate


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
@pytest.mark.parametrize("sizes", [0xFFFFFFFF, 0, None])
def test_reader_matches_libsndfile(excerpt, subtype, sizes):
    samples, rate = excerpt
    data = wav_bytes(samples, rate, subtype, sizes, extra_chunk=subtype == "PCM_16")
    expected, _ = sf.read(io.BytesIO(wav_bytes(samples, rate, subtype, None)), dtype="float32", always_2d=True)
    reader = WavStreamReader(Pipe(data), "pipe")
    assert (reader.sample_rate, reader.channels) == (rate, 2)
    assert reader.data_size == (None if sizes is not None else expected.size * reader.bits // 8)
    blocks = list(reader.blocks(1000))
    assert all(block.shape == (2, 1000) for block in blocks[:-1])
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), expected.T)


def test_reader_takes_wave_format_extensible(excerpt):
    samples, rate = excerpt
    buffer = io.BytesIO()
    sf.write(buffer, samples.T, rate, format="WAVEX", subtype="PCM_24")
    data = bytearray(buffer.getvalue())
    assert struct.unpack("<H", data[20:22])[0] == 0xFFFE
    start = data.index(b"data")
    data[start + 4 : start + 8] = struct.pack("<I", 0xFFFFFFFF)
    decoded = np.concatenate(list(WavStreamReader(Pipe(bytes(data))).blocks(4096)), axis=1)
    np.testing.assert_array_equal(decoded, sf.read(io.BytesIO(buffer.getvalue()), dtype="float32")[0].T)


def test_writer_output_reads_back(excerpt):
    samples, rate = excerpt
    for sample_format, tolerance in (("f32", 0), ("s16", 0.5 / 32768 + 1e-7)):
        out = io.BytesIO()
        writer = WavStreamWriter(out, rate, 2, sample_format)
        writer.write(samples[:, :5000])
        writer.write(samples[:, 5000:5000])
        writer.write(samples[:, 5000:])
        data = out.getvalue()
        assert data[4:8] == data[40:44] == b"\xff\xff\xff\xff"
        decoded = np.concatenate(list(WavStreamReader(Pipe(data)).blocks(777)), axis=1)
        expected = samples if sample_format == "f32" else np.clip(samples, -1, 32767 / 32768)
        np.testing.assert_allclose(decoded, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty stream"),
        (b"ID3\x04\x00 not a wav at all", "not a WAV stream"),
        (b"RIFF\xff\xff\xff\xffAVI LIST", "not a WAV stream"),
        (b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00", "ends inside the fmt chunk"),
        (b"RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff", "without a fmt chunk"),
        (b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00" + struct.pack("<HHIIHH", 2, 1, 8000, 4000, 1, 4),
         "unsupported WAV sample format"),
    ],
)
def test_reader_refuses_bad_headers_in_one_line(data, message):
    with pytest.raises(AudioError, match=message) as error:
        reader = WavStreamReader(Pipe(data), "stdin")
        list(reader.blocks(100))
    assert "\n" not in str(error.value) and str(error.value).startswith("stdin: ")


def test_reader_refuses_truncated_data(excerpt):
    samples, rate = excerpt
    data = wav_bytes(samples, rate, "PCM_16")
    with pytest.raises(AudioError, match="ends inside a sample frame"):
        list(WavStreamReader(Pipe(data[:-1])).blocks(4096))
    exact = wav_bytes(samples, rate, "PCM_16", sizes=None)  # its data size is known: a short stream is cut
    with pytest.raises(AudioError, match=r"truncated: header declares [\d.]+ s of audio, the file holds [\d.]+ s"):
        list(WavStreamReader(Pipe(exact[:-400])).blocks(4096))


def run_stream(stdin, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "keras_sa.cli", "stream", *args], input=stdin,
                          capture_output=True, timeout=timeout)


@pytest.mark.parametrize("backend", [[], ["--backend", "keras"]])
def test_stream_equals_separate(tmp_path, song, backend):
    """The whole stream is separate's accompaniment, sample for sample, at the input's rate and channels."""
    samples, rate = load_audio(song)
    out = tmp_path / "out"
    separated = subprocess.run([sys.executable, "-m", "keras_sa.cli", "separate", str(song), "-o", str(out),
                                "-q", *backend], capture_output=True, text=True, timeout=300)
    assert separated.returncode == 0, separated.stderr
    result = run_stream(wav_bytes(samples, rate, "FLOAT"), "--stem", "accompaniment", *backend)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    reader = WavStreamReader(io.BytesIO(result.stdout))
    assert (reader.sample_rate, reader.channels, reader.data_size) == (rate, 2, None)
    streamed = np.concatenate(list(reader.blocks(1 << 16)), axis=1)
    expected, _ = load_audio(out / song.stem / "accompaniment.wav")
    assert streamed.shape == samples.shape
    np.testing.assert_allclose(streamed, expected, atol=1e-3)
    assert np.max(np.abs(streamed - samples)) > 0.05  # something was separated


def test_stream_vocals_as_16_bit(excerpt):
    samples, rate = excerpt
    mono = samples[:1]
    result = run_stream(wav_bytes(mono, rate, "PCM_16", sizes=0), "--stem", "vocals", "--format", "s16")
    assert result.returncode == 0, result.stderr.decode()
    reader = WavStreamReader(io.BytesIO(result.stdout))
    assert (reader.channels, reader.bits, reader.is_float) == (1, 16, False)
    vocals = np.concatenate(list(reader.blocks(1 << 16)), axis=1)
    assert vocals.shape == mono.shape and 0 < np.max(np.abs(vocals)) <= 1


@pytest.mark.parametrize("case", ["not wav", "truncated", "nan"])
def test_bad_stdin_is_one_line(excerpt, case):
    samples, rate = excerpt
    if case == "not wav":
        data = b"OggS" + bytes(2000)
    elif case == "truncated":
        data = wav_bytes(samples, rate, "PCM_24")[:-2]
    else:
        poisoned = samples.copy()
        poisoned[1, rate] = np.nan
        data = wav_bytes(poisoned, rate, "FLOAT")
    result = run_stream(data)
    err = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1
    assert len(err) == 1 and err[0].startswith("keras-sa: error: stdin: "), err
    assert {"not wav": "not a WAV stream", "truncated": "truncated", "nan": "NaN"}[case] in err[0]


def test_closed_stdout_ends_quietly(song):
    samples, rate = load_audio(song)
    data = wav_bytes(samples, rate, "FLOAT")
    process = subprocess.Popen([sys.executable, "-m", "keras_sa.cli", "stream"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        process.stdin.write(data[:4096])  # the header and a few samples: the output header follows
        process.stdin.flush()
        header = process.stdout.read(44)
        process.stdout.close()  # the reader goes away
        process.stdin.write(data[4096:])
        process.stdin.close()
    except BrokenPipeError:  # it may already have exited
        pass
    assert process.wait(timeout=300) == 0
    assert header[:4] == b"RIFF" and process.stderr.read() == b""
