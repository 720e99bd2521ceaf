"""Tests of keras_sa.evaluation on real MIR-1K stems (three test-singer clips).

The stems come from the ``mir1k_root`` fixture of ``conftest.py``, which skips
these tests when the shared data folder is absent.
"""

import csv
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_sa.audio.signal import SignalConfig
from keras_sa.evaluation import (
    Clip,
    evaluate_tracks,
    ideal_ratio_mask,
    mixture_baseline,
    museval_scores,
    repet_sim,
    summarize,
    write_results,
)

TRAIN_SINGERS = ("abjones_", "amy_")
SOURCES = ("vocals", "accompaniment")


def _load_clip(folder, seconds=None):
    vocals, rate = sf.read(folder / "vocals.opus", dtype="float32")
    accompaniment, _ = sf.read(folder / "accompaniment.opus", dtype="float32")
    if seconds is not None:
        vocals, accompaniment = vocals[: int(seconds * rate)], accompaniment[: int(seconds * rate)]
    # The MIR-1K protocol's mixture: the mono down-mix of the stereo file.
    mixture = (vocals + accompaniment) / 2
    return Clip(folder.name, mixture, {"vocals": vocals, "accompaniment": accompaniment}, rate)


@pytest.fixture(scope="module")
def clip_folders(mir1k_root):
    # The first three clips of the test singers (training singers excluded).
    folders = sorted(p for p in mir1k_root.iterdir() if not p.name.startswith(TRAIN_SINGERS))
    return folders[:3]


@pytest.fixture(scope="module")
def clips(clip_folders):
    return [_load_clip(folder) for folder in clip_folders]


@pytest.fixture(scope="module")
def short_clip(clip_folders):
    return _load_clip(clip_folders[0], seconds=2.0)


@pytest.fixture(scope="module")
def irm_records(clips):
    return evaluate_tracks(clips, ideal_ratio_mask(), progress=False)


@pytest.fixture(scope="module")
def repet_records(clips):
    return evaluate_tracks(clips, repet_sim(), progress=False)


def _column(records, key):
    return np.array([r[key] for r in records])


def test_mixture_baseline_has_zero_nsdr(clips):
    records = evaluate_tracks(clips, mixture_baseline(), progress=False)
    assert [r["status"] for r in records] == ["ok"] * len(clips)
    for source in SOURCES:
        assert np.all(np.abs(_column(records, f"{source}_nsdr")) < 1e-6)
        assert np.all(np.isfinite(_column(records, f"{source}_mixture_sdr")))
    summary = summarize(records)
    assert abs(summary["vocals_gnsdr"]) < 1e-6
    assert abs(summary["accompaniment_gnsdr"]) < 1e-6


def test_irm_is_well_above_repet_sim(irm_records, repet_records):
    for records in (irm_records, repet_records):
        assert [r["status"] for r in records] == ["ok"] * 3
        for source in SOURCES:
            for metric in ("sdr", "sir", "sar", "nsdr"):
                assert np.all(np.isfinite(_column(records, f"{source}_{metric}")))
    assert _column(irm_records, "vocals_nsdr").mean() > 8.0
    irm, repet = summarize(irm_records), summarize(repet_records)
    assert irm["vocals_gnsdr"] > repet["vocals_gnsdr"] + 5.0
    assert irm["accompaniment_gnsdr"] > repet["accompaniment_gnsdr"] + 5.0


def test_repet_sim_ignores_references(short_clip):
    estimator = repet_sim()
    with_refs = estimator(short_clip.mixture, short_clip.references)
    without = estimator(short_clip.mixture, None)
    n = short_clip.mixture.shape[0]
    for source in SOURCES:
        assert with_refs[source].shape == (n,)
        np.testing.assert_array_equal(with_refs[source], without[source])


def test_irm_resamples_to_its_own_rate(short_clip):
    estimator = ideal_ratio_mask(SignalConfig(sample_rate=8000))
    records = evaluate_tracks([short_clip], estimator, progress=False)
    assert records[0]["status"] == "ok"
    assert records[0]["vocals_nsdr"] > 8.0


def test_references_as_estimates_score_very_high(clips):
    def oracle(mixture, references):
        return {s: np.asarray(references[s]) for s in SOURCES}

    records = evaluate_tracks(clips, oracle, progress=False)
    for source in SOURCES:
        assert np.all(_column(records, f"{source}_sdr") > 40.0)


def _synthetic_records():
    def record(name, length, status, vocals, accompaniment):
        r = {"name": name, "length": length, "sample_rate": 16000, "status": status}
        for source, (sdr, sir, sar, nsdr) in (("vocals", vocals), ("accompaniment", accompaniment)):
            r.update({f"{source}_sdr": sdr, f"{source}_sir": sir, f"{source}_sar": sar,
                      f"{source}_nsdr": nsdr, f"{source}_mixture_sdr": sdr - nsdr})
        r["note"] = "" if status == "ok" else status
        return r

    nan4 = (math.nan,) * 4
    return [
        record("a", 1000, "ok", (8.0, 20.0, 5.0, 10.0), (1.0, 2.0, 3.0, 4.0)),
        record("b", 3000, "ok", (0.0, 4.0, 9.0, 2.0), (5.0, 6.0, 7.0, 8.0)),
        record("c", 5000, "failed", nan4, nan4),
        record("d", 7000, "skipped", nan4, nan4),
    ]


def test_summarize_weights_by_length():
    summary = summarize(_synthetic_records())
    assert summary["vocals_gnsdr"] == pytest.approx((1000 * 10.0 + 3000 * 2.0) / 4000)
    assert summary["vocals_gsir"] == pytest.approx((1000 * 20.0 + 3000 * 4.0) / 4000)
    assert summary["vocals_gsar"] == pytest.approx((1000 * 5.0 + 3000 * 9.0) / 4000)
    assert summary["accompaniment_gnsdr"] == pytest.approx((1000 * 4.0 + 3000 * 8.0) / 4000)
    assert summary["vocals_mean_nsdr"] == pytest.approx(6.0)
    assert summary["vocals_mean_sdr"] == pytest.approx(4.0)
    assert (summary["clips"], summary["evaluated"]) == (4, 2)
    assert (summary["skipped"], summary["failed"]) == (1, 1)
    assert summary["total_length"] == 4000


def test_write_results(tmp_path):
    records = _synthetic_records()
    summary = summarize(records)
    csv_path, json_path = write_results(records, summary, tmp_path / "out", "method")
    assert Path(csv_path) == tmp_path / "out" / "method_clips.csv"
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["name"] for row in rows] == ["a", "b", "c", "d"]
    assert float(rows[1]["vocals_nsdr"]) == 2.0
    assert [row["status"] for row in rows] == ["ok", "ok", "failed", "skipped"]

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    written = json.loads(Path(json_path).read_text(), parse_constant=refuse)
    assert Path(json_path).name == "method_summary.json"
    assert set(written) == set(summary)
    assert written["vocals_gnsdr"] == pytest.approx(summary["vocals_gnsdr"])
    assert written["failed"] == 1


def test_silent_reference_is_skipped_and_counted(short_clip, caplog):
    accompaniment = short_clip.references["accompaniment"]
    silent = Clip("silent", accompaniment / 2,
                  {"vocals": np.zeros_like(accompaniment), "accompaniment": accompaniment},
                  short_clip.sample_rate)
    with caplog.at_level(logging.WARNING, logger="keras_sa.evaluation"):
        records = evaluate_tracks([silent, short_clip], mixture_baseline(), progress=False)
    assert "silent" in caplog.text
    assert [r["status"] for r in records] == ["skipped", "ok"]
    assert math.isnan(records[0]["vocals_nsdr"])
    summary = summarize(records)
    assert (summary["clips"], summary["evaluated"], summary["skipped"]) == (2, 1, 1)
    assert summary["total_length"] == short_clip.mixture.shape[0]


def test_unscorable_estimate_fails_with_nan(short_clip):
    def mute_vocals(mixture, references):
        return {"vocals": np.zeros_like(mixture), "accompaniment": mixture}

    records = evaluate_tracks([short_clip], mute_vocals, progress=False)
    assert records[0]["status"] == "failed"
    assert all(math.isnan(records[0][f"{s}_sdr"]) for s in SOURCES)
    summary = summarize(records)
    assert (summary["failed"], summary["evaluated"]) == (1, 0)
    assert math.isnan(summary["vocals_gnsdr"])


def test_scoring_in_worker_processes_gives_the_same_records(clips, short_clip, irm_records):
    """``jobs=2`` scores in spawned processes: the same records, failures included, in order."""

    def mute_vocals_of_the_short_clip(mixture, references, sample_rate=None):
        if mixture.shape == short_clip.mixture.shape:
            return {"vocals": np.zeros_like(mixture), "accompaniment": mixture}
        return irm(mixture, references, sample_rate=sample_rate)

    irm = ideal_ratio_mask()
    order = [clips[0], short_clip, clips[1], clips[2]]
    records = evaluate_tracks(order, mute_vocals_of_the_short_clip, progress=False, jobs=2)
    assert [r["name"] for r in records] == [c.name for c in order]
    assert [r["status"] for r in records] == ["ok", "failed", "ok", "ok"]
    assert records[1]["note"] and math.isnan(records[1]["vocals_sdr"])
    for parallel, serial in zip([records[0], *records[2:]], irm_records):
        assert parallel == serial
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        evaluate_tracks(order, irm, progress=False, jobs=0)


def test_wrong_estimate_shape_raises(short_clip):
    def truncating(mixture, references):
        return {s: mixture[:-1] for s in SOURCES}

    with pytest.raises(ValueError, match="shape"):
        evaluate_tracks([short_clip], truncating, progress=False)


def test_museval_scores_on_stereo(clip_folders):
    clip = _load_clip(clip_folders[0], seconds=3.0)
    rng = np.random.default_rng(0)
    references = {s: np.stack([clip.references[s]] * 2, axis=1) for s in SOURCES}
    estimates = {s: r + 1e-4 * rng.standard_normal(r.shape) for s, r in references.items()}
    scores = museval_scores(references, estimates, clip.sample_rate)
    assert set(scores) == {f"{s}_{m}" for s in SOURCES for m in ("sdr", "sir", "isr", "sar")}
    assert all(np.isfinite(v) for v in scores.values())
    assert scores["vocals_sdr"] > 30.0 and scores["accompaniment_sdr"] > 30.0
