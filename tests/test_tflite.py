"""TFLite conversion, the verification gate, and the tflite backend, on a small model and real audio."""

import hashlib
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_sa import cli, data
from keras_sa.export import tflite, verify
from keras_sa.models import load_model, save_model
from keras_sa.audio.signal import stft
from keras_sa.predictors import KerasPredictor, TFLiteModelError, TFLitePredictor, read_contract
from keras_sa.separation import Separator


@pytest.fixture(scope="module")
def small(small_model_file):
    return load_model(small_model_file)


@pytest.fixture(scope="module")
def splits(mir1k_root):
    return data.train_test_split(mir1k_root)


@pytest.fixture(scope="module")
def calibration(small, splits):
    _, config = small
    sources = data.load_sources(splits[0][::25], config.signal.sample_rate)
    return tflite.calibration_windows(sources, config.signal, count=16)


@pytest.fixture(scope="module")
def converted(small, calibration, tmp_path_factory):
    """The small model in all four quantizations, unverified: ``{quantization: (path, report)}``."""
    model, config = small
    folder = tmp_path_factory.mktemp("tflite")
    result = {}
    for quantization in tflite.QUANTIZATIONS:
        path = folder / f"small_{quantization}.tflite"
        result[quantization] = (path, tflite.export(model, config, quantization, path, calibration))
    return result


@pytest.fixture(scope="module")
def reference(small, splits):
    model, config = small
    clips = verify.verification_clips(splits[1], config.signal.sample_rate, every=400)
    return verify.Reference(Separator(KerasPredictor(model, config)), clips)


@pytest.mark.parametrize("quantization", tflite.QUANTIZATIONS)
def test_conversion_uses_builtin_ops_and_a_fixed_input(converted, small, quantization):
    _, config = small
    path, report = converted[quantization]
    assert report["passed"] and path.is_file() and path.with_suffix(".json").is_file()
    names = {op["op"] for op in report["operators"]}
    assert "CONV_2D" in names and "SOFTMAX" in names and "BATCH_MATMUL" in names
    # A fixed signature: no dynamic-shape operators, no TF (Flex) ops.
    assert not names & {"SHAPE", "GATHER", "PACK", "DELEGATE"}
    assert not any(name.startswith("FLEX") or name == "CUSTOM" for name in names)
    predictor = TFLitePredictor(path)
    assert list(predictor._input["shape"]) == [1, config.signal.patch_frames, config.signal.n_bins, 1]


def test_int8_is_integer_throughout(converted):
    _, report = converted["int8"]
    assert report["float_islands"] == []
    dtypes = {d for op in report["operators"] for d in op["inputs"] + op["outputs"]}
    assert dtypes <= {"int8", "int32"}, dtypes
    contract = json.loads(converted["int8"][0].with_suffix(".json").read_text())
    assert contract["input"]["dtype"] == contract["output"]["dtype"] == "int8"
    assert contract["input"]["scale"] > 0 and -128 <= contract["input"]["zero_point"] <= 127


def test_int8_float_attention_keeps_only_the_attention_operators_in_float(converted):
    path, report = converted["int8_float_attention"]
    assert report["passed"], report["failures"]
    floats = {op["op"] for op in tflite.float_islands(report["operators"])}
    assert floats == set(tflite.FLOAT_OPERATORS) | {"QUANTIZE", "DEQUANTIZE"}, floats
    for op in report["operators"]:
        if op["op"] in tflite.FLOAT_OPERATORS:
            assert set(op["inputs"] + op["outputs"]) == {"float32"}, op
        elif op["op"] in ("CONV_2D", "FULLY_CONNECTED"):
            assert "float32" not in op["inputs"] + op["outputs"], op
    contract = json.loads(path.with_suffix(".json").read_text())
    assert contract["quantization"] == "int8_float_attention"
    assert contract["input"]["dtype"] == contract["output"]["dtype"] == "int8"


def test_xnnpack_runs_the_float_attention(converted):
    for quantization in ("int8_float_attention", "dynamic"):
        attention = [op for op in converted[quantization][1]["operators"] if op["op"] in tflite.FLOAT_OPERATORS]
        assert attention and all(op["kernel"] == "xnnpack" for op in attention), quantization


@pytest.mark.parametrize("quantization", ("float32", "float16", "dynamic"))
def test_xnnpack_runs_every_operator_of_the_float_models(converted, quantization):
    # The up-sampling is concatenation and DEPTH_TO_SPACE, not TILE (which XNNPACK lacks).
    listed = converted[quantization][1]["operators"]
    names = {op["op"] for op in listed}
    assert "DEPTH_TO_SPACE" in names and "TILE" not in names
    assert all(op["kernel"] == "xnnpack" for op in listed if op["op"] != "DEQUANTIZE"), quantization


def test_inference_model_upsamples_as_keras_does(small):
    model, config = small
    converted = tflite.inference_model(model)
    features = np.random.default_rng(5).random((2, config.signal.patch_frames, config.signal.n_bins, 1))
    final = keras.Model(model.inputs[0], model.outputs[-1])
    np.testing.assert_array_equal(np.asarray(converted(features)), np.asarray(final(features)))
    assert not any(isinstance(layer, keras.layers.UpSampling2D) for layer in converted.layers)
    assert any(isinstance(layer, keras.layers.UpSampling2D) for layer in model.layers)  # left as it was


def test_int8_attention_runs_in_builtin_kernels_and_the_float_attention_in_xnnpack(splits, tmp_path):
    from pathlib import Path

    from ai_edge_litert.interpreter import Interpreter

    from keras_sa import pretrained

    # The bundled model's full-integer conversion is not committed (it missed the gate's mask
    # SNR floor), so it is converted here, unverified, from a few windows of training clips.
    model, config = load_model(pretrained.resolve("default"))
    sources = data.load_sources(splits[0][::25], config.signal.sample_rate)
    windows = tflite.calibration_windows(sources, config.signal, count=16)
    tflite.export(model, config, "int8", tmp_path / "sa_shn_mobile_int8.tflite", windows)
    folders = {"int8": tmp_path, "int8_float_attention": Path(__file__).resolve().parents[1] / "tflite" / "models"}

    def kernels(quantization):
        flatbuffer = (folders[quantization] / f"sa_shn_mobile_{quantization}.tflite").read_bytes()
        xnnpack = tflite.xnnpack_operators(flatbuffer)
        listed = tflite.operators(flatbuffer)
        attention = {op["op"]: set() for op in listed if op["op"] in ("BATCH_MATMUL", "SOFTMAX")}
        for op in listed:
            if op["op"] in attention:
                attention[op["op"]].add("xnnpack" if op["index"] in xnnpack else "builtin")
        convolutions = {"xnnpack" if op["index"] in xnnpack else "builtin" for op in listed if op["op"] == "CONV_2D"}
        return flatbuffer, xnnpack, attention, convolutions

    # The reason for int8_float_attention: XNNPACK has no int8 SOFTMAX, and takes an int8
    # BATCH_MATMUL only when its right-hand operand is symmetric (zero point 0), which the
    # calibration gives an activation by chance only.
    flatbuffer, xnnpack, attention, convolutions = kernels("int8")
    assert attention["SOFTMAX"] == {"builtin"}
    interpreter = Interpreter(model_content=flatbuffer)
    zero_point = {t["index"]: t["quantization"][1] for t in interpreter.get_tensor_details()}
    products = [op for op in interpreter._get_ops_details() if op["op_name"] == "BATCH_MATMUL"]
    for op in products:
        assert (op["index"] in xnnpack) == (zero_point[op["inputs"][1]] == 0), op
    builtin = sum(op["index"] not in xnnpack for op in products)
    assert builtin >= len(products) / 2, "XNNPACK now takes the int8 attention: int8_float_attention may be moot"
    assert convolutions == {"xnnpack"}
    _, _, attention, convolutions = kernels("int8_float_attention")
    assert attention == {"BATCH_MATMUL": {"xnnpack"}, "SOFTMAX": {"xnnpack"}} and convolutions == {"xnnpack"}


def test_unexpected_float_operators():
    listed = [{"op": "SOFTMAX", "inputs": ["float32"], "outputs": ["float32"]},
              {"op": "DEQUANTIZE", "inputs": ["int8"], "outputs": ["float32"]},
              {"op": "CONV_2D", "inputs": ["float32", "int8", "int32"], "outputs": ["int8"]}]
    assert tflite.unexpected_float_operators("int8_float_attention", listed) == ["CONV_2D"]
    assert tflite.unexpected_float_operators("int8", listed) == ["SOFTMAX", "DEQUANTIZE", "CONV_2D"]
    assert tflite.unexpected_float_operators("dynamic", listed) == []


def test_float_islands_are_found():
    listed = [{"op": "CONV_2D", "inputs": ["int8", "int8", "int32"], "outputs": ["int8"]},
              {"op": "DEQUANTIZE", "inputs": ["int8"], "outputs": ["float32"]}]
    assert [op["op"] for op in tflite.float_islands(listed)] == ["DEQUANTIZE"]


def test_sizes_shrink_with_quantization(converted):
    size = {q: converted[q][1]["size_bytes"] for q in tflite.QUANTIZATIONS}
    # (dynamic-range quantization leaves tensors under 1024 values in float:
    # all of this small model's; the default model's sizes are in tflite/models/REPORT.md.)
    assert size["float16"] < size["float32"] and size["int8"] < size["float32"]


def test_contract_carries_the_audio_contract(converted, small):
    _, config = small
    contract = read_contract(converted["float16"][0])
    assert contract["format"] == "keras_sa.tflite" and contract["quantization"] == "float16"
    assert contract["model_sha256"] == hashlib.sha256(converted["float16"][0].read_bytes()).hexdigest()
    assert contract["signal"] == config.signal.to_dict()
    assert contract["model"] == config.to_dict()
    assert contract["masks"]["sources"] == ["vocals", "accompaniment"]
    assert "log1p(1000" in contract["features"]["normalization"]


def test_tflite_masks_match_the_keras_model(converted, small, mir1k_root):
    model, config = small
    keras_separator = Separator(KerasPredictor(model, config))
    track = data.discover(mir1k_root)[0]
    mixture = data.Sources(track.name, **track.load(16000)).mixture
    features = keras_separator.windows(np.abs(stft(mixture, config.signal)[:, : config.signal.n_bins]))
    expected = keras_separator.predictor(features)
    for quantization, max_error, min_snr in (("float32", 1e-5, 80), ("float16", 2e-3, 50), ("int8", 0.25, 20)):
        got = TFLitePredictor(converted[quantization][0])(features)
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) < max_error, quantization
        snr = 10 * np.log10(np.sum(expected**2) / np.sum((got - expected) ** 2))
        assert snr > min_snr, (quantization, snr)


def test_verification_passes_faithful_conversions(converted, reference):
    for quantization in ("float32", "float16", "int8"):
        report = verify.verify(Separator(TFLitePredictor(converted[quantization][0])), reference)
        assert report["passed"], report["failures"]
        assert report["clips"] == len(reference.clips) >= 2
        assert abs(report["vocals_gnsdr_delta"]) <= verify.GNSDR_TOLERANCE_DB[quantization]


def _broken_copy(model, config, path):
    """The same model with its output layer's kernel scaled by -3: plausible-looking, wrong masks."""
    from keras_sa import models

    broken = models.build(config)
    broken.set_weights(model.get_weights())
    kernel = broken.layers[-1].weights[0]
    kernel.assign(-3.0 * kernel)
    return broken


def test_verification_fails_a_broken_model(small, reference, mir1k_root, tmp_path, capsys):
    model, config = small
    broken = _broken_copy(model, config, tmp_path)
    path = tmp_path / "broken.tflite"
    assert tflite.export(broken, config, "float32", path)["passed"]  # unverified: written
    report = verify.verify(Separator(TFLitePredictor(path)), reference)
    assert not report["passed"]
    assert any("mask SNR" in failure for failure in report["failures"])

    # The command-line gate: exit 1, the failing model named on one line.
    float_model = tmp_path / "reference.keras"
    save_model(model, config, float_model)
    code = cli.main(["verify-tflite", str(path), "--model", str(float_model),
                     "--data", str(mir1k_root), "--every", "400"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert "failed verification" in err[-1] and "broken.tflite" in err[-1]


def test_export_writes_nothing_when_verification_fails(small, reference, tmp_path, monkeypatch):
    model, config = small
    broken = _broken_copy(model, config, tmp_path)
    path = tmp_path / "broken.tflite"
    report = tflite.export(broken, config, "float32", path, reference=reference)
    assert not report["passed"] and report["verified"]
    assert not path.exists() and not path.with_suffix(".json").exists()


def test_export_command_verifies_and_refuses_to_overwrite(small_model_file, mir1k_root, tmp_path, capsys):
    out = tmp_path / "small_int8.tflite"
    args = ["export", "tflite", "--model", small_model_file, "--quantization", "int8", "-o", str(out),
            "--data", str(mir1k_root), "--every", "400", "--calibration-every", "25",
            "--calibration-windows", "8", "--report", str(tmp_path / "report.json")]
    assert cli.main(args) == 0
    contract = read_contract(out)
    assert contract["verification"]["clips"] >= 2
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] and report["float_islands"] == []
    assert cli.main(args) == 1
    assert "exists (use --overwrite)" in capsys.readouterr().err
    # int8 without data to calibrate on: one line, nothing written.
    missing = tmp_path / "other.tflite"
    assert cli.main(["export", "tflite", "--model", small_model_file, "--quantization", "int8",
                     "-o", str(missing)]) == 1
    assert "--data is needed" in capsys.readouterr().err and not missing.exists()


@pytest.mark.parametrize("quantization", ["int8", "int8_float_attention"])
def test_export_command_prints_only_its_result(small_model_file, mir1k_root, tmp_path, quantization):
    """The converter's quantizer settings and LiteRT's delegate notice stay off the terminal."""
    out = tmp_path / f"small_{quantization}.tflite"
    result = subprocess.run(
        [sys.executable, "-m", "keras_sa.cli", "export", "tflite", "--model", small_model_file,
         "--quantization", quantization, "-o", str(out), "--data", str(mir1k_root),
         "--calibration-every", "25", "--calibration-windows", "8", "--no-verify"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"{out} (") and result.stdout.count("\n") == 1
    assert result.stdout.endswith(f" MB, {quantization}) and {out.with_suffix('.json')}\n")


def test_unusable_tflite_files_give_one_line(converted, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"not a flatbuffer" * 10)
    contract = json.loads(converted["float32"][0].with_suffix(".json").read_text())
    corrupt.with_suffix(".json").write_text(json.dumps(contract))
    with pytest.raises(TFLiteModelError, match=r"corrupt.tflite: the model file does not match its contract \(SHA-256"):
        TFLitePredictor(corrupt)
    del contract["model_sha256"]  # as written before the digest existed: the interpreter refuses it
    corrupt.with_suffix(".json").write_text(json.dumps(contract))
    with pytest.raises(TFLiteModelError, match="not a loadable TFLite model"):
        TFLitePredictor(corrupt)
    contract["model_sha256"] = "ABC"
    corrupt.with_suffix(".json").write_text(json.dumps(contract))
    with pytest.raises(TFLiteModelError, match="model_sha256 must be 64 lowercase hexadecimal digits"):
        TFLitePredictor(corrupt)
    del contract["model_sha256"]
    corrupt.with_suffix(".json").write_text(json.dumps(contract))
    orphan = tmp_path / "orphan.tflite"
    orphan.write_bytes(converted["float32"][0].read_bytes())
    with pytest.raises(TFLiteModelError, match="audio contract not found"):
        TFLitePredictor(orphan)
    song = tmp_path / "tone.wav"
    import soundfile as sf

    sf.write(song, np.sin(np.arange(16000) / 5.0).astype(np.float32) * 0.1, 16000)
    for bad in (corrupt, orphan, tmp_path / "missing.tflite"):
        code = cli.main(["separate", str(song), "-o", str(tmp_path / "out"), "--backend", "tflite",
                         "--model", str(bad), "-q"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and "Traceback" not in err[0], err


def test_tflite_backend_of_separate_agrees_with_keras(converted, small_model_file, mir1k_root, tmp_path):
    from keras_sa.audio import load_audio

    track = data.discover(mir1k_root)[3]
    clip = tmp_path / f"{track.name}.wav"
    import soundfile as sf

    sf.write(clip, data.Sources(track.name, **track.load(16000)).mixture, 16000)
    outputs = {}
    for backend, model in (("keras", small_model_file), ("tflite", str(converted["float32"][0]))):
        out = tmp_path / backend
        assert cli.main(["separate", str(clip), "-o", str(out), "--backend", backend,
                         "--model", model, "--threads", "2", "-q"]) == 0
        outputs[backend], _ = load_audio(out / track.name / "vocals.wav")
    np.testing.assert_allclose(outputs["tflite"], outputs["keras"], atol=1e-4)


@pytest.mark.parametrize("quantization", ["int8_float_attention", "dynamic"])
def test_bundled_tflite_models_are_tflite_models_ones(quantization):
    from pathlib import Path

    from keras_sa import pretrained

    path = pretrained.HERE / f"{pretrained.DEFAULT}_{quantization}.tflite"
    committed = Path(__file__).resolve().parents[1] / "tflite" / "models" / path.name
    assert path.is_file(), f"{path.name} is not bundled"
    assert path.read_bytes() == committed.read_bytes(), f"the packaged {path.name} is not tflite/models' one"
    contract = path.with_suffix(".json")
    assert contract.read_bytes() == committed.with_suffix(".json").read_bytes()
    assert json.loads(contract.read_text())["quantization"] == quantization
    assert path.stat().st_size <= 3e6


def test_bundled_integer_model_passes_the_gate(splits):
    from keras_sa import pretrained

    path = pretrained.resolve_tflite(f"{pretrained.DEFAULT}_int8_float_attention")
    assert path.name == f"{pretrained.DEFAULT}_int8_float_attention.tflite"
    contract = read_contract(path)
    assert contract["input"]["dtype"] == contract["output"]["dtype"] == "int8"
    separator = Separator.from_pretrained(f"{pretrained.DEFAULT}_int8_float_attention", threads=2)
    model, config = load_model(pretrained.resolve("default"))
    assert separator.config == config
    clips = verify.verification_clips(splits[1], config.signal.sample_rate, every=300)
    report = verify.verify(separator, verify.Reference(Separator(KerasPredictor(model, config)), clips))
    assert report["passed"], report["failures"]


def test_parallel_interpreters_give_the_same_masks(converted):
    path = converted["int8"][0]
    features = np.random.default_rng(0).random((7, 16, 512), dtype=np.float32)
    one = TFLitePredictor(path, threads=1)(features)
    three = TFLitePredictor(path, threads=3)(features)
    np.testing.assert_array_equal(one, three)


def test_tflite_backend_needs_neither_tensorflow_nor_keras(tmp_path):
    import subprocess
    import sys

    import soundfile as sf

    song = tmp_path / "tone.wav"
    sf.write(song, 0.1 * np.sin(np.arange(3 * 22050) / 3.0).astype(np.float32), 22050)
    code = (
        "import sys; from keras_sa import cli; "
        f"code = cli.main(['separate', {str(song)!r}, '-o', {str(tmp_path / 'out')!r}, '--backend', 'tflite', '-q']); "
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "assert code == 0 and not loaded, (code, loaded)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "tone" / "vocals.wav").is_file()
