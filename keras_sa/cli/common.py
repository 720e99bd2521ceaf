"""What every ``keras-sa`` command shares: the one-line error, argument types, quiet frameworks.

Nothing here imports TensorFlow, Keras or librosa at module level: the
commands import what they need, so that ``--help`` and the TFLite path
start at once.
"""

import argparse
import logging
import os


class CommandError(Exception):
    """An error to report on one line, with a non-zero exit."""


def positive_int(text):
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def quiet_tensorflow():
    """Silence TensorFlow's C++ log lines (cuFFT/cuDNN/cuBLAS registration, oneDNN notices).

    TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once, when it is first imported,
    so this must run before anything imports it. A value the user set is kept.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def set_threads(threads):
    """Limit TensorFlow to ``threads`` CPU threads (0 or None: its default)."""
    if threads:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already running in this process (main() called twice)
            logging.getLogger(__name__).warning("--threads ignored: TensorFlow is already initialized")


def load_separator(name_or_path, backend="keras", threads=None):
    """:meth:`keras_sa.separation.Separator.from_pretrained`, its errors as :class:`CommandError`."""
    from keras_sa import pretrained
    from keras_sa.models import ModelFileError
    from keras_sa.predictors import TFLiteModelError
    from keras_sa.separation import Separator

    try:
        return Separator.from_pretrained(name_or_path, backend=backend, threads=threads)
    except (pretrained.UnknownModelError, ModelFileError, TFLiteModelError) as error:
        raise CommandError(str(error)) from None


def load_float_model(name_or_path):
    """``(model, config)`` of a bundled name or ``.keras`` file, errors as :class:`CommandError`."""
    from keras_sa import pretrained
    from keras_sa.models import ModelFileError, load_model

    try:
        return load_model(pretrained.resolve(name_or_path))
    except (pretrained.UnknownModelError, ModelFileError) as error:
        raise CommandError(str(error)) from None


def dataset_splits(root):
    """``(train, test)`` tracks of a dataset folder, errors as :class:`CommandError`."""
    from keras_sa import data

    try:
        return data.train_test_split(root)
    except data.DatasetError as error:
        raise CommandError(str(error)) from None
