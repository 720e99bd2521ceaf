"""What every ``keras-sa`` command shares: the one-line error, argument types, quiet frameworks.

Nothing here imports TensorFlow, Keras or librosa at module level: the
commands import what they need, so that ``--help`` and the TFLite path
start at once.
"""

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading


class CommandError(Exception):
    """An error to report on one line, with a non-zero exit."""


class Interrupted(BaseException):
    """SIGTERM, raised in the main thread as SIGINT raises KeyboardInterrupt.

    A BaseException, so that no ``except Exception`` swallows it: it
    unwinds the command, and every ``with`` block on the way (the output
    writers) removes what it had not finished.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def interruptible():
    """SIGINT and SIGTERM end the command with one line and exit code 128 + the signal.

    Inside the block SIGTERM raises :class:`Interrupted` (SIGINT raises
    KeyboardInterrupt, as always), so the outputs being written are
    removed on the way out instead of being left half-written. At the end
    of the block either becomes ``keras-sa: interrupted by SIGINT`` (or
    SIGTERM) on stderr and ``SystemExit(130)`` (or 143). SIGPIPE stays
    ignored, as Python sets it: a closed pipe raises BrokenPipeError where
    it is written to, which each command handles.
    """
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupted) if in_main else None
    try:
        yield
    except (KeyboardInterrupt, Interrupted) as error:
        signum = getattr(error, "signum", signal.SIGINT)
        try:
            print(f"keras-sa: interrupted by {signal.Signals(signum).name}", file=sys.stderr, flush=True)
        except (OSError, ValueError):  # stderr closed as well
            pass
        raise SystemExit(128 + signum) from None
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


class Terminal:
    """Progress output on a copy of stderr's descriptor that survives a closed pipe.

    The copy is not held when :func:`keras_sa.native_logs.filtered_stderr`
    holds descriptor 2 (around the MP3 decoder), so the bars keep moving.
    When the reader of stderr goes away (``keras-sa separate ... 2>&1 |
    head``), writes go to ``/dev/null`` from then on instead of stopping
    the work: the outputs are still written, and the exit code says how it
    went.
    """

    def __init__(self):
        from keras_sa.native_logs import terminal_stream

        self._stream = terminal_stream()
        self._own = self._stream is not sys.stderr
        self.closed_pipe = False

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def isatty(self):
        return not self.closed_pipe and self._stream.isatty()

    def fileno(self):
        return self._stream.fileno()

    @property
    def encoding(self):
        return getattr(self._stream, "encoding", "utf-8")

    def _to_devnull(self):
        self.closed_pipe = True
        if self._own:
            with contextlib.suppress(OSError):
                self._stream.close()
        self._stream = open(os.devnull, "w")
        self._own = True
        # The command's last line goes to descriptor 2: let it fail quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def close(self):
        if self._own:
            with contextlib.suppress(OSError):
                self._stream.close()


def positive_int(text):
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def non_negative_int(text):
    """An argparse type: an integer of at least 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return value


def singer_list(text):
    """An argparse type: comma-separated MIR-1K singer names, as a tuple."""
    names = tuple(name.strip() for name in text.split(","))
    if not all(names) or not all(name.isidentifier() for name in names):
        raise argparse.ArgumentTypeError(f"expected singer names like abjones,amy, got {text!r}")
    return names


def quiet_tensorflow(import_now=True):
    """Import TensorFlow now, its C++ start-up notices kept off the terminal.

    Its lines from before absl logging starts ignore ``TF_CPP_MIN_LOG_LEVEL``
    (see :mod:`keras_sa.native_logs`); importing it here, early, makes the
    commands that need TensorFlow as quiet as the TFLite path. With another
    Keras backend (``KERAS_BACKEND=jax``) TensorFlow is not imported.

    Args:
        import_now: ``False`` only sets ``TF_CPP_MIN_LOG_LEVEL``, for a
            command that may not need TensorFlow at all.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if import_now and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        from keras_sa.native_logs import import_tensorflow

        import_tensorflow()


def set_threads(threads):
    """Limit TensorFlow to ``threads`` CPU threads (0 or None: its default)."""
    if threads:
        quiet_tensorflow()
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already running in this process (main() called twice)
            logging.getLogger(__name__).warning("--threads ignored: TensorFlow is already initialized")


def load_separator(name_or_path, backend=None, threads=None):
    """A :class:`keras_sa.separation.Separator`, its errors as :class:`CommandError`.

    Args:
        name_or_path: a bundled name or a model file (see
            :func:`keras_sa.pretrained.locate`).
        backend: ``"keras"``, ``"tflite"`` or ``None`` (a bundled name's
            fastest verified model; a file's suffix).
        threads: TensorFlow's CPU threads, or the LiteRT interpreters (0 or
            ``None``: the default).
    """
    from keras_sa import pretrained
    from keras_sa.models import ModelFileError
    from keras_sa.predictors import TFLiteModelError

    try:
        path, backend = pretrained.locate(name_or_path, backend)
    except pretrained.UnknownModelError as error:
        raise CommandError(str(error)) from None
    if backend == "keras":
        quiet_tensorflow()
        set_threads(threads)
    from keras_sa.separation import Separator

    try:
        return Separator.from_file(path, backend=backend, threads=threads or None)
    except (ModelFileError, TFLiteModelError) as error:
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
