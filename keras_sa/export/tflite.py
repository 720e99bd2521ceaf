"""Conversion of a separation model to TFLite, with its audio contract.

The converted model is the final stack of the network with a fixed input of
one window, ``(1, patch_frames, n_bins, 1)``: a fixed signature keeps
dynamic-shape operators (SHAPE, GATHER, PACK) out of the graph, and phones
run one window at a time. Everything around the model (resampling, STFT,
per-window normalization, ratio masks, inverse STFT) stays outside, in the
host code, and is described by the *contract* written beside the model as
``<stem>.json`` (see :func:`contract`).

Five quantizations (all with TFLite built-in operators only):

- ``float32``: the float model as is;
- ``float16``: float16 weights, dequantized to float32 at load time;
- ``dynamic``: int8 weights, activations quantized on the fly;
- ``int8``: full integer: int8 weights and activations, int32 biases, int8
  input and output. It is calibrated on windows of real training audio
  (:func:`calibration_windows`); the host quantizes the features and
  dequantizes the masks with the scales the contract gives.
- ``int8_float_attention``: ``int8`` except the operators of
  :data:`FLOAT_OPERATORS`, which compute in float32 between a DEQUANTIZE
  and a QUANTIZE. These are the ones LiteRT's XNNPACK delegate has no int8
  kernel for; in int8 they fall back to TFLite's single-threaded built-in
  kernels (BATCH_MATMUL of two activations at reference speed), which made
  the int8 model slower than the dynamic-range one. In float XNNPACK takes
  them. In SA-SHN they are the skip attention's score and value products,
  its softmax and part of its normalization; its projections, the
  convolutions and everything else stay int8, and so do the input and
  output, with the same host code as ``int8``.
"""

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8", "int8_float_attention")
#: The quantizations calibrated on real audio, with int8 input and output.
CALIBRATED = ("int8", "int8_float_attention")
#: Operators that ``int8_float_attention`` keeps in float32: XNNPACK runs them in float, not in int8.
FLOAT_OPERATORS = ("BATCH_MATMUL", "SOFTMAX", "SQUARED_DIFFERENCE", "RSQRT")
CONTRACT_FORMAT = "keras_sa.tflite"
CONTRACT_VERSION = 1


def inference_model(model):
    """The final stack's masks as a one-input, one-output Keras model, ready to convert.

    Keras' nearest-neighbour ``UpSampling2D`` is ``repeat`` along both axes,
    which converts to TILE and RESHAPE operators; XNNPACK has no TILE
    kernel, so each of the 16 up-samplings ran in TFLite's built-in kernel
    and cut the delegated graph into pieces. Here each becomes ``s * s``
    copies concatenated along the channels and one DEPTH_TO_SPACE: the same
    values, bit for bit, with operators that XNNPACK runs (9 % off a
    dynamic-range window on one thread, ``tflite/PROFILE.md``). The model
    passed in is not changed.
    """
    import keras
    import tensorflow as tf

    class NearestUpSampling(keras.layers.Layer):
        def __init__(self, size, **kwargs):
            super().__init__(**kwargs)
            self.size = size

        def call(self, inputs):
            # DEPTH_TO_SPACE puts channel (i * size + j) * C + c at offset
            # (i, j) of each size x size block: with the copies, channel c
            # lands on every offset.
            return tf.nn.depth_to_space(tf.concat([inputs] * (self.size * self.size), axis=-1), self.size)

        def get_config(self):
            return {**super().get_config(), "size": self.size}

    def clone(layer):
        if isinstance(layer, keras.layers.UpSampling2D):
            rows, columns = layer.size
            if layer.interpolation == "nearest" and rows == columns and layer.data_format == "channels_last":
                return NearestUpSampling(rows, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    final = keras.Model(model.inputs[0], model.outputs[-1], name=model.name)
    converted = keras.models.clone_model(final, clone_function=clone)
    converted.set_weights(final.get_weights())
    return converted


def calibration_windows(sources, signal, count=256, seed=0):
    """Model inputs cut from real audio, to calibrate int8 quantization.

    Args:
        sources: list of :class:`keras_sa.data.Sources` (the training
            singers' clips, never test clips).
        signal: the model's :class:`keras_sa.audio.SignalConfig`.
        count: number of windows.
        seed: which windows.

    Returns:
        ``(count, patch_frames, n_bins)`` float32 features of the clips' own
        mixtures (no remixing), normalized as the separator normalizes them.
    """
    from keras_sa.data.patches import PatchSource

    source = PatchSource(sources, signal, remix_probability=0.0, seed=seed)
    return np.stack([source.random_example(index)[0][..., 0] for index in range(count)])


def convert(model, config, quantization, calibration=None):
    """Convert a separation model to a TFLite flatbuffer.

    Args:
        model: the Keras separation model.
        config: its :class:`keras_sa.models.ModelConfig`.
        quantization: one of :data:`QUANTIZATIONS`.
        calibration: ``(n, patch_frames, n_bins)`` features (see
            :func:`calibration_windows`); required for ``int8``.

    Returns:
        The ``.tflite`` file's bytes.
    """
    import tensorflow as tf

    from keras_sa.native_logs import CONVERTER_NOTICES, filtered_stderr

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; one of {', '.join(QUANTIZATIONS)}")
    if quantization in CALIBRATED and (calibration is None or len(calibration) == 0):
        raise ValueError(f"{quantization} quantization needs calibration windows of real audio")
    signal = config.signal
    shape = (1, signal.patch_frames, signal.n_bins, 1)
    with tempfile.TemporaryDirectory() as folder:
        # Through a SavedModel with a fixed signature: converting the Keras
        # model or its concrete function directly fails on Keras 3 variables.
        inference_model(model).export(
            folder, format="tf_saved_model", input_signature=[tf.TensorSpec(shape, tf.float32, name="features")], verbose=False
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantization in CALIBRATED:
            windows = np.asarray(calibration, np.float32)

            def representative():
                for window in windows:
                    yield [window[np.newaxis, ..., np.newaxis]]

            converter.representative_dataset = representative
        if quantization == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        with filtered_stderr(CONVERTER_NOTICES):
            if quantization == "int8_float_attention":
                return _quantize_except(converter, FLOAT_OPERATORS)
            return converter.convert()


def _quantize_except(converter, float_operators):
    """Full-integer quantization with int8 input and output, except ``float_operators``.

    The converter has no public switch for this: it calibrates (its
    ``_experimental_calibrate_only``), then the calibrated model goes
    through the MLIR quantizer with those operators denylisted, which is
    what ``tf.lite.experimental.QuantizationDebugger`` does for its
    selectively quantized models, here with int8 rather than float input
    and output.
    """
    import tensorflow as tf
    from tensorflow.lite.python import convert as lite_convert

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    return lite_convert.mlir_quantize(
        calibrated,
        fully_quantize=True,
        input_data_type=tf.int8,
        output_data_type=tf.int8,
        denylisted_ops=list(float_operators),
    )


def _tensor_spec(detail):
    scale, zero_point = detail["quantization"]
    spec = {"shape": [int(d) for d in detail["shape"]], "dtype": np.dtype(detail["dtype"]).name}
    if scale:
        spec.update(scale=float(scale), zero_point=int(zero_point))
    return spec


def contract(config, quantization, flatbuffer):
    """The audio contract of a converted model: what its host code must do.

    Everything a host (the Python separator, the Android app) needs besides
    the ``.tflite`` file: the model config with its signal settings, the STFT
    convention, how the features are normalized, the source order, the
    input and output tensors with their quantization, and how the masks
    become outputs.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()
    signal = config.signal
    return {
        "format": CONTRACT_FORMAT,
        "version": CONTRACT_VERSION,
        "quantization": quantization,
        # Checked by every reader before the interpreter gets the bytes: a
        # file damaged inside its weights still parses and runs.
        "model_sha256": hashlib.sha256(flatbuffer).hexdigest(),
        "model": config.to_dict(),
        "signal": signal.to_dict(),
        "stft": {
            "window": "hann, periodic, n_fft samples",
            "center": True,
            "pad": "zeros, n_fft // 2 on both sides",
            "inverse": "overlap-add of windowed inverse FFTs divided by the summed squared window",
            "model_bins": f"bins 0 .. {signal.n_bins - 1} of n_fft // 2 + 1",
        },
        "features": {
            "layout": "[1, patch_frames, n_bins, 1]: frames x bins of one window, frame-major",
            "normalization": (
                "m = magnitude / max(max over the window, 1e-8); "
                + (
                    f"f = log1p({signal.compression_strength:g} * m) / max over the window of "
                    f"log1p({signal.compression_strength:g} * m) (log1p({signal.compression_strength:g}) "
                    "for a window whose peak is below 1e-8)"
                    if signal.compression == "log"
                    else "f = m"
                )
            ),
            "windows": (
                "the spectrogram is padded with window_margin zero frames in front "
                "and enough at the end; window i starts at frame i * window_hop and keeps the masks "
                "of its window_hop frames after its first window_margin"
            ),
        },
        "masks": {
            "sources": list(signal.sources),
            "combine": "vocal share = (m_vocals + 1e-6) / (m_vocals + m_accompaniment + 2e-6); "
            "bins above n_bins take the share of bin n_bins - 1",
            "outputs": "vocals = istft(share * stft(x)); accompaniment = x - vocals",
        },
        "input": {"name": input_detail["name"]} | _tensor_spec(input_detail),
        "output": {"name": output_detail["name"]} | _tensor_spec(output_detail),
    }


def operators(flatbuffer):
    """Every operator of a TFLite model with the dtypes of its tensors.

    Returns:
        A list of ``{"index", "op", "inputs", "outputs"}``, where inputs and
        outputs are dtype names (``"int8"``, ``"float32"``, ...).
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    listed = []
    for op in interpreter._get_ops_details():  # the interpreter's only op listing
        listed.append(
            {
                "index": int(op["index"]),
                "op": op["op_name"],
                "inputs": [dtypes.get(int(i), "?") for i in op["inputs"] if i >= 0],
                "outputs": [dtypes.get(int(i), "?") for i in op["outputs"] if i >= 0],
            }
        )
    return listed


def float_islands(listed):
    """Operators of an int8 model that compute in float (defects of a full-integer model)."""
    return [op for op in listed if any(d.startswith("float") for d in op["inputs"] + op["outputs"])]


def unexpected_float_operators(quantization, listed):
    """The float operators a model of ``quantization`` should not have (none for float models).

    ``int8`` may have none; ``int8_float_attention`` only those of
    :data:`FLOAT_OPERATORS` and the QUANTIZE / DEQUANTIZE around them.
    """
    allowed = {"int8": (), "int8_float_attention": FLOAT_OPERATORS + ("QUANTIZE", "DEQUANTIZE")}
    if quantization not in allowed:
        return []
    return [op["op"] for op in float_islands(listed) if op["op"] not in allowed[quantization]]


def xnnpack_operators(flatbuffer, threads=1):
    """Indices of the operators that LiteRT's default XNNPACK delegate takes.

    The interpreter is made as an app makes it (default delegate), with
    delegate node fusion disabled so that every operator XNNPACK takes
    becomes a ``DELEGATE`` node of its own, with that operator's outputs;
    the other operators run in TFLite's built-in kernels.

    Returns:
        A set of operator indices, as :func:`operators` numbers them.
    """
    from ai_edge_litert.interpreter import Interpreter

    from keras_sa.native_logs import filtered_stderr

    interpreter = Interpreter(model_content=flatbuffer, num_threads=threads, experimental_disable_delegate_node_fusion=True)
    # Applying the delegate announces it on descriptor 2, which a user's terminal would show.
    with filtered_stderr():
        interpreter.allocate_tensors()
    delegated = {
        tuple(int(t) for t in op["outputs"]) for op in interpreter._get_ops_details() if op["op_name"] == "DELEGATE"
    }
    return {
        int(op["index"])
        for op in Interpreter(model_content=flatbuffer)._get_ops_details()
        if tuple(int(t) for t in op["outputs"]) in delegated
    }


def write(flatbuffer, model_contract, path, overwrite=False):
    """Write ``path`` (``.tflite``) and its contract ``<stem>.json`` beside it.

    Raises:
        FileExistsError: either file exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"{path}: TFLite model files must end in .tflite")
    json_path = path.with_suffix(".json")
    if not overwrite:
        for existing in (path, json_path):
            if existing.exists():
                raise FileExistsError(f"{existing}: exists (use --overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, data in ((path, flatbuffer), (json_path, (json.dumps(model_contract, indent=2) + "\n").encode())):
        temporary = target.with_name(f".{target.name}.partial")
        temporary.write_bytes(data)
        temporary.replace(target)
    return path


def export(model, config, quantization, path, calibration=None, reference=None, threads=None, overwrite=False):
    """Convert, verify and write a model: nothing is written unless it passes.

    Args:
        model, config: the float Keras model and its config.
        quantization: one of :data:`QUANTIZATIONS`.
        path: the ``.tflite`` file to write (its contract goes beside it).
        calibration: calibration windows (int8; see :func:`calibration_windows`).
        reference: a :class:`keras_sa.export.verify.Reference` of the float
            model on the verification clips, or ``None`` to skip verification.
        threads: LiteRT threads for verification.
        overwrite: replace existing files.

    Returns:
        A report: ``passed`` and ``failures``, ``size_bytes``, ``operators``
        (with their tensors' dtypes and the kernel that runs them:
        ``"xnnpack"`` or ``"builtin"``), ``float_islands`` (the calibrated
        quantizations' float operators), ``verified``
        and, when verified, the :func:`keras_sa.export.verify.verify`
        figures. The files are written only when ``passed``.
    """
    path = Path(path)
    if not overwrite:
        for existing in (path, path.with_suffix(".json")):
            if existing.exists():
                raise FileExistsError(f"{existing}: exists (use --overwrite)")
    flatbuffer = convert(model, config, quantization, calibration)
    model_contract = contract(config, quantization, flatbuffer)
    listed = operators(flatbuffer)
    report = {
        "quantization": quantization,
        "size_bytes": len(flatbuffer),
        "operators": listed,
        "verified": reference is not None,
        "failures": [],
    }
    xnnpack = xnnpack_operators(flatbuffer)
    for op in listed:
        op["kernel"] = "xnnpack" if op["index"] in xnnpack else "builtin"
    if quantization in CALIBRATED:
        report["float_islands"] = [op["op"] for op in float_islands(listed)]
        unexpected = unexpected_float_operators(quantization, listed)
        if unexpected:
            report["failures"].append(f"float operators in the {quantization} model: {', '.join(unexpected)}")
    if reference is not None:
        from keras_sa.export import verify
        from keras_sa.predictors import TFLitePredictor
        from keras_sa.separation import Separator

        with tempfile.TemporaryDirectory() as folder:
            candidate = write(flatbuffer, model_contract, Path(folder) / path.name)
            checked = verify.verify(Separator(TFLitePredictor(candidate, threads=threads)), reference, quantization)
        report.update({k: v for k, v in checked.items() if k not in ("failures", "passed")})
        report["failures"] += checked["failures"]
        model_contract["verification"] = {k: v for k, v in checked.items() if k not in ("failures", "passed")}
    report["passed"] = not report["failures"]
    if report["passed"]:
        write(flatbuffer, model_contract, path, overwrite=overwrite)
    return report
