"""Shared test fixtures."""

import os
from pathlib import Path

import pytest

# Quiet TensorFlow's C++ logging. TensorFlow reads this when first imported,
# and pytest loads this file before it imports any test module.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The project reads real audio from ../shared/data beside the checkout; it is
# never copied into the repository (see its README.md).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """The shared data folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mir1k_root(shared_data):
    """The MIR-1K stems (``<clip>/vocals.opus``, ``accompaniment.opus``)."""
    root = shared_data / "mir1k"
    if not root.is_dir():
        pytest.skip(f"MIR-1K stems not found at {root}")
    return root


@pytest.fixture(scope="session")
def small_model_file(tmp_path_factory):
    """``configs.SMALL_ONE_STACK``, untrained (seed 0), saved as a ``.keras`` model file (a str path)."""
    # Imported here, not above: test files that need no TensorFlow collect without loading it.
    import keras

    from keras_sa import models

    from configs import SMALL_ONE_STACK

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "small.keras"
    models.save_model(models.build(SMALL_ONE_STACK), SMALL_ONE_STACK, path)
    return str(path)
