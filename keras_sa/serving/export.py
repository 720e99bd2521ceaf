"""Export a separation model as a TensorFlow Serving SavedModel.

The exported graph is the whole separator at the model's rate: samples in,
vocals and accompaniment out. Everything the numpy
:class:`keras_sa.separation.Separator` does for one mono block at the
model's rate happens inside the graph, with the same conventions:

1. the centred STFT (:func:`keras_sa.audio.signal.tf_stft`);
2. windows of ``patch_frames`` frames every ``window_hop`` frames, padded by
   ``window_margin`` frames in front and ``window_look_ahead`` behind, each
   normalized on its own (:func:`keras_sa.audio.signal.model_input`), each
   keeping the masks of the ``window_hop`` frames after its first
   ``window_margin``;
3. the ratio mask ``m_v / (m_v + m_a)`` (bins above ``n_bins`` take the
   share of the highest one), applied to the complex STFT;
4. the inverse STFT, and accompaniment = waveform - vocals.

The model runs on at most :data:`WINDOWS_PER_CALL` windows at a time, so
the activations held at once do not grow with the input's length; the
STFT and the masks do (about 75 bytes per input sample, measured).

Layout written by :func:`export_savedmodel`, as TensorFlow Serving expects::

    BASE/<version>/saved_model.pb
    BASE/<version>/variables/...
    BASE/<version>/assets/keras_sa_config.json         (a SavedModel asset)
    BASE/<version>/assets.extra/keras_sa_config.json   (for clients and tools)
    BASE/<version>/assets.extra/tf_serving_warmup_requests  (run by the server at load)

Signatures (``saved_model_cli show --dir BASE/<version> --all`` lists them):

- ``serving_default``: ``waveform`` float32 ``[batch, samples]`` ->
  ``vocals``, ``accompaniment`` float32 ``[batch, samples]``;
- ``separate_padded``: the same plus ``lengths`` int32 ``[batch]``: row
  ``b`` is separated as its first ``lengths[b]`` samples alone would be, and
  its outputs are zero beyond them, so clips of different lengths can share
  a request (or a server-side batch) with exactly the results they would
  get alone;
- ``separate_patches``: ``features`` float32
  ``[batch, patch_frames, n_bins, 1]`` -> ``masks`` float32
  ``[batch, patch_frames, n_bins, n_sources]``: the model alone, for callers
  that do their own STFT and windowing.

Bad input (fewer than :func:`min_samples` samples, NaN or infinite values,
``lengths`` out of range, an empty batch) fails a ``tf.debugging`` assertion
inside the graph: an ``InvalidArgumentError`` with a plain message, which
TensorFlow Serving returns as HTTP 400 / gRPC ``INVALID_ARGUMENT``.
"""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

#: Name of the audio contract (the ModelConfig JSON) in the export.
CONTRACT_FILE = "keras_sa_config.json"

#: TensorFlow Serving's warm-up requests, in ``assets.extra/``.
WARMUP_FILE = "tf_serving_warmup_requests"

#: Windows per model call inside the graph: the batch the numpy separator
#: uses, and a bound on the activations held at once.
WINDOWS_PER_CALL = 16


def min_samples(signal):
    """The shortest waveform the exported signatures accept.

    One full STFT frame (``n_fft`` samples, 64 ms for the bundled 16 kHz
    models): anything shorter has no complete analysis window to separate.

    Args:
        signal: a :class:`keras_sa.audio.SignalConfig`.

    Returns:
        The minimum number of samples per row.
    """
    return signal.n_fft


def _separation_module(model, config, contract_path):
    """A ``tf.Module`` holding the model and the serving functions."""
    import keras
    import tensorflow as tf

    from keras_sa.audio.signal import model_input, tf_istft, tf_stft
    from keras_sa.separation import SHARE_EPS

    tnp = tf.experimental.numpy
    signal = config.signal
    patch, hop = signal.patch_frames, signal.window_hop
    margin, look_ahead = signal.window_margin, signal.window_look_ahead
    n_bins, n_sources = signal.n_bins, len(signal.sources)
    minimum = min_samples(signal)
    # The last stack's masks are the model's answer; the earlier stacks'
    # outputs only served deep supervision.
    masks_model = keras.Model(model.inputs[0], model.outputs[-1])

    class SeparationModule(tf.Module):
        def __init__(self):
            super().__init__(name="keras_sa_separator")
            # The module tracks the model's tf.Variables, not the Keras model:
            # tracked through Keras' own variable objects, the checkpoint does
            # not restore the variables that the functions read when the
            # SavedModel is loaded into a TF1 session, as TensorFlow Serving
            # loads it. The functions reach the model through the closure.
            self.model_variables = [v.value for v in masks_model.weights]
            self.contract = tf.saved_model.Asset(str(contract_path))

        def _check(self, waveform, lengths):
            samples = tf.shape(waveform)[1]
            checks = [
                tf.debugging.assert_positive(
                    tf.shape(waveform)[0], message="waveform holds no rows (batch size 0)"
                ),
                tf.debugging.assert_greater_equal(
                    samples,
                    minimum,
                    message=f"waveform is too short: it needs at least {minimum} samples "
                    f"({minimum / signal.sample_rate * 1000:.0f} ms at {signal.sample_rate} Hz, "
                    "one STFT frame)",
                ),
                tf.debugging.assert_all_finite(waveform, "waveform contains NaN or infinite values"),
            ]
            if lengths is not None:
                checks += [
                    tf.debugging.assert_equal(
                        tf.shape(lengths)[0],
                        tf.shape(waveform)[0],
                        message="lengths must hold one value per waveform row",
                    ),
                    tf.debugging.assert_greater_equal(
                        lengths,
                        minimum,
                        message=f"lengths must be at least {minimum} samples (one STFT frame)",
                    ),
                    tf.debugging.assert_less_equal(
                        lengths, samples, message="lengths must not exceed the waveform's length"
                    ),
                ]
            return checks

        def _masks(self, magnitude):
            """``[batch, frames, n_bins]`` magnitudes -> ``[batch, frames, n_bins, n_sources]``."""
            batch, frames = tf.shape(magnitude)[0], tf.shape(magnitude)[1]
            count = (frames + hop - 1) // hop
            padded = tf.pad(magnitude, [[0, 0], [margin, count * hop - frames + look_ahead], [0, 0]])
            windows = tf.signal.frame(padded, patch, hop, axis=1)  # [batch, count, patch, n_bins]
            windows = tf.reshape(windows, [-1, patch, n_bins])
            features, _ = model_input(windows, signal, xp=tnp)
            features = tf.cast(features, tf.float32)[..., tf.newaxis]
            total = tf.shape(features)[0]
            steps = (total + WINDOWS_PER_CALL - 1) // WINDOWS_PER_CALL

            def body(step, outputs):
                first = step * WINDOWS_PER_CALL
                chunk = features[first : first + WINDOWS_PER_CALL]
                predicted = masks_model(chunk, training=False)
                return step + 1, outputs.write(step, predicted[:, margin : margin + hop])

            outputs = tf.TensorArray(
                tf.float32,
                size=steps,
                infer_shape=False,
                element_shape=tf.TensorShape([None, hop, n_bins, n_sources]),
            )
            # One chunk at a time: the point of chunking is bounded memory,
            # and the convolutions already use every intra-op thread.
            _, outputs = tf.while_loop(
                lambda step, _: step < steps, body, (0, outputs), parallel_iterations=1
            )
            masks = tf.reshape(outputs.concat(), [batch, count * hop, n_bins, n_sources])
            return masks[:, :frames]

        def _separate(self, waveform, lengths=None):
            # A server checks a fed tensor's dtype against the signature but
            # not its shape: EnsureShape rejects another rank at run time
            # (an assertion on tf.rank() would be folded to the declared 2).
            waveform = tf.ensure_shape(waveform, [None, None], name="waveform")
            if lengths is not None:
                lengths = tf.ensure_shape(lengths, [None], name="lengths")
            with tf.control_dependencies(self._check(waveform, lengths)):
                waveform = tf.identity(waveform)
            samples = tf.shape(waveform)[1]
            if lengths is None:
                lengths = tf.fill(tf.shape(waveform)[:1], samples)
            valid = tf.range(samples)[tf.newaxis, :] < lengths[:, tf.newaxis]
            waveform = tf.where(valid, waveform, 0.0)
            spectrum = tf_stft(waveform, signal)  # [batch, frames, n_fft // 2 + 1]
            # A row of n samples has the 1 + n // hop frames of its own STFT;
            # later frames are treated as absent, as they would be alone.
            valid_frames = (
                tf.range(tf.shape(spectrum)[1])[tf.newaxis, :]
                < (1 + lengths // signal.hop_length)[:, tf.newaxis]
            )
            magnitude = tf.abs(spectrum[..., :n_bins]) * tf.cast(valid_frames, tf.float32)[..., tf.newaxis]
            masks = self._masks(magnitude)
            vocals, accompaniment = masks[..., 0], masks[..., 1]
            share = (vocals + SHARE_EPS) / (vocals + accompaniment + 2 * SHARE_EPS)
            missing = signal.n_fft // 2 + 1 - n_bins
            if missing:
                share = tf.concat([share, tf.repeat(share[..., -1:], missing, axis=-1)], axis=-1)
            share = share * tf.cast(valid_frames, tf.float32)[..., tf.newaxis]
            vocals = tf_istft(tf.cast(share, tf.complex64) * spectrum, signal, samples, valid_frames)
            vocals = tf.where(valid, vocals, 0.0)
            return {"vocals": vocals, "accompaniment": waveform - vocals}

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")])
        def serving_default(self, waveform):
            return self._separate(waveform)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None], tf.float32, name="waveform"),
                tf.TensorSpec([None], tf.int32, name="lengths"),
            ]
        )
        def separate_padded(self, waveform, lengths):
            return self._separate(waveform, lengths)

        @tf.function(
            input_signature=[tf.TensorSpec([None, patch, n_bins, 1], tf.float32, name="features")]
        )
        def separate_patches(self, features):
            features = tf.ensure_shape(features, [None, patch, n_bins, 1], name="features")
            return {"masks": masks_model(features, training=False)}

        @tf.function(input_signature=[])
        def audio_contract(self):
            """The ModelConfig JSON, for Python users of the loaded SavedModel."""
            return tf.io.read_file(self.contract)

    return SeparationModule()


def write_warmup_requests(path, signal, seconds=(1.0, 34.0)):
    """TensorFlow Serving's warm-up file: requests it runs when it loads the version.

    The first call of a loaded graph optimizes it (1 to 4 s on 2 cores);
    with this file the server pays that before it reports the version
    available, not on a client's first request. One ``serving_default``
    request of each length in ``seconds`` (1 s, and the 34 s block that
    ``serve-request`` sends), of zeros at the model's rate.

    Args:
        path: ``<version>/assets.extra/tf_serving_warmup_requests``.
        signal: the model's :class:`keras_sa.audio.SignalConfig`.
        seconds: the request lengths.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from keras_sa.serving.client import GrpcClient

    builder = GrpcClient(target=None, model_name="")  # only builds requests: no channel is opened
    with tf.io.TFRecordWriter(str(path)) as writer:
        for length in seconds:
            batch = np.zeros((1, max(int(length * signal.sample_rate), min_samples(signal))), np.float32)
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=builder.build_request(batch))
            )
            writer.write(log.SerializeToString())


def next_version(base_dir):
    """1 + the highest numeric version folder in ``base_dir`` (1 if none)."""
    base = Path(base_dir)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def read_contract(source):
    """The :class:`keras_sa.models.ModelConfig` that comes with an export or model.

    Args:
        source: a SavedModel version folder written by
            :func:`export_savedmodel`, its ``keras_sa_config.json``, a
            ``.keras`` model file or a bundled model name.

    Returns:
        The ModelConfig (``.signal.sample_rate`` is the rate to send).

    Raises:
        ValueError: ``source`` is none of these, or unreadable
            (``keras_sa.models.ModelFileError`` and
            ``keras_sa.pretrained.UnknownModelError`` are ValueErrors).
    """
    from keras_sa import pretrained
    from keras_sa.models import ModelConfig, read_config

    path = Path(source)
    if path.is_dir():
        path = path / "assets.extra" / CONTRACT_FILE
        if not path.is_file():
            raise ValueError(f"{source}: not a keras_sa SavedModel export (no assets.extra/{CONTRACT_FILE})")
    if path.suffix == ".json":
        try:
            return ModelConfig.from_json(path.read_text())
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: unreadable model config ({error})") from None
    return read_config(pretrained.resolve(source))


def export_savedmodel(model_path_or_name, base_dir, version=None):
    """Write a separation model as version ``N`` of a TensorFlow Serving model.

    The version is written under a temporary name inside ``base_dir`` and
    renamed when complete, so a server watching ``base_dir`` never loads a
    partial version.

    Args:
        model_path_or_name: a bundled model name (``"default"``,
            ``"sa_shn_mobile"``, ...) or a ``.keras`` file written by
            ``keras_sa.models.save_model``.
        base_dir: the model's base folder (TensorFlow Serving's
            ``--model_base_path``); created if missing.
        version: positive integer version; default: 1 + the highest
            existing numeric version, or 1.

    Returns:
        The ``Path`` of the version folder, ``base_dir/<version>``.

    Raises:
        FileExistsError: ``base_dir/<version>`` exists already.
        ValueError: ``version`` is not a positive integer, or the model
            cannot be found or loaded.
    """
    import tensorflow as tf

    from keras_sa import pretrained
    from keras_sa.models import load_model

    integer = isinstance(version, (int, np.integer)) and not isinstance(version, bool)
    if version is not None and (not integer or version < 1):
        raise ValueError(f"version must be a positive integer, got {version!r}")
    base = Path(base_dir)
    version = int(version) if version is not None else next_version(base)
    target = base / str(version)
    if target.exists():
        raise FileExistsError(f"{target}: version {version} exists already (versions are never overwritten)")

    model, config = load_model(pretrained.resolve(model_path_or_name))
    base.mkdir(parents=True, exist_ok=True)
    # A dot-name is not a version to TensorFlow Serving, which ignores it.
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".partial", dir=base))
    try:
        contract = Path(tempfile.mkdtemp(dir=staging)) / CONTRACT_FILE
        contract.write_text(config.to_json())
        module = _separation_module(model, config, contract)
        export_dir = staging / "export"
        tf.saved_model.save(
            module,
            str(export_dir),
            signatures={
                "serving_default": module.serving_default,
                "separate_padded": module.separate_padded,
                "separate_patches": module.separate_patches,
            },
        )
        extra = export_dir / "assets.extra"
        extra.mkdir()
        (extra / CONTRACT_FILE).write_text(config.to_json())
        write_warmup_requests(extra / WARMUP_FILE, config.signal)
        if target.exists():
            raise FileExistsError(f"{target}: version {version} exists already (versions are never overwritten)")
        os.rename(export_dir, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
