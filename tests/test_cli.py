"""keras-sa: info, evaluate and train (separate and stream: test_cli_separate.py, test_cli_stream.py)."""

import subprocess
import sys

from keras_sa import cli, models


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "keras_sa.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_info_lists_presets_with_sizes():
    result = run_cli("info")
    assert result.returncode == 0, result.stderr
    for name in models.PRESETS:
        assert name in result.stdout
    assert "34.22M" in result.stdout  # shn_paper
    from importlib import metadata

    for package in ("tensorflow", "ai-edge-litert", "tensorflow-serving-api", "jax"):
        assert f"{package} {metadata.version(package)}" in result.stdout


def test_info_sizes_a_config_file_against_the_phone_budget(tmp_path):
    wide = models.get_preset("sa_shn_mobile").replace(name="too_wide", channels=64)
    (tmp_path / "wide.json").write_text(wide.to_json())
    result = run_cli("info", "--config", str(tmp_path / "wide.json"))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    assert rows["sa_shn_mobile"][-1] == "yes" and rows["shn_paper"][-1] == "no"
    assert float(rows["too_wide"][2]) > 2.0 and rows["too_wide"][-1] == "no"  # over 2 GMAC/s
    bad = run_cli("info", "--config", str(tmp_path / "missing.json"))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "missing.json" in bad.stderr


def test_evaluate_writes_per_clip_csv_and_summary(tmp_path, mir1k_root, small_model_file, capsys):
    import csv
    import json

    out = tmp_path / "results"
    code = cli.main(
        ["evaluate", str(mir1k_root), "-o", str(out), "--model", small_model_file,
         "--model", small_model_file, "--baseline", "irm", "--split", "test",
         "--every", "100", "--limit", "2", "--jobs", "2"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 clips" in printed
    for label in ("small", "small_2", "irm"):
        with open(out / f"{label}_clips.csv", newline="") as file:
            rows = list(csv.DictReader(file))
        assert len(rows) == 2 and all(not r["name"].startswith(("abjones_", "amy_")) for r in rows)
        summary = json.loads((out / f"{label}_summary.json").read_text())
        assert summary["evaluated"] == 2
    irm = json.loads((out / "irm_summary.json").read_text())
    assert irm["vocals_gnsdr"] > 5


def test_evaluate_scores_the_clips_of_the_singers_asked_for(tmp_path, mir1k_root, capsys):
    import csv

    out = tmp_path / "results"
    code = cli.main(["evaluate", str(mir1k_root), "-o", str(out), "--baseline", "irm",
                     "--singers", "abjones,tammy", "--every", "8"])
    assert code == 0
    with open(out / "irm_clips.csv", newline="") as file:
        names = [row["name"] for row in csv.DictReader(file)]
    assert names and {name.split("_")[0] for name in names} == {"abjones", "tammy"}
    # abjones is a training singer: --split could never have given these clips together.
    assert cli.main(["evaluate", str(mir1k_root), "-o", str(out), "--baseline", "irm",
                     "--singers", "abjones", "--split", "test"]) == 1
    assert capsys.readouterr().err.strip().endswith("give --split or --singers, not both")
    assert cli.main(["evaluate", str(mir1k_root), "-o", str(out), "--baseline", "irm",
                     "--singers", "nobody"]) == 1
    assert "no clips in singers nobody" in capsys.readouterr().err


def test_evaluate_bad_dataset_is_one_line(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path / "missing"), "-o", str(tmp_path), "--baseline", "irm"]) == 1
    assert "dataset folder not found" in capsys.readouterr().err


def test_train_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["train", str(tmp_path / "missing"), "-o", str(tmp_path / "run")]) == 1
    assert "dataset folder not found" in capsys.readouterr().err
    assert cli.main(["train", str(tmp_path), "-o", str(tmp_path / "run"), "--model", "nope"]) == 1
    assert "unknown preset" in capsys.readouterr().err


def test_train_init_errors_are_one_line(tmp_path, small_model_file, capsys):
    data = tmp_path / "data"
    data.mkdir()
    run = str(tmp_path / "run")
    assert cli.main(["train", str(data), "-o", run, "--init", "no_such_model"]) == 1
    assert "--init: unknown model 'no_such_model'" in capsys.readouterr().err
    not_a_model = tmp_path / "model.keras"
    not_a_model.write_bytes(b"not a zip")
    assert cli.main(["train", str(data), "-o", run, "--init", str(not_a_model)]) == 1
    assert "unreadable model file" in capsys.readouterr().err
    # The small model is not the preset asked for: refused before any data is read.
    assert cli.main(["train", str(data), "-o", run, "--init", small_model_file, "--model", "shn_mobile"]) == 1
    assert "that model is a small, not the shn_mobile to train" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
