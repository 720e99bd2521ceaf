"""Bad input, each class by name: one line on stderr, exit code 1, no output, from every entry point.

The classes are those of docs/reliability.md. Files are synthesized here
(tones and noise written with libsndfile, then cut or patched), so each
test says exactly what is wrong with its input. Every run goes through the
real command (``python -m keras_sa.cli``) with the default TFLite model, so
what is checked is what a user's terminal shows, native libraries' lines
included.
"""

import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from keras_sa.audio import AudioError, audio_info, load_audio
from keras_sa.audio.headers import truncation_reason
from keras_sa.audio.io import read_blocks
from keras_sa.audio.wavstream import WavStreamReader

RATE = 8000
TRUNCATED = r"truncated: header declares \d+\.\d\d s of audio, the file holds \d+\.\d\d s"


def run_cli(*args, stdin=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "keras_sa.cli", *args], input=stdin, capture_output=True,
                          timeout=timeout)


def noise(frames, channels=2, rate=RATE):
    del rate
    return (0.2 * np.random.default_rng(frames).standard_normal((frames, channels))).astype(np.float32)


def wav_bytes(samples, rate=RATE, subtype="PCM_16", fmt="WAV"):
    import io

    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def data_offset(data):
    return data.index(b"data") + 8


def patch(data, offset, fmt, value):
    data = bytearray(data)
    data[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(data)


def rf64(samples):
    """A 16-bit RF64 file with its data size in ds64."""
    pcm = np.round(samples * 32767).astype("<i2").tobytes()
    channels = samples.shape[1]
    fmt = struct.pack("<HHIIHH", 1, channels, RATE, RATE * 2 * channels, 2 * channels, 16)
    body = b"WAVE" + b"ds64" + struct.pack("<IQQQI", 28, 0, len(pcm), len(pcm) // (2 * channels), 0)
    body += b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF) + pcm
    return b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body


def _header_declares(data, seconds):
    return patch(data, data_offset(data) - 4, "<I", int(seconds * RATE) * 4)


def _damaged_mp3():
    mp3 = wav_bytes(noise(4 * RATE), fmt="MP3", subtype="MPEG_LAYER_III")
    return mp3[: len(mp3) // 3] + bytes(len(mp3) // 6) + mp3[len(mp3) // 2 :]


def _bad_files():
    """``{file name: (bytes or None for a folder, expected reason)}`` of every bad-file class."""
    two_s = wav_bytes(noise(2 * RATE))
    nan, inf, both, big = noise(RATE), noise(RATE), noise(RATE), noise(RATE).astype(np.float64)
    nan[100, 1] = np.nan
    inf[7, 0] = np.inf
    both[5, 0], both[6, 1] = np.inf, -np.inf
    big[10, 0] = 1e300
    flac = wav_bytes(noise(4 * RATE), fmt="FLAC")
    aiff = wav_bytes(noise(2 * RATE), fmt="AIFF")
    unknown = patch(two_s, data_offset(two_s) - 4, "<I", 0xFFFFFFFF)
    return {
        "empty.wav": (b"", "empty file"),
        "random.wav": (np.random.default_rng(0).bytes(4096), "unsupported or corrupt audio file"),
        "text.mp3": (b"this is not an mp3 file\n" * 20, "unsupported or corrupt audio file (no audio stream it can decode)"),
        "text.flac": (b"fLaC but not really\n" * 20, "unsupported or corrupt audio file"),
        "text.ogg": (b"OggS and then nothing\n" * 20, "unsupported or corrupt audio file"),
        "cut_in_header.wav": (two_s[:20], "unsupported or corrupt audio file"),
        "header_only.wav": (two_s[:44], "truncated: header declares 2.00 s of audio, the file holds 0.00 s"),
        "cut_in_data.wav": (two_s[: 44 + RATE * 4 // 2], "truncated: header declares 2.00 s of audio, the file holds 0.50 s"),
        "data_size_2gb.wav": (patch(two_s, 40, "<I", 2_000_000_000), "truncated: header declares 62500.00 s of audio, the file holds 2.00 s"),
        "declares_more.wav": (_header_declares(two_s, 3.0), "truncated: header declares 3.00 s of audio, the file holds 2.00 s"),
        "cut_in_data.aiff": (aiff[: len(aiff) // 2], TRUNCATED),
        "cut_in_data_rf64.wav": (rf64(noise(2 * RATE))[: 200 + RATE * 4], TRUNCATED),
        "unknown_size_cut_in_frame.wav": (unknown[:-1], "truncated (it ends inside a sample frame)"),
        "one_hertz.wav": (wav_bytes(noise(20), rate=1), "unsupported sample rate: 1 Hz cannot be resampled to 16000 Hz"),
        "zero_channels.wav": (patch(two_s, 22, "<H", 0), "unsupported or corrupt audio file"),
        "zero_hertz.wav": (patch(two_s, 24, "<I", 0), "unsupported or corrupt audio file"),
        "nan.wav": (wav_bytes(nan, subtype="FLOAT"), "contains NaN or infinite samples"),
        "inf.wav": (wav_bytes(inf, subtype="FLOAT"), "contains NaN or infinite samples"),
        "plus_and_minus_inf.wav": (wav_bytes(both, subtype="FLOAT"), "contains NaN or infinite samples"),
        "double_beyond_float.wav": (wav_bytes(big, subtype="DOUBLE"), "contains NaN or infinite samples"),
        "cut.flac": (flac[: len(flac) // 2], "unsupported or corrupt audio file"),
        "no_samples.wav": (patch(two_s[:44], 40, "<I", 0), "no samples"),
        "zeros_in_the_middle.mp3": (_damaged_mp3(), "unsupported or corrupt audio file"),
    }


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    expected = {}
    for name, (data, reason) in _bad_files().items():
        path = folder / name
        path.write_bytes(data)
        expected[str(path)] = reason
    return expected


def test_every_bad_file_gets_one_line_and_the_batch_goes_on(tmp_path, bad_files):
    good = tmp_path / "good.wav"
    sf.write(good, noise(RATE), RATE)
    missing = tmp_path / "missing.wav"
    out = tmp_path / "out"
    result = run_cli("separate", *bad_files, str(missing), str(good), "-o", str(out), "-q")
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 1
    expected = {**bad_files, str(missing): "file not found"}
    # One line per bad input, the count, and nothing else: no traceback, warning or decoder note.
    assert len(lines) == len(expected) + 1, lines
    assert lines[-1] == f"keras-sa: error: {len(expected)} of {len(expected) + 1} input(s) failed"
    for path, reason in expected.items():
        (line,) = [line for line in lines if line.startswith(f"keras-sa: error: {path}: ")]
        assert re.search(reason if reason == TRUNCATED else re.escape(reason), line), line
    assert sorted(os.listdir(out)) == ["good"]
    assert sorted(os.listdir(out / "good")) == ["accompaniment.wav", "vocals.wav"]


def test_a_folder_without_audio_is_one_line(tmp_path):
    folder = tmp_path / "x.wav"  # a folder with an audio suffix
    folder.mkdir()
    result = run_cli("separate", str(folder), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [f"keras-sa: error: {folder}: no audio files in folder"]
    with pytest.raises(AudioError, match="is a directory"):
        audio_info(folder)


@pytest.mark.parametrize("name", ["cut_in_data.wav", "data_size_2gb.wav", "text.mp3", "one_hertz.wav"])
def test_a_single_bad_file_is_exactly_one_line(tmp_path, bad_files, name):
    path = next(path for path in bad_files if path.endswith(os.sep + name))
    out = tmp_path / "out"
    result = run_cli("separate", path, "-o", str(out), "-q")
    assert result.returncode == 1
    (line,) = result.stderr.decode().splitlines()
    assert line.startswith(f"keras-sa: error: {path}: {bad_files[path]}")
    assert os.listdir(out) == []


def test_truncation_is_one_message_from_separate_stream_and_the_api(tmp_path):
    """The policy: refuse, with the same words, whichever way the file comes in."""
    path = tmp_path / "song.wav"
    path.write_bytes(wav_bytes(noise(2 * RATE))[: 44 + RATE * 4 // 2])
    reason = truncation_reason(2.0, 0.5)
    assert reason == "truncated: header declares 2.00 s of audio, the file holds 0.50 s"
    for call in (audio_info, load_audio, lambda p: list(read_blocks(p, 4096))):
        with pytest.raises(AudioError) as raised:
            call(path)
        assert str(raised.value) == f"{path}: {reason}"
    separate = run_cli("separate", str(path), "-o", str(tmp_path / "out"))
    assert separate.stderr.decode() == f"keras-sa: error: {path}: {reason}\n"
    stream = run_cli("stream", stdin=path.read_bytes())
    assert stream.returncode == 1
    assert stream.stderr.decode() == f"keras-sa: error: stdin: {reason}\n"


def test_streaming_unknown_size_markers_are_not_truncation(tmp_path):
    data = wav_bytes(noise(RATE))
    for marker in (0, 0xFFFFFFFF):
        path = tmp_path / f"marker_{marker}.wav"
        path.write_bytes(patch(patch(data, 4, "<I", 0xFFFFFFFF), data_offset(data) - 4, "<I", marker))
        assert audio_info(path)[2] == RATE
        assert load_audio(path)[0].shape == (2, RATE)


def test_odd_but_valid_files_are_separated_quietly(tmp_path):
    """Files the issue's battery fed in that must work: what is there is separated, nothing else printed."""
    ogg, mp3 = wav_bytes(noise(4 * RATE), fmt="OGG", subtype="VORBIS"), wav_bytes(noise(4 * RATE), fmt="MP3", subtype="MPEG_LAYER_III")
    files = {
        "cut.ogg": ogg[: len(ogg) // 2],  # Ogg declares no length: what is there is the song
        "cut_mp3.mp3": mp3[: len(mp3) // 2],
        "mp3_named.flac": mp3,
        "wide.wav": wav_bytes(noise(2000, channels=32), rate=768000, subtype="FLOAT"),
        "single_sample.wav": wav_bytes(noise(1, channels=1)),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    result = run_cli("separate", *(str(tmp_path / name) for name in files), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    for name in files:
        stem = os.path.splitext(name)[0]
        vocals, rate = load_audio(out / stem / "vocals.wav")
        assert rate == audio_info(tmp_path / name)[0]


STREAM_CASES = {
    "empty": (b"", "stdin: empty stream (no WAV header)"),
    "not_wav": (b"ID3\x04\x00 an mp3 tag", "stdin: not a WAV stream"),
    "cut_in_header": (wav_bytes(noise(100))[:30], "stdin: truncated WAV stream (it ends inside the fmt chunk)"),
    "no_fmt": (b"RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff", "stdin: WAV stream without a fmt chunk before its data"),
    "adpcm": (patch(wav_bytes(noise(100)), 20, "<H", 2), "stdin: unsupported WAV sample format (format 0x0002, 16 bits"),
    "fmt_4gb": (b"RIFF\xff\xff\xff\xffWAVEfmt \xfe\xff\xff\xff" + bytes(64), "stdin: WAV fmt chunk of 4294967294 bytes (at most 65536)"),
    "too_many_channels": (patch(patch(wav_bytes(noise(100)), 22, "<H", 2000), 32, "<H", 4000), "stdin: WAV header with 2000 channels (at most 1024)"),
    "block_align": (patch(wav_bytes(noise(100)), 32, "<H", 3), "stdin: WAV block align 3, expected 4"),
    "zero_hertz": (patch(wav_bytes(noise(100)), 24, "<I", 0), "stdin: WAV header with 2 channels at 0 Hz"),
    "truncated": (wav_bytes(noise(2 * RATE))[: 44 + RATE * 4 // 2], "stdin: truncated: header declares 2.00 s of audio, the file holds 0.50 s"),
    "cut_in_frame": (patch(wav_bytes(noise(RATE)), 40, "<I", 0xFFFFFFFF)[:-1], "stdin: truncated (it ends inside a sample frame)"),
    "one_hertz": (wav_bytes(noise(20), rate=1), "stdin: unsupported sample rate: 1 Hz cannot be resampled to 16000 Hz"),
    "plus_and_minus_inf": (None, "contains NaN or infinite samples"),
}


@pytest.mark.parametrize("case", list(STREAM_CASES))
def test_every_bad_stream_gets_one_line(case):
    data, reason = STREAM_CASES[case]
    if data is None:
        samples = noise(RATE)
        samples[5, 0], samples[6, 1] = np.inf, -np.inf
        data = wav_bytes(samples, subtype="FLOAT")
    result = run_cli("stream", stdin=data)
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("keras-sa: error: ") and reason in lines[0], lines


def test_stream_reader_never_reads_what_a_size_field_claims():
    """A fmt chunk that claims 4 GB is refused after its 8-byte header, without reading on."""
    import io

    class Counting(io.BytesIO):
        asked = 0

        def read(self, size=-1):
            Counting.asked = max(Counting.asked, size)
            return super().read(size)

    with pytest.raises(AudioError, match="fmt chunk of"):
        WavStreamReader(Counting(STREAM_CASES["fmt_4gb"][0]), "stdin")
    assert Counting.asked <= 1 << 16


def test_stream_refuses_a_terminal_in_one_line():
    import pty

    main, secondary = pty.openpty()
    try:
        with open(os.devnull, "wb") as sink:
            result = subprocess.run([sys.executable, "-m", "keras_sa.cli", "stream"], stdin=secondary, stdout=sink,
                                    stderr=subprocess.PIPE, timeout=120)
        assert result.returncode == 1
        assert result.stderr.decode().splitlines() == [
            "keras-sa: error: stdin is a terminal: pipe a WAV stream in (ffmpeg -i SONG -f wav - | keras-sa stream)"
        ]
        result = subprocess.run([sys.executable, "-m", "keras_sa.cli", "stream"], input=wav_bytes(noise(100)),
                                stdout=secondary, stderr=subprocess.PIPE, timeout=120)
        assert result.returncode == 1
        assert result.stderr.decode().splitlines()[0].startswith("keras-sa: error: stdout is a terminal")
    finally:
        os.close(main)
        os.close(secondary)


def test_output_and_length_limits_are_one_line(tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(wav_bytes(noise(2 * RATE)))
    result = run_cli("separate", str(song), "-o", str(tmp_path / "out"), "--max-seconds", "1", "-q")
    assert result.stderr.decode().splitlines() == [f"keras-sa: error: {song}: too long (2.0 s; the limit is 1 s)"]
    blocked = tmp_path / "a_file"
    blocked.write_text("x")
    result = run_cli("separate", str(song), "-o", str(blocked / "out"))
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [f"keras-sa: error: {blocked / 'out'}: cannot create output folder (Not a directory)"]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = run_cli("separate", str(song), "-o", str(locked))
        assert result.stderr.decode().splitlines() == [f"keras-sa: error: {locked}: output folder is not writable"]


def test_a_missing_partial_last_frame_is_not_truncation(tmp_path):
    """Whole frames decide, as in the Java core and the web page: no audio is lost to a partial frame."""
    from keras_sa.audio.headers import truncation

    data = wav_bytes(noise(RATE // 10))  # stereo 16-bit: 4 bytes a frame
    frames = RATE // 10
    path = tmp_path / "partial.wav"
    path.write_bytes(patch(data, data_offset(data) - 4, "<I", 4 * frames + 3))
    assert truncation(path) is None
    assert audio_info(str(path))[2] == frames
    path.write_bytes(patch(data, data_offset(data) - 4, "<I", 4 * (frames + 1) + 3))
    assert truncation(path) == truncation_reason((frames + 1) / RATE, frames / RATE)
