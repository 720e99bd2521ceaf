"""keras-sa separate: outputs, errors, the default model, start-up imports and a quiet stderr, on real audio."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from keras_sa import cli, pretrained
from keras_sa.audio import load_audio


@pytest.fixture(scope="module")
def song(shared_data):
    return shared_data / "songs" / "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "keras_sa.cli", *args], capture_output=True, text=True, timeout=300, env=env
    )


def user_environment():
    """This environment without the test suite's TF_CPP_MIN_LOG_LEVEL: what a user's shell has."""
    return {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}


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




# ----------------------------------------------------------------------
# the default model


def test_default_is_the_fastest_bundled_model_that_passed_the_gate():
    path, backend = pretrained.locate()
    assert (path.name, backend) == (f"{pretrained.DEFAULT}_dynamic.tflite", "tflite")
    assert pretrained.locate(backend="keras") == (pretrained.resolve(), "keras")
    name = f"{pretrained.DEFAULT}_int8_float_attention"
    assert pretrained.locate(name)[0].name == f"{name}.tflite"
    # The quality promise of the default: within 0.05 dB of the float model on the gate's clips.
    figures = json.loads(path.with_suffix(".json").read_text())["verification"]
    assert figures["clips"] >= 25
    assert abs(figures["vocals_gnsdr_delta"]) <= 0.05 and abs(figures["accompaniment_gnsdr_delta"]) <= 0.05


def test_a_model_without_a_passing_gate_record_is_never_the_default(tmp_path):
    source = pretrained.tflite_file(pretrained.DEFAULT, "dynamic")
    contract = json.loads(source.with_suffix(".json").read_text())
    cases = {
        "passing": contract["verification"],
        "off_by_half_a_db": dict(contract["verification"], vocals_gnsdr_delta=-0.5),
        "noisy_masks": dict(contract["verification"], mask_snr_db=3.0),
        "unverified": None,
    }
    for name, figures in cases.items():
        model = tmp_path / f"{name}.tflite"
        shutil.copyfile(source, model)
        written = {k: v for k, v in contract.items() if k != "verification"}
        if figures is not None:
            written["verification"] = figures
        model.with_suffix(".json").write_text(json.dumps(written))
        assert pretrained.passed_gate(model) == (name == "passing"), name
    assert not pretrained.passed_gate(tmp_path / "missing.tflite")


def test_default_path_imports_neither_tensorflow_keras_nor_librosa(tmp_path, song):
    code = (
        "import sys; from keras_sa import cli; "
        f"code = cli.main(['separate', {str(song)!r}, '-o', {str(tmp_path / 'out')!r}, '-q']); "
        "loaded = [m for m in ('tensorflow', 'keras', 'librosa', 'numba') if m in sys.modules]; "
        "assert code == 0 and not loaded, (code, loaded)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sf.info(tmp_path / "out" / song.stem / "accompaniment.wav").frames == sf.info(song).frames


# A tqdm bar: "<name>: NN%|<bar>| a/b s of audio [mm:ss<mm:ss(, Nx real time)]", redrawn after "\r".
BAR = re.compile(r"^(\S.*): +\d+%\|[^|]*\| \d+/\d+ s of audio \[[\d:]+<[\d:?]+(, \d+x real time)?\]$")


def stderr_lines(text):
    """stderr's pieces between carriage returns and newlines, cursor moves removed, blanks dropped."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    return [piece.strip() for piece in re.split(r"[\r\n]", text) if piece.strip()]


@pytest.mark.parametrize("backend", [[], ["--backend", "keras"], ["--model", "sa_shn_mobile_int8_float_attention"]],
                         ids=["default", "keras", "int8_float_attention"])
def test_success_leaves_only_progress_and_the_file_line_on_stderr(tmp_path, song, backend):
    out = tmp_path / "out"
    result = run_cli("separate", str(song), "-o", str(out), *backend, env=user_environment())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = stderr_lines(result.stderr)
    done = f"{song} -> {out / song.stem}/ (10.9 s)"
    assert lines.count(done) == 1, lines
    others = [line for line in lines if line != done]
    assert others and all(BAR.match(line) for line in others), others
    assert any(line.startswith(f"{song.name}: 100%|") for line in others), others


def test_batch_progress_counts_the_whole_batch(tmp_path, song):
    folder = tmp_path / "in"
    folder.mkdir()
    short, rate = load_audio(song)
    sf.write(folder / "a.flac", short[:, : 2 * rate].T, rate)
    sf.write(folder / "b.wav", short[:, : 3 * rate].T, rate)
    out = tmp_path / "out"
    result = run_cli("separate", str(folder), "-o", str(out), env=user_environment())
    assert result.returncode == 0, result.stderr
    lines = stderr_lines(result.stderr)
    assert [line for line in lines if "->" in line] == [
        f"{folder / 'a.flac'} -> {out / 'a'}/ (2.0 s)", f"{folder / 'b.wav'} -> {out / 'b'}/ (3.0 s)"
    ]
    assert all(BAR.match(line) for line in lines if "->" not in line)
    assert any(line.startswith("2 files: 100%|") and "5/5 s of audio" in line for line in lines), lines


def test_keras_predictor_is_traced_once(small_model_file):
    from keras_sa.separation import Separator

    separator = Separator.from_file(small_model_file, backend="keras")
    predict = separator.predictor.model.predict_function
    rng = np.random.default_rng(0)
    for seconds in (1, 7, 3):  # window counts that are and are not multiples of the batch
        separator.separate(rng.standard_normal((2, seconds * 44100)).astype(np.float32) * 0.1, 44100)
    assert predict.experimental_get_tracing_count() == 1
