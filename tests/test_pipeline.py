"""Tests of keras_sa.data.pipeline on real MIR-1K clips."""

import numpy as np
import pytest
import tensorflow as tf

from keras_sa import data
from keras_sa.audio import SignalConfig
from keras_sa.data import pipeline

CONFIG = SignalConfig()  # 16 kHz, n_fft 1024, hop 256, 512 bins, 64 frames
SEGMENT = (CONFIG.patch_frames - 1) * CONFIG.hop_length + CONFIG.n_fft
BATCH = 4


@pytest.fixture(scope="module")
def sources(mir1k_root):
    """Six real MIR-1K training clips (training singers only) at 16 kHz."""
    train, _ = data.mir1k_split(data.discover(mir1k_root))
    loaded = data.load_sources(train[::30][:6], CONFIG.sample_rate)
    assert len(loaded) == 6
    return loaded


def first_batch(dataset):
    (features, mixture), targets = next(iter(dataset))
    return features.numpy(), mixture.numpy(), targets.numpy()


def reference_magnitude(samples):
    """numpy twin of the pipeline's uncentred STFT magnitude of one segment."""
    n = CONFIG.n_fft
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)  # periodic Hann
    frames = np.lib.stride_tricks.sliding_window_view(samples[:SEGMENT], n)[:: CONFIG.hop_length]
    assert len(frames) == CONFIG.patch_frames
    return np.abs(np.fft.rfft(frames * window, axis=-1))[:, : CONFIG.n_bins]


def expected_patches(sources):
    step = CONFIG.patch_frames * CONFIG.hop_length
    return sum(len(range(0, max(len(s.vocals), SEGMENT) - SEGMENT + 1, step)) for s in sources)


def check_example_invariants(features, mixture, targets):
    frames, bins = CONFIG.patch_frames, CONFIG.n_bins
    assert features.shape == mixture.shape == (len(features), frames, bins, 1)
    assert targets.shape == (len(features), frames, bins, 2)
    assert features.dtype == mixture.dtype == targets.dtype == np.float32
    assert np.all(np.isfinite(features)) and np.all(np.isfinite(targets))
    assert features.min() >= 0 and features.max() <= 1
    assert mixture.min() >= 0 and targets.min() >= 0
    peaks = mixture.max(axis=(1, 2, 3))
    for peak in peaks:
        assert peak == 0 or abs(peak - 1) < 1e-6
    # Features are the log-compressed normalized mixture.
    c = CONFIG.compression_strength
    np.testing.assert_allclose(features, np.log1p(c * mixture) / np.log1p(c), atol=1e-5)
    # |V + A| <= |V| + |A| and |V + A| >= ||V| - |A||, bin by bin, whatever the phases.
    vocals, accompaniment = targets[..., :1], targets[..., 1:]
    assert np.all(mixture <= vocals + accompaniment + 1e-5)
    assert np.all(mixture >= np.abs(vocals - accompaniment) - 1e-5)


@pytest.mark.parametrize("remix", [0.0, 1.0])
def test_training_batches_have_the_contracted_structure(sources, remix):
    dataset = pipeline.training_dataset(sources, CONFIG, BATCH, remix_probability=remix, seed=3)
    spec = dataset.element_spec
    assert spec[0][0].shape.as_list() == [BATCH, 64, 512, 1]
    assert spec[0][1].shape.as_list() == [BATCH, 64, 512, 1]
    assert spec[1].shape.as_list() == [BATCH, 64, 512, 2]
    features, mixture, targets = first_batch(dataset)
    check_example_invariants(features, mixture, targets)
    # Real music: no patch is silent, and both sources are present.
    assert np.all(mixture.max(axis=(1, 2, 3)) == pytest.approx(1.0, abs=1e-6))
    assert np.all(targets.max(axis=(1, 2)) > 0)


def test_training_stream_is_seeded(sources):
    a = first_batch(pipeline.training_dataset(sources, CONFIG, BATCH, seed=7))
    b = first_batch(pipeline.training_dataset(sources, CONFIG, BATCH, seed=7))
    c = first_batch(pipeline.training_dataset(sources, CONFIG, BATCH, seed=8))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[2], c[2])
    # Successive batches of one stream are new patches.
    dataset = pipeline.training_dataset(sources, CONFIG, BATCH, seed=7)
    batches = list(dataset.take(2))
    assert not np.array_equal(batches[0][1].numpy(), batches[1][1].numpy())


def test_training_stream_starts_at_any_example(sources):
    # What a resumed run relies on: starting at example k gives the batches
    # that the stream from 0 gives after its first k examples.
    batches = list(pipeline.training_dataset(sources, CONFIG, BATCH, seed=7).take(3))
    later = first_batch(pipeline.training_dataset(sources, CONFIG, BATCH, seed=7, first_example=2 * BATCH))
    (features, mixture), targets = batches[2]
    for x, y in zip(later, (features.numpy(), mixture.numpy(), targets.numpy())):
        np.testing.assert_array_equal(x, y)


def test_patch_batches_make_the_same_stream_as_tf_data(sources):
    # The backend-neutral feeder (JAX runs) yields the tf.data stream's
    # batches, and a resumed one (first_epoch) the batches after its epochs.
    from keras_sa.data.patches import PatchBatches, PatchSource

    batches = list(pipeline.training_dataset(sources, CONFIG, BATCH, seed=7).take(3))
    expected = [(f.numpy(), m.numpy(), t.numpy()) for (f, m), t in batches]
    source = PatchSource(sources, CONFIG, seed=7)
    fresh = PatchBatches(source, BATCH, batches=2)
    resumed = PatchBatches(source, BATCH, batches=2, first_epoch=1)
    for batch, index in ((fresh[0], 0), (fresh[1], 1), (resumed[0], 2)):
        (features, mixture), targets = batch
        for x, y in zip((features, mixture, targets), expected[index]):
            np.testing.assert_array_equal(x, y)


def test_remix_changes_the_mixtures(sources):
    own = first_batch(
        pipeline.training_dataset(sources, CONFIG, BATCH, remix_probability=0, seed=1)
    )
    remixed = first_batch(
        pipeline.training_dataset(sources, CONFIG, BATCH, remix_probability=1, seed=1)
    )
    # Same seed, same vocal track and start: only the accompaniment side differs.
    assert not np.allclose(own[1], remixed[1])


def test_vocal_speed_plays_the_vocals_faster_or_slower():
    from keras_sa.data.patches import PatchSource

    rate = CONFIG.sample_rate
    t = np.arange(6 * rate) / rate
    vocals = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    tracks = [data.Sources(f"t{k}", vocals, 0.1 * vocals) for k in range(2)]
    source = PatchSource(tracks, CONFIG, remix_probability=1, vocal_speed=0.12)
    start = rate
    for speed in (1 / 1.12, 1.07, 1.12):
        played = source._sped_up_vocals(source.vocals, start, speed)
        assert played.shape == (SEGMENT,)
        # The tone at speed x its frequency, in phase with where it started.
        expected = np.sin(2 * np.pi * 200 * (start + speed * np.arange(SEGMENT)) / rate)
        np.testing.assert_allclose(played, expected, atol=0.05)


def test_vocal_speed_leaves_the_stream_alone_when_off_and_stays_in_its_range(sources):
    from keras_sa.data.patches import PatchSource

    plain = PatchSource(sources, CONFIG, seed=4)
    off = PatchSource(sources, CONFIG, seed=4, vocal_speed=0.0)
    on = PatchSource(sources, CONFIG, seed=4, vocal_speed=0.12)
    speeds = []
    original = on._sped_up_vocals
    on._sped_up_vocals = lambda bank, start, speed: speeds.append(speed) or original(bank, start, speed)
    changed = 0
    for index in range(24):
        for x, y in zip(plain.random_example(index), off.random_example(index)):
            np.testing.assert_array_equal(x, y)
        changed += not np.array_equal(plain.random_example(index)[-1], on.random_example(index)[-1])
    # About half the examples are remixed (remix_probability 0.5), and only those change speed.
    assert 0 < len(speeds) < 24 and changed == len(speeds)
    assert all(1 / 1.12 <= s <= 1.12 and s != 1 for s in speeds)
    with pytest.raises(ValueError, match="must not be negative"):
        PatchSource(sources, CONFIG, vocal_speed=-0.1)


def test_validation_covers_every_patch_once(sources):
    dataset = pipeline.validation_dataset(sources, CONFIG, BATCH)
    first = [(f.numpy(), m.numpy(), t.numpy()) for (f, m), t in dataset]
    second = [(f.numpy(), m.numpy(), t.numpy()) for (f, m), t in dataset]
    count = sum(len(features) for features, _, _ in first)
    assert count == expected_patches(sources)
    assert dataset.cardinality().numpy() == -(-count // BATCH)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    for features, mixture, targets in first:
        check_example_invariants(features, mixture, targets)

    # The first patch is the first segment of the first track, unmixed and
    # unscaled (the mixture is v + a, normalized by its own peak).
    track = sources[0]
    magnitudes = [
        reference_magnitude(track.vocals + track.accompaniment),
        reference_magnitude(track.vocals),
        reference_magnitude(track.accompaniment),
    ]
    scale = magnitudes[0].max()
    _, mixture, targets = first[0]
    np.testing.assert_allclose(mixture[0, ..., 0], magnitudes[0] / scale, atol=2e-5)
    np.testing.assert_allclose(targets[0, ..., 0], magnitudes[1] / scale, atol=2e-5)
    np.testing.assert_allclose(targets[0, ..., 1], magnitudes[2] / scale, atol=2e-5)


def test_a_clip_shorter_than_one_segment_is_zero_padded(sources):
    length = 5000  # well under SEGMENT = 17152 samples
    track = sources[0]
    excerpt = slice(20000, 20000 + length)
    short = data.Sources("short", track.vocals[excerpt], track.accompaniment[excerpt])
    assert expected_patches([short]) == 1

    validation = list(pipeline.validation_dataset([short], CONFIG, BATCH))
    assert len(validation) == 1
    (features, mixture), targets = validation[0]
    features, mixture, targets = features.numpy(), mixture.numpy(), targets.numpy()
    assert features.shape[0] == 1
    check_example_invariants(features, mixture, targets)
    assert mixture.max() == pytest.approx(1.0, abs=1e-6)
    # Frames that start past the clip's end see only the padding.
    silent_from = -(-length // CONFIG.hop_length)
    assert not np.any(mixture[0, silent_from:]) and not np.any(targets[0, silent_from:])
    heard = targets[0, : silent_from - 4]
    assert np.any(heard[..., 0]) and np.any(heard[..., 1])

    # Training on it (alone, and remixed with a long clip) works too.
    for tracks in ([short], [short, sources[1]]):
        dataset = pipeline.training_dataset(tracks, CONFIG, BATCH, remix_probability=0.5)
        batch = first_batch(dataset)
        check_example_invariants(*batch)


def test_silence_gives_zero_features_not_nan():
    silence = np.zeros(SEGMENT, np.float32)
    quiet = data.Sources("silence", silence, silence)
    (features, mixture), targets = next(iter(pipeline.validation_dataset([quiet], CONFIG, 1)))
    assert not np.any(features.numpy()) and not np.any(mixture.numpy())
    assert not np.any(targets.numpy())
    assert tf.reduce_all(tf.math.is_finite(features))
