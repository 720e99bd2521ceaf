"""Tests of keras_sa.audio.io: decoding, resampling, writing and bad input."""

import errno
import os

import numpy as np
import pytest
import soundfile

from keras_sa.audio import AudioError, audio_info, load_audio, resample, save_audio

CLIP = "amy_1_01"  # has both the Opus stems and the original stereo WAV
MP3 = "songs/Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"
OGG = "songs/Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
WAV = f"mir1k-wav-sample/Wavfile/{CLIP}.wav"


def _shared_file(shared_data, relative):
    path = shared_data / relative
    if not path.is_file():
        pytest.skip(f"{relative} not found in {shared_data}")
    return path


def _tone(frequency, rate, seconds, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    return np.tile(0.5 * np.sin(2 * np.pi * frequency * t), (channels, 1)).astype(np.float32)


# ---------------------------------------------------------------------------
# real files


def test_loads_mir1k_opus_stem(mir1k_root):
    path = mir1k_root / CLIP / "vocals.opus"
    samples, rate = load_audio(path)
    assert rate == 16000
    assert samples.dtype == np.float32
    assert samples.shape == (1, audio_info(path)[2])
    assert 0 < np.abs(samples).max() <= 1


def test_loads_mp3_song(shared_data):
    path = _shared_file(shared_data, MP3)
    samples, rate = load_audio(path)
    assert rate == 44100
    assert samples.dtype == np.float32
    assert samples.shape[0] == 2
    assert abs(samples.shape[1] / rate - 10.9) < 0.1
    assert audio_info(path)[:2] == (44100, 2)


def test_loads_ogg_vorbis_song(shared_data):
    samples, rate = load_audio(_shared_file(shared_data, OGG))
    assert rate == 44100
    assert samples.ndim == 2 and samples.shape[0] == 2
    assert samples.dtype == np.float32


def test_loads_original_mir1k_wav_channels_first(shared_data, mir1k_root):
    samples, rate = load_audio(_shared_file(shared_data, WAV))
    assert rate == 16000
    assert samples.shape[0] == 2
    # Right channel (row 1) is the singing voice, and the Opus stem has the
    # WAV's exact length: rows really are channels.
    vocals, _ = load_audio(mir1k_root / CLIP / "vocals.opus")
    assert vocals.shape[1] == samples.shape[1]
    right = np.corrcoef(samples[1], vocals[0])[0, 1]
    left = np.corrcoef(samples[0], vocals[0])[0, 1]
    assert right > 0.95 and right > left


def test_mono_is_mean_of_channels(shared_data):
    path = _shared_file(shared_data, WAV)
    stereo, _ = load_audio(path)
    mono, rate = load_audio(path, mono=True)
    assert rate == 16000
    assert mono.shape == (1, stereo.shape[1])
    np.testing.assert_allclose(mono, stereo.mean(axis=0, keepdims=True), atol=1e-7)


def test_load_resamples_song_to_requested_rate(shared_data):
    path = _shared_file(shared_data, MP3)
    original, _ = load_audio(path)
    samples, rate = load_audio(path, sample_rate=16000, mono=True)
    assert rate == 16000
    assert samples.dtype == np.float32
    assert samples.shape[0] == 1
    assert abs(samples.shape[1] - original.shape[1] * 16000 / 44100) <= 1


# ---------------------------------------------------------------------------
# resampling


@pytest.mark.parametrize("orig_rate, target_rate", [(44100, 16000), (16000, 44100), (48000, 8000)])
def test_resample_length_and_frequency(orig_rate, target_rate):
    frequency = 1000.0
    tone = _tone(frequency, orig_rate, 1.0, channels=2)
    out = resample(tone, orig_rate, target_rate)
    assert out.dtype == np.float32
    assert out.shape[0] == 2
    assert abs(out.shape[1] - tone.shape[1] * target_rate / orig_rate) <= 1
    for channel in out:
        spectrum = np.abs(np.fft.rfft(channel * np.hanning(channel.size)))
        peak = np.fft.rfftfreq(channel.size, 1 / target_rate)[spectrum.argmax()]
        assert abs(peak - frequency) <= target_rate / channel.size  # one bin
    # Filtering must not change the level of a tone well inside the band.
    middle = out[:, out.shape[1] // 4 : -out.shape[1] // 4]
    assert abs(np.abs(middle).max() - 0.5) < 0.01


def test_resample_same_rate_is_identity():
    tone = _tone(440.0, 16000, 0.1)
    np.testing.assert_array_equal(resample(tone, 16000, 16000), tone)


def test_resample_rejects_1d():
    with pytest.raises(ValueError):
        resample(np.zeros(100, np.float32), 16000, 8000)


# ---------------------------------------------------------------------------
# writing


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("extension", ["wav", "flac"])
def test_save_load_round_trip(tmp_path, extension, channels, rate):
    rng = np.random.default_rng(channels * rate)
    samples = rng.uniform(-0.99, 0.99, (channels, rate // 4)).astype(np.float32)
    path = tmp_path / f"out.{extension}"
    save_audio(path, samples, rate)
    assert audio_info(path) == (rate, channels, samples.shape[1])
    loaded, loaded_rate = load_audio(path)
    assert loaded_rate == rate
    assert loaded.shape == samples.shape
    if extension == "wav":
        np.testing.assert_array_equal(loaded, samples)  # 32-bit float
    else:
        np.testing.assert_allclose(loaded, samples, atol=1e-6)  # 24-bit PCM
    assert soundfile.info(str(path)).subtype == {"wav": "FLOAT", "flac": "PCM_24"}[extension]


def test_save_keeps_float_out_of_range_and_clips_pcm(tmp_path):
    samples = np.array([[-1.5, -0.25, 0.0, 0.25, 1.5]], np.float32)
    save_audio(tmp_path / "float.wav", samples, 16000)
    np.testing.assert_array_equal(load_audio(tmp_path / "float.wav")[0], samples)
    clipped = np.clip(samples, -1, 1)
    for name, subtype in [("pcm.flac", None), ("pcm16.wav", "PCM_16")]:
        save_audio(tmp_path / name, samples, 16000, subtype=subtype)
        # Clipped, not wrapped around to the opposite sign.
        np.testing.assert_allclose(load_audio(tmp_path / name)[0], clipped, atol=1e-4)


def test_save_explicit_format_overrides_extension(tmp_path):
    path = tmp_path / "out.audio"
    save_audio(path, _tone(440.0, 8000, 0.1), 8000, format="flac")
    assert soundfile.info(str(path)).format == "FLAC"


def test_save_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "out.wav"
    save_audio(path, _tone(440.0, 8000, 0.1), 8000)
    save_audio(path, _tone(880.0, 8000, 0.2), 8000)  # replaces it
    assert os.listdir(tmp_path) == ["out.wav"]
    assert audio_info(path)[2] == 1600
    # The temporary file is created private; the result must not stay so.
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask


def test_failed_save_leaves_nothing(tmp_path):
    with pytest.raises(AudioError, match="out.wav: cannot write file"):
        save_audio(tmp_path / "missing" / "out.wav", _tone(440.0, 8000, 0.1), 8000)
    assert os.listdir(tmp_path) == []


def test_save_failing_mid_write_keeps_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "out.wav"
    save_audio(path, _tone(440.0, 8000, 0.1), 8000)

    original_write = soundfile.SoundFile.write

    def write_half_then_fail(self, data):
        original_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(soundfile.SoundFile, "write", write_half_then_fail)
    with pytest.raises(AudioError, match="out.wav: cannot write file .No space left"):
        save_audio(path, _tone(440.0, 8000, 0.2), 8000)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["out.wav"]
    assert audio_info(path) == (8000, 1, 800)


@pytest.mark.parametrize(
    "name, kwargs, reason",
    [
        ("out.xyz", {}, "unsupported output format"),
        ("out.mp3", {}, "unsupported output format"),
        ("out.flac", {"subtype": "FLOAT"}, "not valid for FLAC"),
    ],
)
def test_save_rejects_unsupported_output(tmp_path, name, kwargs, reason):
    with pytest.raises(AudioError, match=reason) as raised:
        save_audio(tmp_path / name, _tone(440.0, 8000, 0.1), 8000, **kwargs)
    assert name in str(raised.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("shape", [(100,), (0, 100)])
def test_save_rejects_bad_shape(tmp_path, shape):
    with pytest.raises(AudioError, match="channels, n"):
        save_audio(tmp_path / "out.wav", np.zeros(shape, np.float32), 8000)


def test_save_rejects_nan(tmp_path):
    samples = _tone(440.0, 8000, 0.1)
    samples[0, 10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        save_audio(tmp_path / "out.wav", samples, 8000)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# bad input


def _make_missing(path):
    pass


def _make_directory(path):
    path.mkdir()


def _make_empty(path):
    path.touch()


def _make_random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def _make_text(path):
    path.write_text("this is not an mp3 file\n" * 20)


def _make_header_only(path):
    # A valid 16-bit WAV cut after its 44-byte header.
    full = path.with_suffix(".full.wav")
    soundfile.write(str(full), np.zeros(1000, np.float32), 16000, subtype="PCM_16")
    path.write_bytes(full.read_bytes()[:44])
    full.unlink()


def _make_cut_header(path):
    full = path.with_suffix(".full.wav")
    soundfile.write(str(full), np.zeros(1000, np.float32), 16000, subtype="PCM_16")
    path.write_bytes(full.read_bytes()[:20])
    full.unlink()


def _make_nan(path):
    samples = np.zeros((100, 2), np.float32)
    samples[50, 1] = np.nan
    soundfile.write(str(path), samples, 16000, subtype="FLOAT")


def _make_inf(path):
    samples = np.zeros(100, np.float32)
    samples[7] = -np.inf
    soundfile.write(str(path), samples, 16000, subtype="FLOAT")


BAD_FILES = [
    ("missing.wav", _make_missing, "file not found"),
    ("folder.wav", _make_directory, "is a directory"),
    ("empty.wav", _make_empty, "empty file"),
    ("noise.wav", _make_random_bytes, "unsupported or corrupt audio file"),
    ("notes.mp3", _make_text, "unsupported or corrupt audio file"),
    ("cut_header.wav", _make_cut_header, "unsupported or corrupt audio file"),
    ("header_only.wav", _make_header_only, "truncated: header declares 0.06 s of audio, the file holds 0.00 s"),
    ("nan.wav", _make_nan, "NaN or infinite"),
    ("inf.wav", _make_inf, "NaN or infinite"),
]


@pytest.mark.parametrize("name, make, reason", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_load_rejects_bad_file(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(AudioError) as raised:
        load_audio(path)
    message = str(raised.value)
    assert message == f"{path}: {raised.value.reason}"
    assert name in message and reason in message
    assert "\n" not in message


@pytest.mark.parametrize("name, make, reason", BAD_FILES[:6], ids=[case[0] for case in BAD_FILES[:6]])
def test_info_rejects_bad_file(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(AudioError, match=reason) as raised:
        audio_info(path)
    assert name in str(raised.value)


def test_max_seconds(tmp_path):
    path = tmp_path / "two_seconds.wav"
    save_audio(path, _tone(440.0, 8000, 2.0), 8000)
    with pytest.raises(AudioError, match="too long") as raised:
        load_audio(path, max_seconds=1.5)
    assert "two_seconds.wav" in str(raised.value)
    assert load_audio(path, max_seconds=2.0)[0].shape == (1, 16000)


def test_audio_error_is_value_error():
    assert issubclass(AudioError, ValueError)
    assert str(AudioError("a.wav", "bad\nthing")) == "a.wav: bad thing"
