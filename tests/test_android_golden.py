"""The Android demo's golden vectors still describe the Python package's signal chain.

The Java signal chain (``android_demo/separator-core``) is tested on the JVM against vectors the
Python package recorded (``android_demo/tools/make_golden.py``). These tests recompute the
model-independent stages from the recorded input with the package as it is now, so a change to
the Python convention (STFT, features, windows, masks, inverse) that the Java side would have to
follow fails here, not silently on phones. The recorded model outputs are checked against the
committed int8 model when it is the one they were recorded from. ``KERAS_SA_GOLDEN`` names
another folder of vectors (as for the Java and web tests), e.g. written for another model.
"""

import gzip
import hashlib
import json
import os
import types
from pathlib import Path

import numpy as np
import pytest

from keras_sa.audio.io import load_audio
from keras_sa.audio.signal import stft
from keras_sa.models import ModelConfig
from keras_sa.predictors import _dequantize, _quantize
from keras_sa.separation import Separator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GOLDEN = REPO / "android_demo" / "separator-core" / "src" / "test" / "resources" / "golden"
GOLDEN = Path(os.environ.get("KERAS_SA_GOLDEN") or DEFAULT_GOLDEN)
MODEL = REPO / "tflite" / "models" / "sa_shn_mobile_int8_float_attention.tflite"

pytestmark = pytest.mark.skipif(not (GOLDEN / "manifest.json").is_file(), reason=f"no golden vectors at {GOLDEN}")


@pytest.fixture(scope="module")
def manifest():
    return json.loads((GOLDEN / "manifest.json").read_text())


@pytest.fixture(scope="module")
def contract(manifest):
    return json.loads((GOLDEN / manifest["model"]["contract"]).read_text())


def array(entry):
    dtype = {"float32": "<f4", "int8": "i1"}[entry["dtype"]]
    with gzip.open(GOLDEN / entry["file"]) as data:
        return np.frombuffer(data.read(), dtype=dtype).reshape(entry["shape"])


class Recorded:
    """A predictor that returns the model's recorded outputs, dequantized as the contract says."""

    def __init__(self, contract, raw):
        self.config = ModelConfig.from_dict(contract["model"])
        output = contract["output"]
        self.detail = {"dtype": np.int8, "quantization": (output["scale"], output["zero_point"])}
        self.raw = raw

    def __call__(self, features):
        assert len(features) == len(self.raw)
        return _dequantize(self.raw, self.detail)


def test_stft_features_and_int8_inputs_follow_the_python_chain(manifest, contract):
    case = manifest["mono"]
    arrays = case["arrays"]
    samples, rate = load_audio(GOLDEN / case["input"]["file"])
    config = ModelConfig.from_dict(contract["model"])
    assert rate == config.signal.sample_rate
    separator = Separator(types.SimpleNamespace(config=config))
    spectrum = stft(samples[0], config.signal)
    magnitude = np.abs(spectrum)
    expected = array(arrays["stft_magnitude"])
    np.testing.assert_allclose(magnitude, expected, rtol=0, atol=1e-6 * expected.max())
    features = separator.windows(magnitude[:, : config.signal.n_bins])
    np.testing.assert_allclose(features[0], array(arrays["features_window0"]), rtol=0, atol=1e-6)
    input_detail = {"dtype": np.int8, "quantization": (contract["input"]["scale"], contract["input"]["zero_point"])}
    quantized = _quantize(features, input_detail).astype(np.int16)
    recorded = array(arrays["features_q"]).astype(np.int16)
    assert np.abs(quantized - recorded).max() <= 1
    assert np.count_nonzero(quantized != recorded) <= recorded.size // 1000


def test_recorded_masks_give_the_recorded_share_and_stems(manifest, contract):
    case = manifest["mono"]
    arrays = case["arrays"]
    samples, rate = load_audio(GOLDEN / case["input"]["file"])
    separator = Separator(Recorded(contract, array(arrays["masks_q"])))
    spectrum = stft(samples[0], separator.signal)
    masks = separator.masks(np.abs(spectrum[:, : separator.signal.n_bins]))
    np.testing.assert_array_equal(masks, array(arrays["masks"]))
    np.testing.assert_allclose(separator.vocal_share(spectrum), array(arrays["vocal_share"]), rtol=0, atol=1e-6)
    stems = separator.separate(samples[0], rate)
    np.testing.assert_allclose(stems["vocals"], array(arrays["vocals"]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(stems["accompaniment"], array(arrays["accompaniment"]), rtol=0, atol=1e-6)


def test_recorded_outputs_are_the_committed_models(manifest, contract):
    if not MODEL.is_file():
        pytest.skip(f"{MODEL} not found")
    if hashlib.sha256(MODEL.read_bytes()).hexdigest() != manifest["model"]["sha256"]:
        pytest.skip("the golden vectors were recorded from another model file; rerun android_demo/tools/make_golden.py")
    from ai_edge_litert.interpreter import Interpreter

    from keras_sa.predictors import read_contract

    committed = read_contract(MODEL)
    assert committed["input"] == contract["input"] and committed["output"] == contract["output"]
    interpreter = Interpreter(model_path=str(MODEL), num_threads=1)
    interpreter.allocate_tensors()
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()
    arrays = manifest["mono"]["arrays"]
    for window, expected in zip(array(arrays["features_q"]), array(arrays["masks_q"])):
        interpreter.set_tensor(input_detail["index"], window[np.newaxis, ..., np.newaxis])
        interpreter.invoke()
        np.testing.assert_array_equal(interpreter.get_tensor(output_detail["index"])[0], expected)
