"""MUSDB18 support: stereo track loading, musdb layouts, the MUSDB18 evaluation protocol.

The datasets are tiny and generated here (3 s of synthetic stereo audio at
44.1 kHz): a MUSDB18 folder of ``.stem.mp4`` files written with stempeg (AAC,
so lossy), a MUSDB18-HQ folder of 16-bit wav stems, and a MIR-1K ``Wavfile``
folder. Synthetic tones keep the tests independent of ``../shared/data``.
"""

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from keras_sa import cli, data, evaluation
from keras_sa.data import DatasetError

RATE = 44100
SECONDS = 3
STEMS = ("mixture", "drums", "bass", "other", "vocals")  # MUSDB18's stem order


# The .stem.mp4 layout decodes through ffmpeg (stempeg); the README's test
# command installs it. Without it these tests are skipped, and
# test_stem_mp4_without_ffmpeg_is_a_one_line_error checks the message a user
# gets instead.
needs_ffmpeg = pytest.mark.skipif(
    not (shutil.which("ffmpeg") and shutil.which("ffprobe")),
    reason="MUSDB18 .stem.mp4 needs ffmpeg and ffprobe (bash scripts/test.sh installs them)",
)


def _stems(seed):
    """``{stem: (n, 2) float32}``: tonal, panned sources and decaying noise hits.

    Tones and short bursts survive AAC coding well (about 25 dB SNR), so a
    loose tolerance still catches a swapped or missing stem.
    """
    n = SECONDS * RATE
    t = np.arange(n) / RATE
    rng = np.random.default_rng(seed)

    def tone(f0, pan, harmonics=5):
        x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, harmonics + 1))
        return 0.3 * np.stack([x * (1 - pan), x * pan], axis=1)

    hits = np.zeros(n)
    hits[:: RATE // 4] = 1.0
    burst = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    drums = np.convolve(hits, burst)[:n]
    sung = np.sin(2 * np.pi * (200 + 20 * seed) * t + 3 * np.sin(2 * np.pi * 5 * t))
    stems = {
        "drums": 0.3 * np.stack([0.6 * drums, 0.4 * drums], axis=1),
        "bass": tone(55.0, 0.5, harmonics=4),
        "other": tone(330.0, 0.3) + tone(415.0, 0.7),
        "vocals": 0.3 * np.stack([0.55 * sung, 0.45 * sung], axis=1)
        * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))[:, None],
    }
    stems["mixture"] = stems["drums"] + stems["bass"] + stems["other"] + stems["vocals"]
    return {k: v.astype(np.float32) for k, v in stems.items()}


def _accompaniment(stems):
    return stems["drums"] + stems["bass"] + stems["other"]


@pytest.fixture(scope="module")
def musdb_root(tmp_path_factory):
    """A MUSDB18 folder: one train and two test ``.stem.mp4`` tracks.

    Returns:
        ``(root, {track name: stems})``.
    """
    import stempeg

    root = tmp_path_factory.mktemp("musdb")
    written = {}
    for seed, (subset, name) in enumerate(
        [("train", "Alpha - One"), ("test", "Beta - Two"), ("test", "Gamma - Three")]
    ):
        stems = _stems(seed)
        path = root / subset / f"{name}.stem.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        # A new writer each call: stempeg's default writer is a shared
        # instance that keeps the first call's rate and stem names.
        stempeg.write_stems(
            str(path), np.stack([stems[s] for s in STEMS]), sample_rate=RATE,
            writer=stempeg.StreamsWriter(stem_names=list(STEMS)),
        )
        written[name] = stems
    return root, written


@pytest.fixture(scope="module")
def musdb_hq_root(tmp_path_factory):
    """A MUSDB18-HQ folder: ``train/<track>/{mixture,drums,bass,other,vocals}.wav``.

    Returns:
        ``(root, stems)`` with the stems as read back from the 16-bit files.
    """
    root = tmp_path_factory.mktemp("musdb_hq")
    folder = root / "train" / "Delta - Four"
    folder.mkdir(parents=True)
    stems = {}
    for stem, samples in _stems(3).items():
        soundfile.write(str(folder / f"{stem}.wav"), samples, RATE, subtype="PCM_16")
        stems[stem] = soundfile.read(str(folder / f"{stem}.wav"), dtype="float32")[0]
    return root, stems


def _snr(estimate, reference):
    return 10 * np.log10(np.sum(reference**2) / np.sum((estimate - reference) ** 2))


# ---------------------------------------------------------------------------
# Track.load(rate, mono=False) in every layout


def test_mir1k_wav_sources_are_one_channel_each(tmp_path):
    n = 8000
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal((n, 2))).astype(np.float32)  # left acc, right vocals
    (tmp_path / "Wavfile").mkdir()
    soundfile.write(str(tmp_path / "Wavfile" / "amy_1_01.wav"), wav, 16000, subtype="FLOAT")
    (track,) = data.discover(tmp_path)
    assert track.rate() == 16000
    stereo = track.load(16000, mono=False)
    assert stereo["vocals"].shape == stereo["accompaniment"].shape == (1, n)
    np.testing.assert_array_equal(stereo["vocals"][0], wav[:, 1])
    np.testing.assert_array_equal(stereo["accompaniment"][0], wav[:, 0])
    mono = track.load(16000)
    assert mono["vocals"].shape == (n,)
    np.testing.assert_array_equal(mono["vocals"], wav[:, 1])


def test_stem_folder_keeps_channels_and_repeats_mono_stems(tmp_path):
    stems = _stems(0)
    folder = tmp_path / "Artist - Song"
    folder.mkdir()
    for stem in ("vocals", "drums", "other"):
        soundfile.write(str(folder / f"{stem}.wav"), stems[stem], RATE, subtype="FLOAT")
    bass = stems["bass"][:, 0]  # a mono stem in a stereo track
    soundfile.write(str(folder / "bass.wav"), bass, RATE, subtype="FLOAT")
    (track,) = data.discover(tmp_path)
    assert track.rate() == RATE
    stereo = track.load(RATE, mono=False)
    n = len(bass)
    assert stereo["vocals"].shape == stereo["accompaniment"].shape == (2, n)
    np.testing.assert_array_equal(stereo["vocals"], stems["vocals"].T)
    expected = stems["drums"] + stems["other"] + bass[:, None]
    np.testing.assert_allclose(stereo["accompaniment"], expected.T, atol=1e-6)
    # Mono loading is the down-mix of each stem, as before.
    mono = track.load(RATE)
    np.testing.assert_allclose(mono["vocals"], stems["vocals"].mean(axis=1), atol=1e-7)
    assert mono["accompaniment"].shape == (n,)

    # Stereo and 3-channel stems cannot be matched up.
    soundfile.write(str(folder / "other.wav"), np.zeros((n, 3), np.float32) + 0.1, RATE)
    with pytest.raises(DatasetError, match="channel counts"):
        track.load(RATE, mono=False)


# ---------------------------------------------------------------------------
# MUSDB18 (.stem.mp4) and MUSDB18-HQ through the musdb package


@needs_ffmpeg
def test_musdb_stem_files_are_found_and_loaded(musdb_root):
    root, written = musdb_root
    train = data.discover(root, "musdb")
    assert [t.name for t in train] == ["Alpha - One"]
    assert [t.name for t in data.discover(root)] == ["Alpha - One"]  # auto: musdb
    test = data.discover(root, "musdb", subset="test")
    assert [t.name for t in test] == ["Beta - Two", "Gamma - Three"]
    assert [t.name for t in data.musdb_tracks(root, subset="test")] == [t.name for t in test]

    track = test[0]
    assert track.group == track.name and track.rate() == RATE
    stems = written[track.name]
    sources = track.load(RATE, mono=False)
    n = SECONDS * RATE
    for key, reference in (("vocals", stems["vocals"]), ("accompaniment", _accompaniment(stems))):
        loaded = sources[key]
        assert loaded.dtype == np.float32 and loaded.shape[0] == 2
        # AAC pads the end to whole 1024-sample frames: a few hundred more samples.
        assert n <= loaded.shape[1] < n + 2048
        estimate = loaded[:, :n].T
        assert _snr(estimate, reference) > 15, key
        for channel in range(2):
            assert np.corrcoef(estimate[:, channel], reference[:, channel])[0, 1] > 0.9
    mono = track.load(RATE)
    np.testing.assert_allclose(mono["vocals"], sources["vocals"].mean(axis=0), atol=1e-6)
    at_16k = track.load(16000)
    assert abs(len(at_16k["vocals"]) - sources["vocals"].shape[1] * 16000 / RATE) <= 1


def test_musdb_hq_wav_layout(musdb_hq_root):
    root, stems = musdb_hq_root
    (track,) = data.discover(root, "musdb-wav")
    assert track.name == "Delta - Four" and track.rate() == RATE
    assert [t.name for t in data.discover(root)] == ["Delta - Four"]  # auto: musdb-wav
    sources = track.load(RATE, mono=False)
    # musdb decodes to 16 bits; the files are 16-bit: equal within rounding.
    np.testing.assert_allclose(sources["vocals"], stems["vocals"].T, atol=1e-4)
    np.testing.assert_allclose(sources["accompaniment"], _accompaniment(stems).T, atol=1e-4)


@needs_ffmpeg
def test_musdb_folder_without_tracks_is_an_error(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetError, match="no 'train' tracks"):
        data.discover(tmp_path, "musdb")


# ---------------------------------------------------------------------------
# the MUSDB18 protocol


def test_musdb_clips_mix_by_summing(musdb_hq_root):
    root, _ = musdb_hq_root
    tracks = data.discover(root, "musdb-wav")
    (clip,) = evaluation.MusdbClips(tracks)
    assert clip.sample_rate == RATE
    np.testing.assert_allclose(
        clip.mixture, clip.references["vocals"] + clip.references["accompaniment"]
    )


def test_summarize_museval_takes_medians_over_tracks():
    records = [
        {"name": n, "status": s, "vocals_sdr": v, "vocals_sar": 1.0}
        for n, s, v in [("a", "ok", 1.0), ("b", "ok", 5.0), ("c", "ok", 2.0),
                        ("d", "ok", float("nan")), ("e", "failed", float("nan"))]
    ]
    summary = evaluation.summarize_museval(records)
    assert summary["vocals_sdr"] == 2.0 and summary["vocals_sar"] == 1.0
    assert (summary["tracks"], summary["evaluated"], summary["failed"]) == (5, 4, 1)


def _read(out, label):
    with open(out / f"{label}_clips.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return rows, json.loads((out / f"{label}_summary.json").read_text())


@needs_ffmpeg
def test_evaluate_musdb_protocol(tmp_path, musdb_root, small_model_file, capsys):
    root, _ = musdb_root
    out = tmp_path / "results"
    code = cli.main(
        ["evaluate", str(root), "-o", str(out), "--protocol", "musdb", "--model", small_model_file,
         "--baseline", "irm", "--baseline", "repet"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 tracks, scored at their own rate" in printed
    for label in ("small", "irm", "repet"):
        rows, summary = _read(out, label)
        assert [r["name"] for r in rows] == ["Beta - Two", "Gamma - Three"]  # the test subset
        assert all(r["status"] == "ok" for r in rows)
        assert {(r["sample_rate"], r["channels"]) for r in rows} == {(str(RATE), "2")}
        assert summary["evaluated"] == 2
        for key in ("vocals_sdr", "vocals_sir", "vocals_isr", "vocals_sar", "accompaniment_sdr"):
            assert summary[key] == pytest.approx(np.median([float(r[key]) for r in rows]))
    _, irm = _read(out, "irm")
    _, small = _read(out, "small")
    assert irm["vocals_sdr"] > 10 and irm["vocals_sdr"] > small["vocals_sdr"]


def test_evaluate_musdb_protocol_on_stem_folders(tmp_path, musdb_hq_root, small_model_file):
    root, _ = musdb_hq_root
    out = tmp_path / "results"
    # <root>/train holds plain stem folders: the "stems" layout.
    code = cli.main(["evaluate", str(root / "train"), "-o", str(out), "--protocol", "musdb",
                     "--model", small_model_file])
    assert code == 0
    rows, summary = _read(out, "small")
    assert [r["name"] for r in rows] == ["Delta - Four"] and rows[0]["channels"] == "2"
    assert summary["evaluated"] == 1


@needs_ffmpeg
def test_evaluate_musdb_errors_are_one_line(tmp_path, small_model_file, capsys):
    (tmp_path / "test").mkdir()
    code = cli.main(["evaluate", str(tmp_path), "-o", str(tmp_path / "out"), "--protocol", "musdb",
                     "--layout", "musdb", "--model", small_model_file])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("keras-sa: error:") and "musdb found no 'test' tracks" in err[0]

    code = cli.main(["evaluate", str(tmp_path), "-o", str(tmp_path / "out"), "--protocol", "musdb",
                     "--split", "test", "--baseline", "irm"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == ["keras-sa: error: --split is for --protocol mir1k; with musdb use --subset"]
    code = cli.main(["evaluate", str(tmp_path), "-o", str(tmp_path / "out"), "--protocol", "musdb",
                     "--singers", "amy", "--baseline", "irm"])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "keras-sa: error: --singers is for --protocol mir1k; with musdb use --subset"]


# ---------------------------------------------------------------------------
# ffmpeg is needed for .stem.mp4 only


def _run_without_ffmpeg(tmp_path, args):
    """``keras-sa ARGS`` in a fresh process whose PATH holds no ffmpeg or ffprobe."""
    empty = tmp_path / "no_ffmpeg_bin"
    empty.mkdir()
    script = (
        "import sys\n"
        "from keras_sa import cli\n"
        "code = cli.main(sys.argv[1:])\n"
        "print('imported:', sorted(m for m in ('musdb', 'stempeg') if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    env = dict(os.environ, PATH=str(empty))
    return subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_evaluate_musdb_hq_needs_no_ffmpeg(tmp_path, musdb_hq_root, small_model_file):
    root, _ = musdb_hq_root
    out = tmp_path / "results"
    result = _run_without_ffmpeg(tmp_path, ["evaluate", str(root), "-o", str(out), "--protocol",
                                            "musdb", "--subset", "train", "--model", small_model_file])
    assert result.returncode == 0, result.stderr
    assert "imported: []" in result.stdout
    rows, summary = _read(out, "small")
    assert [r["name"] for r in rows] == ["Delta - Four"] and rows[0]["status"] == "ok"
    assert np.isfinite(summary["vocals_sdr"])


def test_stem_mp4_without_ffmpeg_is_a_one_line_error(tmp_path, small_model_file):
    root = tmp_path / "musdb"
    (root / "test").mkdir(parents=True)
    (root / "test" / "Alpha - One.stem.mp4").write_bytes(b"\0" * 64)
    result = _run_without_ffmpeg(tmp_path, ["evaluate", str(root), "-o", str(tmp_path / "out"),
                                            "--protocol", "musdb", "--model", small_model_file])
    err = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(err) == 1, result.stderr
    assert err[0].startswith("keras-sa: error:") and "need ffmpeg" in err[0]
