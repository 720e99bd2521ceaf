"""StreamingSeparator: chunk-size independence, equality with Separator.separate, latency, bounds.

The bundled default model as a dynamic-range TFLite model (the fast one) on
real audio; one test runs the float Keras model.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from keras_sa.audio import load_audio, resample
from keras_sa.audio.signal import stft
from keras_sa.separation import Separator, StreamingSeparator

REPO = Path(__file__).resolve().parents[1]
TFLITE_MODEL = REPO / "tflite" / "models" / "sa_shn_mobile_dynamic.tflite"
SONG = "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"
# The product's streaming latency cap, from a sample entering to its stems leaving.
LATENCY_CAP = 1.5


@pytest.fixture(scope="module")
def separator():
    if not TFLITE_MODEL.is_file():
        pytest.skip(f"{TFLITE_MODEL} not found")
    from keras_sa.predictors import TFLitePredictor

    return Separator(TFLitePredictor(TFLITE_MODEL, threads=1))


@pytest.fixture(scope="module")
def song(shared_data):
    """``(2, n)`` at 44.1 kHz: 10.9 s of a real song."""
    samples, rate = load_audio(shared_data / "songs" / SONG)
    assert rate == 44100
    return samples


def at_rate(song, rate, seconds, channels=2):
    """``seconds`` of the song at ``rate``, with ``channels`` channels (mixes of the two)."""
    samples = resample(song[:, 44100 : 44100 + int(44100 * seconds)], 44100, rate)[:, : int(rate * seconds)]
    gains = np.linspace(0.0, 1.0, channels, dtype=np.float32)[:, np.newaxis]
    if channels == 1:
        return samples.mean(axis=0, keepdims=True)
    return gains * samples[0] + (1 - gains) * samples[1]


def feed(stream, samples, sizes):
    """Feeds ``samples`` in chunks of ``sizes`` (cycled); returns the stems and the largest lag seen."""
    pieces, fed, returned, lag, index, first = [], 0, 0, 0, 0, 0
    while first < samples.shape[1]:
        size = sizes[index % len(sizes)]
        index += 1
        chunk = samples[:, first : first + size]
        first += chunk.shape[1]
        pieces.append(stream.process(chunk))
        fed += chunk.shape[1]
        returned += pieces[-1][0].shape[1]
        lag = max(lag, fed - returned)
    pieces.append(stream.flush())
    for vocals, accompaniment in pieces:
        assert vocals.dtype == accompaniment.dtype == np.float32
        assert vocals.shape == accompaniment.shape and vocals.shape[0] == samples.shape[0]
    vocals = np.concatenate([p[0] for p in pieces], axis=1)
    accompaniment = np.concatenate([p[1] for p in pieces], axis=1)
    return vocals, accompaniment, lag


def check_stems(samples, vocals, accompaniment, expected):
    assert vocals.shape == samples.shape
    np.testing.assert_allclose(vocals, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(vocals + accompaniment, samples, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------
# one definition, any chunking


@pytest.mark.parametrize("sizes", [[7], [1000], [48000], [1, 4095, 0, 333, 9000]])
def test_chunk_sizes_give_the_offline_output(separator, song, sizes):
    samples = song[:, : 44100 * 3]
    expected = separator.separate(samples, 44100)["vocals"]
    assert np.abs(expected).max() > 0.01  # a trained model separates something
    vocals, accompaniment, lag = feed(separator.stream(44100, 2), samples, sizes)
    check_stems(samples, vocals, accompaniment, expected)


def test_one_sample_chunks(separator, song):
    samples = at_rate(song, 8000, 0.5)
    expected = separator.separate(samples, 8000)["vocals"]
    vocals, accompaniment, lag = feed(separator.stream(8000, 2), samples, [1])
    check_stems(samples, vocals, accompaniment, expected)


def test_keras_predictor(song):
    from keras_sa import pretrained

    separator = Separator.from_file(pretrained.resolve("sa_shn_mobile"), backend="keras", batch_size=4)
    samples = song[:, : 44100 * 2]
    expected = separator.separate(samples, 44100)["vocals"]
    assert np.abs(expected).max() > 0.01
    for sizes in ([1000], [30000, 7]):
        vocals, accompaniment, _ = feed(separator.stream(44100, 2), samples, sizes)
        check_stems(samples, vocals, accompaniment, expected)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_rates_and_channels(separator, song, rate, channels):
    samples = at_rate(song, rate, 1.3, channels)
    stems = separator.separate(samples, rate)
    vocals, accompaniment, _ = feed(separator.stream(rate, channels), samples, [4096, 17])
    check_stems(samples, vocals, accompaniment, stems["vocals"])
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], samples, rtol=0, atol=1e-6)


def test_batch_windows_changes_latency_not_output(separator, song):
    samples = song[:, : 44100 * 3]
    one = separator.stream(44100, 2)
    four = separator.stream(44100, 2, batch_windows=4)
    signal = separator.signal
    extra = 3 * signal.window_hop * signal.hop_length * 44100 / signal.sample_rate
    assert abs(four.latency - one.latency - extra) <= 1
    a = feed(one, samples, [5000])[0]
    b = feed(four, samples, [5000])[0]
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# latency


def test_latency_of_the_bundled_model(separator):
    signal = separator.signal
    assert (signal.sample_rate, signal.n_fft, signal.hop_length, signal.patch_frames) == (16000, 2048, 512, 64)
    stream = separator.stream(16000, 1)
    look_ahead = signal.patch_frames - signal.window_hop - signal.window_margin
    assert stream.latency == (signal.window_hop + look_ahead - 1) * signal.hop_length + signal.n_fft - 1
    assert stream.latency_seconds <= LATENCY_CAP
    assert separator.stream(16000, 1).latency_seconds == stream.latency / 16000
    # Resampling adds its filters' and blocks' hold-back.
    assert separator.stream(44100, 2).latency_seconds > stream.latency_seconds


@pytest.mark.parametrize(
    "rate, sizes",
    [(16000, [1]), (44100, [7]), (8000, [1, 300]), (11025, [1]), (44100, [1000, 1, 4410]), (96000, [7]), (192000, [1000, 3])],
)
def test_returned_samples_never_lag_more_than_the_latency(separator, song, rate, sizes):
    samples = at_rate(song, rate, 3.5, channels=1)
    stream = separator.stream(rate, 1)
    _, _, lag = feed(stream, samples, sizes)
    assert lag <= stream.latency
    # The bound is tight: one-sample chunks at the model rate reach it exactly.
    if rate == 16000 and sizes == [1]:
        assert lag == stream.latency
    else:
        assert lag > 0.9 * stream.latency


@pytest.mark.parametrize("rate", [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000])
def test_latency_is_within_the_cap_at_common_rates(separator, rate):
    assert separator.stream(rate, 2).latency_seconds <= LATENCY_CAP


def _with_margin(separator, margin):
    """The same model with its windows keeping the frames after their first ``margin``."""
    predictor = separator.predictor
    config = dataclasses.replace(
        separator.config, signal=dataclasses.replace(separator.signal, window_margin=margin)
    )

    class Shifted:
        def __init__(self):
            self.config = config

        def __call__(self, features):
            return predictor(features)

    return Separator(Shifted())


@pytest.mark.parametrize("margin", [0, 8, 12, 16])
def test_latency_follows_the_window_margin(separator, song, margin):
    """Every margin's latency is a tight bound, and each frame of look-ahead costs one hop."""
    shifted = _with_margin(separator, margin)
    signal = shifted.signal
    stream = shifted.stream(16000, 1)
    expected = (signal.patch_frames - margin - 1) * signal.hop_length + signal.n_fft - 1
    assert stream.latency == expected
    # Long enough that the stream holds back its full latency at least once: its output leaves a
    # window hop (36 frames, 1.15 s) at a time, so the lag peaks just before a window's output.
    samples = at_rate(song, 16000, 4.0, channels=1)
    vocals, _, lag = feed(stream, samples, [1])
    assert lag == stream.latency
    # The offline masks are the windows' frames [margin, margin + window_hop).
    magnitude = np.abs(stft(samples[0], signal)[:, : signal.n_bins])
    windows = shifted.windows(magnitude)
    kept = separator.predictor(windows)[:, margin : margin + signal.window_hop]
    np.testing.assert_array_equal(shifted.masks(magnitude), kept.reshape(-1, *kept.shape[2:])[: len(magnitude)])


@pytest.mark.parametrize("rate", [16000, 44100, 8000, 96000])
def test_impulse_is_aligned_and_returned_within_the_latency(separator, rate):
    """An impulse's stems are centred on its position, and come out within ``latency`` samples."""
    length, position = 3 * rate, int(1.7 * rate)
    samples = np.zeros((1, length), np.float32)
    samples[0, position] = 1.0
    stream = separator.stream(rate, 1)
    vocals, fed, returned_at = [], 0, None
    for first in range(0, length, 64):
        piece, _ = stream.process(samples[:, first : first + 64])
        fed += min(64, length - first)
        vocals.append(piece)
        if returned_at is None and sum(p.shape[1] for p in vocals) > position:
            returned_at = fed
    vocals.append(stream.flush()[0])
    vocals = np.concatenate(vocals, axis=1)[0]
    assert returned_at is not None and returned_at - position <= stream.latency + 64
    # Time alignment: no delay in the stems, the response peaks at the impulse.
    assert abs(int(np.argmax(np.abs(vocals))) - position) <= 1
    assert np.abs(vocals[position]) > 0.01
    # The response reaches no further than the frames that hold the impulse
    # (less than n_fft samples to either side), and the resamplers' filters,
    # whose tails are long but 60 dB down within 10 ms.
    signal = separator.signal
    reach = int(signal.n_fft * rate / signal.sample_rate)
    outside = np.concatenate([vocals[: position - reach], vocals[position + reach + 1 :]])
    if rate == signal.sample_rate:
        assert not outside.any()
    else:
        tails = np.concatenate([vocals[: position - reach - rate // 100], vocals[position + reach + rate // 100 :]])
        assert np.abs(tails).max() < 1e-3 * np.abs(vocals).max()


# ---------------------------------------------------------------------------
# edge cases and bad input


def test_silence_empty_chunks_and_tiny_inputs(separator):
    stream = separator.stream(22050, 2)
    for _ in range(3):
        vocals, accompaniment = stream.process(np.zeros((2, 0), np.float32))
        assert vocals.shape == accompaniment.shape == (2, 0) and vocals.dtype == np.float32
    vocals, accompaniment, _ = feed(stream, np.zeros((2, 30000), np.float32), [5000, 0])
    assert vocals.shape == (2, 30000) and not vocals.any() and not accompaniment.any()

    for rate in (16000, 44100):
        one = np.full((1, 1), 0.5, np.float32)
        stream = separator.stream(rate, 1)
        assert stream.process(one)[0].shape == (1, 0)
        vocals, accompaniment = stream.flush()
        assert vocals.shape == (1, 1)
        np.testing.assert_allclose(vocals + accompaniment, one, atol=1e-7)
        np.testing.assert_allclose(vocals, separator.separate(one, rate)["vocals"], atol=1e-7)

    mono = separator.stream(16000, 1)
    vocals, _ = mono.process(np.zeros(40000, np.float32))  # 1-D for a mono stream
    assert vocals.ndim == 2 and vocals.shape[0] == 1

    empty = separator.stream(8000, 3)
    assert empty.flush()[0].shape == (3, 0)
    with pytest.raises(RuntimeError, match="finished"):
        empty.process(np.zeros((3, 10), np.float32))
    with pytest.raises(RuntimeError, match="finished"):
        empty.flush()


@pytest.mark.parametrize(
    "chunk, message",
    [
        (np.array([[0.0, np.nan, 0.0]] * 2, np.float32), "NaN or infinite"),
        (np.array([[0.0, np.inf]] * 2, np.float32), "NaN or infinite"),
        (np.zeros((3, 10), np.float32), "chunk has 3 channels, the stream has 2"),
        (np.zeros(10, np.float32), r"chunk must be \(2, n\), got shape \(10,\)"),
        (np.zeros((2, 2, 2), np.float32), "got shape"),
        ("loud", "array of samples"),
    ],
)
def test_bad_chunks(separator, chunk, message):
    stream = separator.stream(44100, 2)
    with pytest.raises(ValueError, match=message) as error:
        stream.process(chunk)
    assert "\n" not in str(error.value)
    # The stream is still usable after a refused chunk.
    assert stream.process(np.zeros((2, 100), np.float32))[0].shape[0] == 2


@pytest.mark.parametrize("rate", [0, -44100, 44100.5, float("nan"), float("inf"), "44100", True, None])
def test_bad_sample_rates(separator, rate):
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        separator.stream(rate, 2)


def test_bad_channel_counts(separator):
    with pytest.raises(ValueError, match="channels must be a positive integer"):
        separator.stream(44100, 0)
    assert isinstance(separator.stream(np.int64(48000), 2), StreamingSeparator)


# ---------------------------------------------------------------------------
# memory


def test_buffers_stay_bounded_over_ten_minutes(separator, song):
    """Ten minutes streamed in 1 s chunks: every stage holds what one window and one chunk need, at every minute."""
    rate = 22050
    loop = at_rate(song, rate, 5.0, channels=2)
    stream = separator.stream(rate, 2)
    sizes_per_minute, returned = [], 0
    for second in range(600):
        vocals, _ = stream.process(loop[:, (second % 5) * rate : (second % 5 + 1) * rate])
        returned += vocals.shape[1]
        if second % 60 == 59:
            sizes_per_minute.append(stream.buffer_sizes())
    returned += stream.flush()[0].shape[1]
    assert returned == 600 * rate
    signal = separator.signal
    for sizes in sizes_per_minute:
        # The delay line holds the latency plus one chunk, in a buffer at most twice that.
        assert sizes["input_delay"] <= stream.latency + rate
        assert sizes["input_delay_capacity"] <= 2 * (stream.latency + 2 * rate)
        assert sizes["magnitude_frames"] < signal.patch_frames + rate // signal.hop_length
        assert sizes["spectra_frames"] < signal.patch_frames + rate // signal.hop_length
        assert sizes["stft_samples"] < signal.n_fft
