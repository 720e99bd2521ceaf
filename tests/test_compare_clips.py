"""scripts/compare_clips.py: the paired per-clip comparison behind the model card's ablation."""

import csv
from pathlib import Path

import pytest

from script_loader import load_script

RESULTS = Path(__file__).resolve().parents[1] / "results"
FIELDS = ["name", "length", "sample_rate", "status", "vocals_nsdr", "accompaniment_nsdr"]



def write(path, rows):
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        writer.writeheader()
        for name, length, status, vocals, accompaniment in rows:
            writer.writerow(dict(zip(FIELDS, (name, length, 16000, status, vocals, accompaniment))))
    return path


def test_differences_weights_and_failed_clips(tmp_path, capsys):
    script = load_script("compare_clips")
    a = write(tmp_path / "a.csv", [
        ("c1", 100, "ok", 10.0, 5.0), ("c2", 300, "ok", 6.0, 5.0),
        ("c3", 100, "ok", 8.0, 4.0), ("c4", 100, "failed", "", ""),
    ])
    b = write(tmp_path / "b.csv", [
        ("c1", 100, "ok", 9.0, 5.5), ("c2", 300, "ok", 4.0, 5.5),
        ("c3", 100, "ok", 8.5, 4.5), ("c4", 100, "ok", 1.0, 1.0),
    ])
    assert script.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("3 clips scored in both")
    # GNSDR weighs by length: (10 + 3 * 6 + 8) / 5 = 7.2; (9 + 12 + 8.5) / 5 = 5.9.
    assert "vocals: GNSDR A 7.20 dB, B 5.90 dB" in out[1]
    # Differences +1, +2, -0.5: mean +0.833, A ahead on 2 of 3.
    assert "mean +0.833 dB" in out[1] and "A ahead on 2 of 3" in out[1]
    assert "mean -0.500 dB" in out[2] and "A ahead on 0 of 3" in out[2]


def test_files_of_different_clips_or_formats_are_one_line_errors(tmp_path, capsys):
    script = load_script("compare_clips")
    a = write(tmp_path / "a.csv", [("c1", 100, "ok", 1.0, 1.0), ("c2", 100, "ok", 2.0, 2.0)])
    b = write(tmp_path / "b.csv", [("c1", 100, "ok", 1.0, 1.0), ("c3", 100, "ok", 2.0, 2.0)])
    assert script.main([str(a), str(b)]) == 1
    assert "score different clips (2 in one file only)" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    other.write_text("x,y\n1,2\n")
    assert script.main([str(a), str(other)]) == 1
    assert "not a per-clip CSV" in capsys.readouterr().err
    assert script.main([str(a), str(tmp_path / "missing.csv")]) == 1
    assert "missing.csv" in capsys.readouterr().err


@pytest.mark.parametrize("folder", ["mir1k_seed0_4000steps", "mir1k_seed1"])
def test_committed_ablation_files_compare(folder, capsys):
    """The committed per-clip scores of the ablation runs are complete and comparable."""
    results = RESULTS / folder
    script = load_script("compare_clips")
    assert script.main([str(results / "sa_shn_mobile_clips.csv"), str(results / "shn_mobile_clips.csv")]) == 0
    assert capsys.readouterr().out.startswith("825 clips scored in both")
