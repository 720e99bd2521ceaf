"""Tests of keras_sa.data.tracks: finding, splitting and loading datasets."""

import logging
import math

import numpy as np
import pytest
import soundfile

from keras_sa import data
from keras_sa.audio import load_audio
from keras_sa.data import DatasetError

RATE = 16000


def _write(path, samples, rate=RATE):
    """Writes mono float32 samples as a float WAV (read back exactly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(samples, np.float32), rate, subtype="FLOAT")


def _sine(frequency, n, amplitude=0.3, rate=RATE):
    t = np.arange(n) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def mir1k_tracks(mir1k_root):
    return data.discover(mir1k_root)


@pytest.fixture(scope="module")
def real_slice(mir1k_root):
    """Two seconds of a real MIR-1K vocal and accompaniment stem."""
    vocals, _ = load_audio(mir1k_root / "amy_1_01" / "vocals.opus", sample_rate=RATE)
    accompaniment, _ = load_audio(mir1k_root / "amy_1_01" / "accompaniment.opus", sample_rate=RATE)
    return vocals[0, RATE : 3 * RATE], accompaniment[0, RATE : 3 * RATE]


# ---------------------------------------------------------------------------
# MIR-1K stems ("stems" layout) and the protocol split


def test_discovers_mir1k_stems_grouped_by_song(mir1k_tracks):
    assert len(mir1k_tracks) == 1000
    by_name = {t.name: t for t in mir1k_tracks}
    assert len(by_name) == 1000
    assert by_name["amy_3_01"].group == "amy_3"
    assert by_name["abjones_1_02"].group == "abjones_1"
    assert by_name["Ani_1_01"].group == "Ani_1"
    assert all(t.group == t.name.rsplit("_", 1)[0] for t in mir1k_tracks)


def test_mir1k_split_follows_the_protocol(mir1k_tracks):
    train, test = data.mir1k_split(mir1k_tracks)
    assert len(train) == 175 and len(test) == 825
    assert all(t.name.startswith(("abjones_", "amy_")) for t in train)
    assert not any(t.name.startswith(("abjones_", "amy_")) for t in test)
    tammy = [t.name for t in mir1k_tracks if t.name.startswith("tammy_")]
    assert tammy and set(tammy) <= {t.name for t in test}
    assert {t.name for t in train} | {t.name for t in test} == {t.name for t in mir1k_tracks}


def test_validation_split_keeps_songs_whole(mir1k_tracks):
    train, _ = data.mir1k_split(mir1k_tracks)
    kept, held = data.validation_split(train, 0.1)
    again = data.validation_split(train, 0.1)
    assert [t.name for t in again[0]] == [t.name for t in kept]
    assert [t.name for t in again[1]] == [t.name for t in held]
    assert not {t.group for t in kept} & {t.group for t in held}
    assert 0.1 * len(train) <= len(held) < 0.25 * len(train)
    names_kept, names_held = {t.name for t in kept}, {t.name for t in held}
    assert not names_kept & names_held
    assert names_kept | names_held == {t.name for t in train}
    # The order of the input does not change the split.
    reversed_split = data.validation_split(train[::-1], 0.1)
    assert {t.name for t in reversed_split[1]} == names_held
    with pytest.raises(ValueError, match="fraction"):
        data.validation_split(train, 0.0)


# ---------------------------------------------------------------------------
# original MIR-1K layout


def test_mir1k_wavfile_layout_loads_channels(shared_data):
    root = shared_data / "mir1k-wav-sample"
    if not (root / "Wavfile").is_dir():
        pytest.skip(f"{root}/Wavfile not found")
    tracks = data.discover(root)
    assert len(tracks) == 6
    track = next(t for t in tracks if t.name == "amy_1_01")
    assert track.group == "amy_1"
    sources = track.load(RATE)
    wav, rate = soundfile.read(str(root / "Wavfile" / "amy_1_01.wav"), dtype="float32")
    assert rate == RATE and wav.shape[1] == 2
    np.testing.assert_array_equal(sources["vocals"], wav[:, 1])
    np.testing.assert_array_equal(sources["accompaniment"], wav[:, 0])
    assert np.any(wav[:, 0] != wav[:, 1])
    # The same clip through load_sources, at another rate.
    (loaded,) = data.load_sources([track], 8000)
    assert len(loaded.vocals) == len(loaded.accompaniment) == math.ceil(len(wav) / 2)


# ---------------------------------------------------------------------------
# MUSDB18-HQ-style stem folders


def test_stem_folder_sums_the_accompaniment_stems(tmp_path, real_slice):
    vocals, accompaniment = real_slice
    n = len(vocals)
    stems = {
        "vocals": vocals,
        "drums": accompaniment,
        "bass": _sine(55.0, n),
        "other": _sine(660.0, n, 0.1),
    }
    for stem, samples in stems.items():
        _write(tmp_path / "Artist - Song" / f"{stem}.wav", samples)
    # A mixture that is not the sum of the stems: it must be ignored.
    _write(tmp_path / "Artist - Song" / "mixture.wav", _sine(3000.0, n))
    (track,) = data.discover(tmp_path)
    assert track.name == track.group == "Artist - Song"
    sources = track.load(RATE)
    np.testing.assert_array_equal(sources["vocals"], vocals)
    expected = stems["drums"] + stems["bass"] + stems["other"]
    np.testing.assert_allclose(sources["accompaniment"], expected, atol=1e-6)
    assert sources["accompaniment"].dtype == np.float32


def test_stem_folder_prefers_an_accompaniment_file(tmp_path, real_slice):
    vocals, accompaniment = real_slice
    folder = tmp_path / "track"
    _write(folder / "vocals.wav", vocals)
    _write(folder / "accompaniment.wav", accompaniment)
    _write(folder / "drums.wav", _sine(100.0, len(vocals)))
    (track,) = data.stem_folder_tracks(tmp_path)
    sources = track.load(RATE)
    np.testing.assert_array_equal(sources["accompaniment"], accompaniment)
    np.testing.assert_array_equal(sources["vocals"], vocals)


def test_stem_folder_stereo_stems_are_mixed_down(tmp_path):
    n = 4000
    left, right = _sine(220.0, n), _sine(330.0, n)
    folder = tmp_path / "stereo"
    folder.mkdir()
    soundfile.write(str(folder / "vocals.wav"), np.stack([left, right], 1), RATE, subtype="FLOAT")
    _write(folder / "accompaniment.wav", _sine(110.0, n))
    (track,) = data.discover(tmp_path)
    np.testing.assert_allclose(track.load(RATE)["vocals"], (left + right) / 2, atol=1e-7)


# ---------------------------------------------------------------------------
# bad datasets


def test_missing_folder_is_an_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="nowhere"):
        data.discover(missing)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError):
        data.discover(tmp_path)


def test_track_folders_without_vocals_are_an_error(tmp_path):
    for name in ("a", "b"):
        _write(tmp_path / name / "drums.wav", _sine(100.0, 1000))
        _write(tmp_path / name / "bass.wav", _sine(50.0, 1000))
    with pytest.raises(DatasetError, match="vocals"):
        data.discover(tmp_path)


def test_load_sources_skips_bad_tracks(tmp_path, real_slice, caplog):
    vocals, accompaniment = real_slice
    _write(tmp_path / "good" / "vocals.wav", vocals)
    _write(tmp_path / "good" / "accompaniment.wav", accompaniment)
    _write(tmp_path / "lengths" / "vocals.wav", vocals)
    _write(tmp_path / "lengths" / "accompaniment.wav", accompaniment[:-100])
    _write(tmp_path / "silent" / "vocals.wav", vocals)
    _write(tmp_path / "silent" / "accompaniment.wav", np.zeros_like(accompaniment))
    _write(tmp_path / "corrupt" / "vocals.wav", vocals)
    (tmp_path / "corrupt" / "accompaniment.wav").write_bytes(b"RIFF\x00\x01garbage" * 10)
    tracks = data.discover(tmp_path)
    assert sorted(t.name for t in tracks) == ["corrupt", "good", "lengths", "silent"]

    with caplog.at_level(logging.WARNING, logger="keras_sa.data.tracks"):
        loaded = data.load_sources(tracks, RATE)
    assert [s.name for s in loaded] == ["good"]
    np.testing.assert_array_equal(loaded[0].vocals, vocals)
    np.testing.assert_allclose(loaded[0].mixture, (vocals + accompaniment) / 2)
    assert "skipped 3 of 4 tracks" in caplog.text
    for name in ("corrupt", "lengths", "silent"):
        assert f"skipping {name}" in caplog.text

    bad = [t for t in tracks if t.name != "good"]
    with pytest.raises(DatasetError, match="no usable tracks"):
        data.load_sources(bad, RATE)


def test_unknown_layout_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="layout"):
        data.discover(tmp_path, layout="nope")


# ---------------------------------------------------------------------------
# rates


def test_loading_at_8khz_halves_the_length(mir1k_tracks):
    track = next(t for t in mir1k_tracks if t.name == "amy_1_01")
    at_16k = track.load(RATE)
    at_8k = track.load(8000)
    n = len(at_16k["vocals"])
    assert len(at_16k["accompaniment"]) == n
    for key in ("vocals", "accompaniment"):
        assert at_8k[key].dtype == np.float32
        assert len(at_8k[key]) == math.ceil(n * 8000 / RATE)
    # Resampling keeps the level of the signal.
    ratio = np.sqrt(np.mean(at_8k["vocals"] ** 2) / np.mean(at_16k["vocals"] ** 2))
    assert 0.8 < ratio <= 1.0
