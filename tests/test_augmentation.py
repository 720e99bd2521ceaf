"""More voices and vocal colour for training: keras_sa.data.voices and vocal_effects."""

import numpy as np
import pytest

from keras_sa import data
from keras_sa.audio import SignalConfig
from keras_sa.data import vocal_effects
from keras_sa.data.patches import PatchSource

CONFIG = SignalConfig()
RATE = CONFIG.sample_rate


@pytest.fixture(scope="module")
def sources(mir1k_root):
    """Three real MIR-1K training clips (one per song) at 16 kHz."""
    train, _ = data.mir1k_split(data.discover(mir1k_root))
    return data.load_sources(train[::60][:3], RATE)


def _median_pitch(samples):
    import parselmouth

    pitch = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=RATE).to_pitch()
    values = pitch.selected_array["frequency"]
    return np.median(values[values > 0])


def _envelope(samples, frame=512):
    n = len(samples) // frame
    return np.sqrt((samples[: n * frame].reshape(n, frame) ** 2).mean(axis=1))


@pytest.mark.parametrize("semitones", [-4.0, 3.0])
def test_change_voice_moves_the_pitch_and_keeps_the_timing(sources, semitones):
    from keras_sa.data.voices import change_voice

    vocals = sources[0].vocals
    changed = change_voice(vocals, RATE, semitones, 1.1)
    assert changed.shape == vocals.shape and changed.dtype == np.float32
    moved = 12 * np.log2(_median_pitch(changed) / _median_pitch(vocals))
    assert moved == pytest.approx(semitones, abs=0.5)
    # Same notes at the same times: the loudness contours line up.
    assert np.corrcoef(_envelope(changed), _envelope(vocals))[0, 1] > 0.9


def test_voice_variants_are_seeded_and_cached(sources, tmp_path):
    from keras_sa.data.voices import voice_variants

    cache = tmp_path / "voices.npz"
    first = voice_variants(sources[:2], RATE, 2, seed=5, cache=cache)
    assert [v.shape for v in first] == [(2, len(s.vocals)) for s in sources[:2]]
    assert not np.allclose(first[0][0], first[0][1])  # two different voices
    stamp = cache.stat().st_mtime_ns
    again = voice_variants(sources[:2], RATE, 2, seed=5, cache=cache)
    assert cache.stat().st_mtime_ns == stamp  # read back, not made again
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other = voice_variants(sources[:2], RATE, 2, seed=6, cache=cache)  # another seed: made anew
    assert not np.allclose(other[0], first[0])


def test_patch_source_draws_voices_only_for_remixed_examples(sources):
    # Stand-in voices that differ from the original everywhere, silent parts included.
    noise = np.random.default_rng(0)
    variants = [
        np.stack([s.vocals + 0.01 * noise.standard_normal(len(s.vocals)), 0.5 * s.vocals + 0.01])
        for s in sources
    ]
    plain = PatchSource(sources, CONFIG, seed=4, vocal_speed=0.1)
    varied = PatchSource(sources, CONFIG, seed=4, vocal_speed=0.1, voice_variants=variants)
    drawn = []
    original = varied.example
    varied.example = lambda *a, **k: drawn.append(k["voice"]) or original(*a, **k)
    for index in range(40):
        a, b = plain.random_example(index), varied.random_example(index)
        if drawn[-1] == 0:  # the original voice: the very same example
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
        else:
            assert not np.array_equal(a[-1], b[-1])
    assert set(drawn) == {0, 1, 2}
    with pytest.raises(ValueError, match="one array of variants per source"):
        PatchSource(sources, CONFIG, voice_variants=variants[:1])
    with pytest.raises(ValueError, match="differ in length"):
        PatchSource(sources, CONFIG, voice_variants=[v[:, :-1] for v in variants])


def test_vocal_effects_tilt_and_room(sources):
    vocals = sources[0].vocals[: 4 * RATE]
    rng = np.random.default_rng(0)
    for _ in range(20):
        settings = vocal_effects.draw(rng)
        out = vocal_effects.apply(vocals, RATE, settings)
        assert out.shape == vocals.shape and np.isfinite(out).all()
        assert np.sum(out**2) == pytest.approx(np.sum(vocals**2), rel=1e-3)  # loudness kept
        assert abs(settings["tilt"]) <= vocal_effects.TILT_DB_PER_OCTAVE
        assert settings["rt60"] == 0 or vocal_effects.RT60_SECONDS[0] <= settings["rt60"] <= 1.2

    def high_share(x):
        power = np.abs(np.fft.rfft(x)) ** 2
        return power[np.fft.rfftfreq(len(x), 1 / RATE) > 2000].sum() / power.sum()

    flat = dict(tilt=0.0, band_hz=1000.0, band_db=0.0, rt60=0.0, wet_db=0.0, room_seed=0)
    np.testing.assert_allclose(vocal_effects.apply(vocals, RATE, flat), vocals, atol=1e-5)
    brighter = vocal_effects.apply(vocals, RATE, dict(flat, tilt=3.0))
    darker = vocal_effects.apply(vocals, RATE, dict(flat, tilt=-3.0))
    assert high_share(darker) < high_share(vocals) < high_share(brighter)
    # A room keeps sound going after a click stops.
    click = np.zeros(RATE, np.float32)
    click[100] = 1.0
    wet = vocal_effects.apply(click, RATE, dict(flat, rt60=0.8, wet_db=-3.0))
    assert np.sum(wet[RATE // 4 :] ** 2) > 1e-3 * np.sum(wet**2)
    assert np.sum(vocal_effects.apply(click, RATE, flat)[RATE // 4 :] ** 2) < 1e-6


def test_eq_only_draws_the_same_eq_and_no_room(sources):
    with_room, eq_only = np.random.default_rng(3), np.random.default_rng(3)
    rooms = 0
    for _ in range(40):
        full, eq = vocal_effects.draw(with_room), vocal_effects.draw(eq_only, room=False)
        assert {k: full[k] for k in ("tilt", "band_hz", "band_db")} == {
            k: eq[k] for k in ("tilt", "band_hz", "band_db")}
        assert eq["rt60"] == 0 and eq["wet_db"] == 0
        rooms += full["rt60"] > 0
    assert 5 < rooms < 35  # about half of the examples get a room

    def effects_of(option):
        source = PatchSource(sources, CONFIG, seed=4, remix_probability=1.0, vocal_effects=option)
        drawn = []
        original = source.example
        source.example = lambda *a, **k: drawn.append(k["effects"]) or original(*a, **k)
        for index in range(30):
            source.random_example(index)
        return drawn

    flag, full, eq = effects_of(True), effects_of("eq+room"), effects_of("eq")
    assert flag == full and any(e["rt60"] > 0 for e in full)
    assert all(e["rt60"] == 0 for e in eq)
    assert [e["tilt"] for e in eq] == [e["tilt"] for e in full]
    assert effects_of(None) == [None] * 30
    with pytest.raises(ValueError, match="vocal_effects must be one of"):
        PatchSource(sources, CONFIG, vocal_effects="room")
