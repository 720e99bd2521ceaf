"""The Separator's signal path with a small model: properties that hold for any weights."""

import numpy as np
import pytest

from keras_sa.audio import load_audio, resample
from keras_sa.separation import Separator


@pytest.fixture(scope="module")
def separator(small_model_file):
    return Separator.from_file(small_model_file)


@pytest.fixture(scope="module")
def song(shared_data):
    samples, rate = load_audio(shared_data / "songs" / "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3")
    return samples, rate


@pytest.mark.parametrize("rate", [44100, 16000, 8000])
@pytest.mark.parametrize("channels", [1, 2])
def test_outputs_sum_to_the_input(separator, song, rate, channels):
    samples, song_rate = song
    samples = resample(samples[:channels, : song_rate * 6], song_rate, rate)
    stems = separator.separate(samples, rate)
    for name in ("vocals", "accompaniment"):
        assert stems[name].shape == samples.shape and stems[name].dtype == np.float32
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], samples, atol=1e-6)
    assert np.abs(stems["vocals"]).max() > 1e-3  # the model did assign something to vocals


def test_high_band_goes_to_the_accompaniment(separator):
    rate = 44100
    t = np.arange(rate * 2) / rate
    tone = (0.3 * np.sin(2 * np.pi * 12000 * t)).astype(np.float32)[np.newaxis]
    stems = separator.separate(tone, rate)
    assert np.abs(stems["vocals"][:, 2000:-2000]).max() < 1e-3


def test_long_input_in_blocks_is_the_stream(separator, song):
    """Over the 30 s block that separate() feeds at once: blocks join seamlessly, progress is reported."""
    samples, rate = song
    samples = np.tile(samples[:, : rate * 8], 5)[:, : rate * 35]  # 35 s, two blocks
    calls = []
    stems = separator.separate(samples, rate, progress=lambda done, total: calls.append((done, total)))
    assert [total for _, total in calls] == [samples.shape[1]] * len(calls) and len(calls) == 3
    assert calls[-1][0] == samples.shape[1] and calls[0][0] < calls[1][0] < calls[2][0]
    stream = separator.stream(rate, 2)
    pieces = [stream.process(samples[:, i : i + 40000])[0] for i in range(0, samples.shape[1], 40000)]
    streamed = np.concatenate(pieces + [stream.flush()[0]], axis=1)
    np.testing.assert_allclose(streamed, stems["vocals"], atol=1e-6)


def test_short_silent_and_mono_inputs(separator):
    for length in (1, 100, 3000):
        samples = np.random.default_rng(length).normal(size=(2, length)).astype(np.float32) * 0.1
        stems = separator.separate(samples, 22050)
        np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], samples, atol=1e-6)
    silence = np.zeros((1, 16000), np.float32)
    stems = separator.separate(silence, 16000)
    assert np.all(stems["vocals"] == 0) and np.all(stems["accompaniment"] == 0)
    mono = separator.separate(np.zeros(5000, np.float32), 16000)
    assert mono["vocals"].shape == (5000,)


def test_masks_keep_window_centres(separator):
    """Windows are normalized on their own and each contributes its centre."""
    magnitude = np.random.default_rng(3).random((37, 512)).astype(np.float32)
    masks = separator.masks(magnitude)
    assert masks.shape == (37, 512, 2)
    louder = separator.masks(magnitude * 100)  # per-window normalization: scale-free
    np.testing.assert_allclose(masks, louder, atol=1e-5)


def test_many_channels_and_odd_rates(separator):
    rng = np.random.default_rng(7)
    for channels, rate in ((6, 96000), (3, 11025)):
        samples = (rng.normal(size=(channels, rate)) * 0.05).astype(np.float32)
        stems = separator.separate(samples, rate)
        assert stems["vocals"].shape == (channels, rate)
        np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], samples, atol=1e-6)


# ---------------------------------------------------------------------------
# separate_file: decoded block by block into the stream


def test_separate_file_equals_separate(separator, shared_data, tmp_path):
    from keras_sa.audio.io import read_blocks
    from keras_sa.separation import separate_file

    path = shared_data / "songs" / "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"
    samples, rate = load_audio(path)
    blocks = list(read_blocks(path, 100000))
    assert [b.shape[1] for b in blocks[:-1]] == [100000] * (len(blocks) - 1)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), samples)
    calls = []
    seconds = separate_file(separator, path, tmp_path / "out", progress=lambda *call: calls.append(call))
    assert seconds == pytest.approx(samples.shape[1] / rate) and calls[-1] == (samples.shape[1], samples.shape[1])
    expected = separator.separate(samples, rate)
    for name in ("vocals", "accompaniment"):
        written, written_rate = load_audio(tmp_path / "out" / f"{name}.wav")
        assert written_rate == rate
        np.testing.assert_allclose(written, expected[name], rtol=0, atol=1e-6)


def test_separate_file_bad_inputs_leave_no_outputs(separator, tmp_path):
    import soundfile

    from keras_sa.audio import AudioError
    from keras_sa.separation import separate_file

    rate = 8000
    late_nan = np.zeros(rate * 31, np.float32)
    late_nan[rate * 30 + 5] = np.nan  # in the second 30 s block: found after writing has begun
    soundfile.write(tmp_path / "late_nan.wav", late_nan, rate, subtype="FLOAT")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really audio" * 10)
    soundfile.write(tmp_path / "long.wav", np.zeros(rate * 3, np.float32), rate)
    cases = [("late_nan.wav", {}, "NaN or infinite"), ("empty.wav", {}, "empty file"),
             ("junk.wav", {}, "unsupported or corrupt"), ("long.wav", {"max_seconds": 2}, "too long")]
    for name, options, message in cases:
        target = tmp_path / name.replace(".wav", "")
        with pytest.raises(AudioError, match=message) as error:
            separate_file(separator, tmp_path / name, target, **options)
        assert "\n" not in str(error.value)
        assert not target.exists() or not any(target.iterdir())
