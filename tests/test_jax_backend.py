"""Training on the JAX backend with TensorFlow unavailable (a GPU host without TF).

A child process blocks ``import tensorflow``, sets ``KERAS_BACKEND=jax`` and
runs the real ``keras-sa train`` on a few MIR-1K training clips; the model
file it writes must load under the TensorFlow backend here and predict what
JAX predicted.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_sa import models

from configs import SMALL_ONE_STACK

CHILD = """
import sys
sys.modules["tensorflow"] = None  # any import of TensorFlow now fails
import numpy as np, keras
from keras_sa import cli, models
assert keras.backend.backend() == "jax"
code = cli.main(sys.argv[1:7] + ["--steps", "4", "--steps-per-epoch", "2", "--batch-size", "2"])
model, _ = models.load_model(sys.argv[4] + "/best.keras")
np.save(sys.argv[7], model.predict(np.load(sys.argv[8]), verbose=0)[-1])
assert "tensorflow" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}
sys.exit(code)
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_train_on_jax_without_tensorflow_then_load_in_tensorflow(tmp_path, mir1k_root):
    dataset = tmp_path / "data"
    dataset.mkdir()
    for clip in ("abjones_1_01", "abjones_2_01", "amy_1_01", "amy_2_01", "amy_3_01", "amy_4_01"):
        (dataset / clip).symlink_to(mir1k_root / clip)
    config = tmp_path / "small.json"
    config.write_text(SMALL_ONE_STACK.to_json())
    inputs = np.random.default_rng(0).random((1, 16, 512, 1)).astype("float32")
    np.save(tmp_path / "inputs.npy", inputs)
    out = tmp_path / "run"
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, "train", str(dataset), "-o", str(out), "--config", str(config),
         str(tmp_path / "jax.npy"), str(tmp_path / "inputs.npy")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "run.json").read_text())["backend"] == "jax"

    model, loaded_config = models.load_model(out / "best.keras")
    assert loaded_config == SMALL_ONE_STACK
    np.testing.assert_allclose(
        model.predict(inputs, verbose=0)[-1], np.load(tmp_path / "jax.npy"), atol=1e-5
    )
