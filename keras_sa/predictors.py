"""Mask predictors: the Keras model and a LiteRT model behind one interface.

A predictor turns a batch of model inputs (``(windows, patch_frames,
n_bins)`` features from :func:`keras_sa.audio.signal.model_input`) into the
final stack's masks (``(windows, patch_frames, n_bins, n_sources)``,
float32). The :class:`keras_sa.separation.Separator` owns everything else
(windowing, ratio masks, STFT), so the Keras and TFLite backends share the
whole signal path and differ only here.
"""

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np


class KerasPredictor:
    """Masks from a Keras separation model (its last output).

    Args:
        model: a model built by :func:`keras_sa.models.build` (or loaded).
        config: its :class:`keras_sa.models.ModelConfig`.
        batch_size: windows per model call; every call gets a full batch
            (the last one zero-padded), so the graph is traced once, here,
            and the first separation costs what the next ones do.
    """

    backend = "keras"

    def __init__(self, model, config, batch_size=16):
        import keras

        self.model = keras.Model(model.inputs[0], model.outputs[-1])
        self.config = config
        self.batch_size = batch_size
        frames = self.model.inputs[0].shape[1]
        if frames is not None and frames != config.signal.patch_frames:
            raise ValueError(f"model input has {frames} frames, config says {config.signal.patch_frames}")
        self.model.predict_on_batch(np.zeros((batch_size, config.signal.patch_frames, config.signal.n_bins, 1), np.float32))

    def __call__(self, features):
        features = np.asarray(features, np.float32)[..., np.newaxis]
        signal = self.config.signal
        masks = np.empty((len(features), signal.patch_frames, signal.n_bins, len(signal.sources)), np.float32)
        for first in range(0, len(features), self.batch_size):
            batch = features[first : first + self.batch_size]
            size = len(batch)
            if size < self.batch_size:
                batch = np.pad(batch, ((0, self.batch_size - size),) + ((0, 0),) * 3)
            masks[first : first + size] = np.asarray(self.model.predict_on_batch(batch))[:size]
        return masks


def usable_cpus():
    """CPUs this process may run on (its affinity mask, e.g. under ``taskset``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


class TFLiteModelError(ValueError):
    """A TFLite model file, or its contract beside it, that cannot be used."""


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def contract_path(tflite_path):
    """Where the audio contract of a ``.tflite`` file lives: ``<stem>.json`` beside it."""
    return Path(tflite_path).with_suffix(".json")


def read_contract(tflite_path):
    """The contract (a dict) written beside a ``.tflite`` file by ``keras_sa.export.tflite``.

    Raises:
        TFLiteModelError: the contract is missing, unreadable, not JSON, its
            ``model`` is not a valid :class:`keras_sa.models.ModelConfig`, or
            its ``model_sha256`` (optional) is not a SHA-256 hex digest (one
            line naming the file).
    """
    path = contract_path(tflite_path)
    if not path.is_file():
        raise TFLiteModelError(f"{path}: audio contract not found (it is written beside the .tflite file)")
    try:
        contract = json.loads(path.read_text())
        if not isinstance(contract, dict) or contract.get("format") != "keras_sa.tflite":
            raise ValueError("not a keras_sa TFLite contract")
        from keras_sa.models.config import ModelConfig

        ModelConfig.from_dict(contract["model"])
        if "model_sha256" in contract and not (
            isinstance(contract["model_sha256"], str) and _SHA256_HEX.fullmatch(contract["model_sha256"])
        ):
            raise ValueError("model_sha256 must be 64 lowercase hexadecimal digits")
    except RecursionError:
        raise TFLiteModelError(f"{path}: unreadable audio contract (JSON nests too deeply)") from None
    except OSError as error:
        raise TFLiteModelError(f"{path}: cannot read the audio contract ({error.strerror or error})") from None
    except (ValueError, KeyError, TypeError) as error:
        raise TFLiteModelError(f"{path}: unreadable audio contract ({error!s:.200})") from None
    return contract


def check_model_bytes(tflite_path, contract, model):
    """Check a model file's bytes against the SHA-256 its contract records.

    A ``.tflite`` damaged inside its weights still parses and runs, giving
    wrong stems; the digest catches it before the interpreter sees the bytes.
    Contracts written before ``model_sha256`` existed are not checked.

    Args:
        tflite_path: the ``.tflite`` file (named in the error).
        contract: its contract, from :func:`read_contract`.
        model: the file's bytes.

    Raises:
        TFLiteModelError: the digests differ (one line naming the file).
    """
    expected = contract.get("model_sha256")
    if expected is not None and hashlib.sha256(model).hexdigest() != expected:
        raise TFLiteModelError(
            f"{tflite_path}: the model file does not match its contract (SHA-256 differs: corrupt or replaced)"
        )


class TFLitePredictor:
    """Masks from a ``.tflite`` model run by the LiteRT interpreter.

    The model takes one window at a time (a fixed ``(1, patch_frames,
    n_bins, 1)`` input); an int8 model's integer input and output are
    quantized and dequantized here with the scales the interpreter reports.

    ``threads`` interpreters of one thread each run the windows in parallel
    (LiteRT releases the GIL while it computes). Splitting the windows uses
    the cores better than one multi-threaded interpreter: the int8 model's
    attention operators (int8 BATCH_MATMUL, SOFTMAX) are not taken by the
    XNNPACK delegate and run on one thread, so on 2 cores one interpreter
    with 2 threads took about 24 ms per window and two with 1 thread 13.5 ms
    (``benchmarks/tflite.py`` has the end-to-end figures).

    Args:
        path: the ``.tflite`` file; its contract ``<stem>.json`` must be
            beside it.
        threads: interpreters working in parallel (default: the CPUs this
            process may run on, :func:`usable_cpus`).

    Example:

    >>> predictor = TFLitePredictor("sa_shn_mobile_int8.tflite", threads=2)  # doctest: +SKIP
    >>> Separator(predictor).separate(samples, rate)                        # doctest: +SKIP
    """

    backend = "tflite"

    def __init__(self, path, threads=None):
        from ai_edge_litert.interpreter import Interpreter

        from keras_sa.models.config import ModelConfig
        from keras_sa.native_logs import filtered_stderr

        path = Path(path)
        if not path.is_file():
            raise TFLiteModelError(f"{path}: model file not found")
        if path.suffix != ".tflite":
            raise TFLiteModelError(f"{path}: not a .tflite file (the tflite backend runs converted models)")
        self.path = path
        self.contract = read_contract(path)
        self.config = ModelConfig.from_dict(self.contract["model"])
        self.threads = max(1, int(threads or usable_cpus()))
        self.interpreters = []
        # LiteRT announces its XNNPACK delegate on descriptor 2 (for the first
        # interpreter of a process); its other lines (a broken model's) are kept for the error.
        try:
            model = path.read_bytes()
        except OSError as error:
            raise TFLiteModelError(f"{path}: cannot read the model ({error.strerror or error})") from None
        check_model_bytes(path, self.contract, model)
        captured = None
        try:
            with filtered_stderr(replay_on_error=False) as captured:
                for _ in range(self.threads):
                    interpreter = Interpreter(model_content=model, num_threads=1)
                    interpreter.allocate_tensors()
                    self.interpreters.append(interpreter)
        except (ValueError, RuntimeError) as error:
            lines = str(error).splitlines() + (captured.kept if captured else [])
            lines = [line.strip() for line in lines if line.strip()]
            message = lines[0] if lines else type(error).__name__
            raise TFLiteModelError(f"{path}: not a loadable TFLite model ({message})") from None
        (self._input,) = self.interpreters[0].get_input_details()
        (self._output,) = self.interpreters[0].get_output_details()
        signal = self.config.signal
        expected = [1, signal.patch_frames, signal.n_bins, 1]
        if list(self._input["shape"]) != expected:
            raise TFLiteModelError(f"{path}: input shape {list(self._input['shape'])}, contract says {expected}")
        self._pool = None

    def _run(self, interpreter, features, masks, first, stop):
        for index in range(first, stop):
            interpreter.set_tensor(self._input["index"], _quantize(features[index][np.newaxis, ..., np.newaxis], self._input))
            interpreter.invoke()
            masks[index] = _dequantize(interpreter.get_tensor(self._output["index"])[0], self._output)

    def __call__(self, features):
        features = np.asarray(features, np.float32)
        signal = self.config.signal
        count = len(features)
        masks = np.empty((count, signal.patch_frames, signal.n_bins, len(signal.sources)), np.float32)
        workers = min(self.threads, count)
        if workers <= 1:
            self._run(self.interpreters[0], features, masks, 0, count)
            return masks
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="litert")
        bounds = np.linspace(0, count, workers + 1).astype(int)
        jobs = [
            self._pool.submit(self._run, interpreter, features, masks, first, stop)
            for interpreter, first, stop in zip(self.interpreters, bounds[:-1], bounds[1:])
        ]
        for job in jobs:
            job.result()
        return masks


def _quantize(values, detail):
    dtype = detail["dtype"]
    if dtype == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(dtype)


def _dequantize(values, detail):
    if detail["dtype"] == np.float32:
        return values
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale
