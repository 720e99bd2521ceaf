import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from keras_sa import cli, models
from keras_sa.audio import load_audio


@pytest.fixture(scope="module")
def song(shared_data):
    return shared_data / "songs" / "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"


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


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_separate_writes_stems_that_sum_to_the_input(tmp_path, song, small_model_file, fmt):
    out = tmp_path / "out"
    assert cli.main(
        ["separate", str(song), "-o", str(out), "--model", small_model_file, "--format", fmt, "-q"]
    ) == 0
    mixture, rate = load_audio(song)
    stems = {}
    for name in ("vocals", "accompaniment"):
        path = out / song.stem / f"{name}.{fmt}"
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames) == (rate, 2, mixture.shape[1])
        stems[name], _ = load_audio(path)
    tolerance = 1e-6 if fmt == "wav" else 2e-5  # float wav vs 24-bit flac
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], mixture, atol=tolerance)
    assert not [p for p in (out / song.stem).iterdir() if p.name.startswith(".")]


def test_separate_refuses_to_overwrite(tmp_path, song, small_model_file, capsys):
    out = tmp_path / "out"
    target = out / song.stem / "vocals.wav"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"precious")
    assert cli.main(["separate", str(song), "-o", str(out), "--model", small_model_file, "-q"]) == 1
    assert target.read_bytes() == b"precious"
    assert "exists (use --overwrite)" in capsys.readouterr().err
    assert cli.main(
        ["separate", str(song), "-o", str(out), "--model", small_model_file, "-q", "--overwrite"]
    ) == 0
    assert sf.info(target).frames > 0


def test_batch_continues_past_bad_inputs(tmp_path, song, small_model_file, capsys):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(os.urandom(2000))
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    missing = tmp_path / "missing.mp3"
    out = tmp_path / "out"
    code = cli.main(
        ["separate", str(corrupt), str(empty), str(text), str(missing), str(song),
         "-o", str(out), "--model", small_model_file, "-q"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    for bad in (corrupt, empty, text, missing):
        assert any(bad.name in line for line in err), err
    assert "4 of 5 input(s) failed" in err[-1]
    assert (out / song.stem / "vocals.wav").exists()
    assert not (out / "corrupt").exists()


def test_command_errors_are_one_line_without_traceback(tmp_path, song, small_model_file):
    result = run_cli("separate", str(song), "-o", str(tmp_path), "--model", "no_such_model")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("keras-sa: error: unknown model")
    assert "Traceback" not in result.stderr

    blocked = tmp_path / "file"
    blocked.write_text("x")
    code = cli.main(["separate", str(song), "-o", str(blocked / "sub"), "--model", small_model_file])
    assert code == 1

    # A .keras file is not a .tflite model: one line, exit 1.
    result = run_cli("separate", str(song), "-o", str(tmp_path), "--backend", "tflite", "--model", small_model_file)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("keras-sa: error: ")


def test_separate_folder_input_and_short_silent_files(tmp_path, small_model_file):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "silence.wav", np.zeros((8000, 1), np.float32), 8000)
    sf.write(folder / "blip.flac", np.full((10, 2), 0.1, np.float32), 44100)
    out = tmp_path / "out"
    assert cli.main(["separate", str(folder), "-o", str(out), "--model", small_model_file, "-q"]) == 0
    vocals, rate = load_audio(out / "silence" / "vocals.wav")
    assert rate == 8000 and vocals.shape == (1, 8000) and not vocals.any()
    assert load_audio(out / "blip" / "accompaniment.wav")[0].shape == (2, 10)


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
