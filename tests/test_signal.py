"""Tests of keras_sa.audio.signal: the STFT twins and the model input."""

import json
import subprocess
import sys
import warnings

import librosa
import numpy as np
import pytest
import tensorflow as tf
import tensorflow.experimental.numpy as tnp
from keras import ops

from keras_sa.audio import (
    SignalConfig,
    istft,
    load_audio,
    model_input,
    stft,
    tf_istft,
    tf_stft,
)
from keras_sa.audio.signal import OverlapAdd, StreamingSTFT

CONFIG = SignalConfig()
HOP = CONFIG.hop_length
CLIP = "amy_8_05"


@pytest.fixture(scope="module")
def stems(mir1k_root):
    """``(2, n)``: vocals and accompaniment of one real MIR-1K clip."""
    vocals, _ = load_audio(mir1k_root / CLIP / "vocals.opus")
    accompaniment, _ = load_audio(mir1k_root / CLIP / "accompaniment.opus")
    return np.concatenate([vocals, accompaniment])


@pytest.fixture(scope="module")
def vocals(stems):
    return stems[0]


def _edge_signal(length):
    """Noise whose first and last samples are full scale."""
    samples = np.random.default_rng(length).uniform(-0.5, 0.5, length).astype(np.float32)
    samples[0], samples[-1] = 1.0, -1.0
    return samples


# Whole clip (not a multiple of the hop), a multiple, and neither.
LENGTHS = [None, 300 * HOP, 300 * HOP + 77]


def _cut(samples, length):
    return samples[..., :length] if length else samples


# ---------------------------------------------------------------------------
# numpy twin


@pytest.mark.parametrize("length", LENGTHS)
def test_stft_istft_round_trip(vocals, length):
    samples = _cut(vocals, length)
    n = samples.shape[-1]
    spectrogram = stft(samples, CONFIG)
    assert spectrogram.shape == (CONFIG.num_frames(n), CONFIG.n_fft // 2 + 1)
    restored = istft(spectrogram, CONFIG, n)
    assert restored.shape == (n,) and restored.dtype == np.float32
    assert np.abs(restored - samples).max() < 1e-5


def _librosa_stft(samples, center=True):
    with warnings.catch_warnings():  # librosa warns that n_fft exceeds a short signal
        warnings.simplefilter("ignore")
        spec = librosa.stft(samples, n_fft=CONFIG.n_fft, hop_length=HOP, window="hann", center=center,
                            pad_mode="constant")
    return np.swapaxes(spec, -1, -2)


def _librosa_istft(spectrogram, length):
    return librosa.istft(np.swapaxes(spectrogram, -1, -2), n_fft=CONFIG.n_fft, hop_length=HOP, window="hann",
                         center=True, length=length)


# Empty, one sample, around one hop and one frame, and a few seconds.
SHORT_LENGTHS = [0, 1, 2, HOP - 1, HOP, CONFIG.n_fft - 1, CONFIG.n_fft, CONFIG.n_fft + 1, 5 * HOP + 3]


@pytest.mark.parametrize("length", SHORT_LENGTHS + [None])
def test_numpy_stft_matches_librosa(vocals, length):
    if length is None:
        samples = vocals
    else:
        samples = _edge_signal(length) if length else np.zeros(0, np.float32)
    n = samples.shape[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning, even for a one-sample input
        spectrogram = stft(samples, CONFIG)
        restored = istft(spectrogram, CONFIG, n)
    expected = _librosa_stft(samples)
    assert spectrogram.shape == expected.shape == (CONFIG.num_frames(n), CONFIG.n_fft // 2 + 1)
    assert spectrogram.dtype == np.complex64 and restored.dtype == np.float32
    peak = max(np.abs(expected).max(), 1e-30)
    assert np.abs(spectrogram - expected).max() <= 1e-6 * peak
    if n:
        np.testing.assert_allclose(restored, _librosa_istft(expected, n), rtol=0, atol=1e-6)
        np.testing.assert_allclose(restored, samples, rtol=0, atol=1e-6)
    else:
        assert restored.shape == (0,)


@pytest.mark.parametrize("length", [CONFIG.n_fft, CONFIG.n_fft + HOP - 1, 40 * HOP + 5])
def test_numpy_stft_without_centering_matches_librosa(length):
    samples = _edge_signal(length)
    spectrogram = stft(samples, CONFIG, center=False)
    expected = _librosa_stft(samples, center=False)
    assert spectrogram.shape == expected.shape == (1 + (length - CONFIG.n_fft) // HOP, CONFIG.n_fft // 2 + 1)
    assert np.abs(spectrogram - expected).max() <= 1e-6 * np.abs(expected).max()
    assert stft(samples[: CONFIG.n_fft - 1], CONFIG, center=False).shape == (0, CONFIG.n_fft // 2 + 1)


def test_numpy_twin_batches(stems):
    samples = stems[:, : 100 * HOP + 11]
    spectrogram = stft(samples, CONFIG)
    for row, expected in zip(samples, spectrogram):
        np.testing.assert_array_equal(stft(row, CONFIG), expected)
    np.testing.assert_allclose(istft(spectrogram, CONFIG, samples.shape[1]), samples, rtol=0, atol=1e-5)
    assert not istft(spectrogram, CONFIG, samples.shape[1] + 3000)[:, -2000:].any()


def test_streaming_stft_and_overlap_add_do_not_depend_on_chunking(stems):
    samples = stems[:, : 200 * HOP + 77]
    whole = stft(samples, CONFIG)
    inverse = istft(whole, CONFIG, samples.shape[1])
    rng = np.random.default_rng(0)
    forward, backward = StreamingSTFT(CONFIG, shape=(2,)), OverlapAdd(CONFIG, shape=(2,))
    spectra, restored, first = [], [], 0
    while first < samples.shape[1]:
        size = int(rng.choice([0, 1, 7, HOP, 3000]))
        spectra.append(forward.push(samples[:, first : first + size]))
        restored.append(backward.push(spectra[-1]))
        first += size
    spectra.append(forward.finish())
    restored.append(backward.push(spectra[-1]))
    restored.append(backward.finish(samples.shape[1]))
    np.testing.assert_array_equal(np.concatenate(spectra, axis=1), whole)
    np.testing.assert_array_equal(np.concatenate(restored, axis=1), inverse)


def test_separation_path_does_not_import_librosa():
    code = (
        "import sys, numpy as np\n"
        "from keras_sa.audio.signal import SignalConfig, stft, istft\n"
        "import keras_sa.separation, keras_sa.streaming\n"
        "x = np.ones(5000, np.float32)\n"
        "istft(stft(x, SignalConfig()), SignalConfig(), 5000)\n"
        "assert 'librosa' not in sys.modules, 'librosa imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------
# TensorFlow twin


@pytest.mark.parametrize("length", LENGTHS)
def test_tf_stft_matches_numpy(vocals, length):
    samples = _cut(vocals, length)
    n = samples.shape[-1]
    expected = stft(samples, CONFIG)
    actual = tf_stft(tf.constant(samples), CONFIG).numpy()
    assert actual.shape == expected.shape == (1 + n // HOP, CONFIG.n_fft // 2 + 1)
    assert np.abs(actual - expected).max() < 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("length", LENGTHS)
def test_tf_istft_matches_numpy(vocals, length):
    spectrogram = stft(_cut(vocals, length), CONFIG)
    n = _cut(vocals, length).shape[-1]
    expected = istft(spectrogram, CONFIG, n)
    actual = tf_istft(tf.constant(spectrogram), CONFIG, n).numpy()
    assert actual.shape == (n,)
    assert np.abs(actual - expected).max() < 1e-5


@pytest.mark.parametrize("length", [HOP * 20, HOP * 20 + 1, HOP * 20 - 1])
def test_tf_istft_edges(length):
    # Near both ends few frames overlap and the window sum is far from
    # constant: a wrong normalization shows in the first and last samples.
    samples = _edge_signal(length)
    spectrogram = stft(samples, CONFIG)
    expected = istft(spectrogram, CONFIG, length)
    actual = tf_istft(tf.constant(spectrogram), CONFIG, length).numpy()
    assert np.abs(actual - expected).max() < 1e-5
    assert np.abs(actual - samples).max() < 1e-5
    assert actual[0] == pytest.approx(1.0, abs=1e-5)
    assert actual[-1] == pytest.approx(-1.0, abs=1e-5)


def test_tf_istft_pads_to_longer_length(vocals):
    spectrogram = stft(vocals[: 50 * HOP], CONFIG)
    length = 50 * HOP + 3 * CONFIG.n_fft
    expected = istft(spectrogram, CONFIG, length)
    actual = tf_istft(tf.constant(spectrogram), CONFIG, length).numpy()
    assert actual.shape == (length,)
    assert np.abs(actual - expected).max() < 1e-5
    assert not actual[-CONFIG.n_fft :].any()


def test_tf_twins_batch(stems):
    samples = stems[:, : 200 * HOP + 5]
    n = samples.shape[-1]
    batch = tf_stft(tf.constant(samples), CONFIG).numpy()
    assert batch.shape == (2, CONFIG.num_frames(n), CONFIG.n_fft // 2 + 1)
    for row, spectrogram in zip(samples, batch):
        np.testing.assert_array_equal(spectrogram, tf_stft(tf.constant(row), CONFIG).numpy())
        peak = np.abs(spectrogram).max()
        assert np.abs(spectrogram - stft(row, CONFIG)).max() < 1e-5 * peak
    # numpy input is converted, not rejected.
    np.testing.assert_array_equal(tf_stft(samples, CONFIG).numpy(), batch)
    restored = tf_istft(tf.constant(batch), CONFIG, n).numpy()
    np.testing.assert_array_equal(tf_istft(batch, CONFIG, n).numpy(), restored)
    assert restored.shape == (2, n)
    assert np.abs(restored - istft(batch, CONFIG, n)).max() < 1e-5
    assert np.abs(restored - samples).max() < 1e-5


def test_tf_stft_in_graph_with_unknown_length(vocals):
    # tf.data pipelines and exported graphs see a length of None.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def graph_stft(samples):
        return tf_stft(samples, CONFIG)

    samples = vocals[: 100 * HOP + 9]
    np.testing.assert_allclose(
        graph_stft(tf.constant(samples)).numpy(),
        tf_stft(tf.constant(samples), CONFIG).numpy(),
        atol=1e-6,
    )


# ---------------------------------------------------------------------------
# model input


@pytest.fixture(scope="module")
def magnitudes(stems):
    """``(2, patch_frames, n_bins)``: one model window from each stem."""
    spectrogram = np.abs(stft(stems[:, : CONFIG.patch_frames * HOP], CONFIG))
    return spectrogram[:, : CONFIG.patch_frames, : CONFIG.n_bins]


def _as(xp, array):
    """``array`` as the kind of array ``xp`` works on."""
    return array if xp is np else tf.constant(array)


@pytest.mark.parametrize("compression", ["none", "log"])
def test_model_input_range(magnitudes, compression):
    config = SignalConfig(compression=compression)
    features, scale = model_input(magnitudes, config)
    assert features.shape == magnitudes.shape
    assert features.min() >= 0
    # Each window is normalized on its own, its peak exactly 1.
    np.testing.assert_array_equal(features.max(axis=(-2, -1)), [1.0, 1.0])
    np.testing.assert_array_equal(scale[:, 0, 0], magnitudes.max(axis=(-2, -1)))

    # keras.ops in models, tf.experimental.numpy in the tf.data pipeline.
    for xp in (ops, tnp):
        xp_features, xp_scale = model_input(tf.constant(magnitudes), config, xp=xp)
        xp_features = ops.convert_to_numpy(xp_features)
        assert xp_features.dtype == np.float32
        np.testing.assert_allclose(xp_features, features, atol=1e-6)
        np.testing.assert_array_equal(ops.convert_to_numpy(xp_scale), scale)
        np.testing.assert_array_equal(xp_features.max(axis=(-2, -1)), [1.0, 1.0])
        assert xp_features.min() >= 0


def test_model_input_log_matches_formula(magnitudes):
    features, _ = model_input(magnitudes, CONFIG)
    c = CONFIG.compression_strength
    normalized = magnitudes / magnitudes.max(axis=(-2, -1), keepdims=True)
    np.testing.assert_allclose(features, np.log1p(c * normalized) / np.log1p(c), atol=1e-6)


# With log1p(c) taken in float64 as the divisor, these strengths gave window
# peaks of 1.0000001 (numpy and keras.ops) or 0.99999994 (numpy).
@pytest.mark.parametrize("strength", [1.0392556829367126, 1.1665131316981963, 10.0, 1e4])
def test_model_input_log_peak_is_one_for_any_strength(magnitudes, strength):
    config = SignalConfig(compression_strength=strength)
    for xp in (np, ops, tnp):
        features = ops.convert_to_numpy(model_input(_as(xp, magnitudes), config, xp=xp)[0])
        np.testing.assert_array_equal(features.max(axis=(-2, -1)), [1.0, 1.0])


@pytest.mark.parametrize("compression", ["none", "log"])
def test_model_input_silence(compression):
    config = SignalConfig(compression=compression)
    silence = np.zeros((2, CONFIG.patch_frames, CONFIG.n_bins), np.float32)
    for xp in (np, ops, tnp):
        features, scale = model_input(_as(xp, silence), config, xp=xp)
        features = ops.convert_to_numpy(features)
        assert np.isfinite(features).all() and not features.any()
        assert np.isfinite(ops.convert_to_numpy(scale)).all()


# ---------------------------------------------------------------------------
# SignalConfig


def test_config_round_trip():
    config = SignalConfig(
        sample_rate=44100,
        n_fft=2048,
        hop_length=512,
        n_bins=1024,
        compression="none",
        sources=["vocals", "drums", "other"],
    )
    assert config.sources == ("vocals", "drums", "other")
    assert SignalConfig.from_dict(config.to_dict()) == config
    assert SignalConfig.from_dict(json.loads(config.to_json())) == config
    assert SignalConfig.from_dict(SignalConfig().to_dict()) == SignalConfig()


def test_window_margin_defaults_to_centred_and_round_trips():
    centred = SignalConfig(patch_frames=64, window_hop=48)
    assert (centred.window_margin, centred.window_look_ahead) == (8, 8)
    # A dict from before the field existed gives the centred window.
    old = {k: v for k, v in centred.to_dict().items() if k != "window_margin"}
    assert SignalConfig.from_dict(old) == centred
    ahead = SignalConfig(patch_frames=64, window_hop=48, window_margin=12)
    assert (ahead.window_margin, ahead.window_look_ahead) == (12, 4)
    assert SignalConfig.from_dict(json.loads(ahead.to_json())) == ahead
    # An explicit margin lifts the even-difference rule of a centred window.
    assert SignalConfig(patch_frames=64, window_hop=47, window_margin=0).window_look_ahead == 17
    with pytest.raises(ValueError, match="even"):
        SignalConfig(patch_frames=64, window_hop=47)
    for bad in (-1, 17, 2.0):
        with pytest.raises(ValueError, match="window_margin"):
            SignalConfig(patch_frames=64, window_hop=48, window_margin=bad)


def test_config_rejects_invalid_values():
    with pytest.raises(ValueError, match="compression"):
        SignalConfig(compression="sqrt")
    with pytest.raises(ValueError, match="n_bins"):
        SignalConfig(n_fft=512, n_bins=512)
