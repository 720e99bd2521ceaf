"""Training with ``model.fit``: deep-supervision loss, schedule, checkpoints.

The separation model maps features to masks. For training it is wrapped in
a second functional model that applies every stack's masks to the mixture
magnitude, so the loss is the SHN's intermediate supervision:

    loss = sum over stacks s of mean |mask_s * mixture - target|

The wrapper only adds a multiply; the separation model inside it is what
checkpoints save and what ships.

``objective="sdr"`` optimizes what GNSDR measures instead: the final
stack's masks are applied to the mixture's complex STFT (its phase kept),
the patch is turned back into samples by overlap-add, and the loss is the
negative SDR of those samples against the sources' (see
:class:`TimeDomainSDR`); ``"l1+sdr"`` adds it to the SHN's L1.

``precision="mixed_bfloat16"`` trains a copy of the separation model whose
layers compute in bfloat16 (see :func:`with_precision`); its weights stay
float32, and the checkpoints are the float32 model with those weights, so
what ships is the same either way.
"""

import json
import logging
import shutil
import tempfile
from pathlib import Path

import keras
from keras import ops

from keras_sa.models.saving import save_model

log = logging.getLogger(__name__)

BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
BACKUP = "backup"
PRECISIONS = ("float32", "mixed_bfloat16")
OBJECTIVES = ("l1", "sdr", "l1+sdr")
SELECTIONS = {"l1": ("val_final_l1", "min"), "gnsdr": ("val_gnsdr_vocals", "max")}
"""What ``best.keras`` is selected by: the monitored log and its direction."""
SDR_WEIGHT = 1e-3
"""Weight of the SDR term (in dB) beside the L1 under ``objective="l1+sdr"``.

At initialization, on batches of MIR-1K training-singer patches, the
gradient of ``sa_shn_mobile``'s SDR term (dB) is 1500-3500 times larger than
the L1's; at this weight the SDR term's gradient is about twice the L1's.
"""


@keras.saving.register_keras_serializable(package="keras_sa")
class DeepSupervisionL1(keras.losses.Loss):
    """Sum over stacks of the mean absolute error of the masked mixture.

    ``y_true``: ``(batch, T, F, sources)`` target magnitudes; ``y_pred``:
    ``(batch, stacks, T, F, sources)`` masked mixtures, one per stack.

    Args:
        sources: score only the first ``sources`` channels, the magnitudes,
            when the targets also carry complex spectra (``objective="sdr"``
            batches); ``None``: every channel.
    """

    def __init__(self, sources=None, name="deep_supervision_l1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.sources = sources

    def call(self, y_true, y_pred):
        y_true, y_pred = y_true[..., : self.sources], y_pred[..., : self.sources]
        error = ops.abs(y_pred - ops.expand_dims(y_true, axis=1))
        return ops.sum(ops.mean(error, axis=(2, 3, 4)), axis=1)

    def get_config(self):
        return super().get_config() | {"sources": self.sources}


@keras.saving.register_keras_serializable(package="keras_sa")
class FinalStackL1(keras.metrics.MeanMetricWrapper):
    """Mean absolute error of the last stack alone: the shipped output's loss.

    ``sources``: as in :class:`DeepSupervisionL1`.
    """

    def __init__(self, sources=None, name="final_l1", dtype=None):
        super().__init__(_final_l1, name=name, dtype=dtype, sources=sources)
        self.sources = sources

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "sources": self.sources}


def _final_l1(y_true, y_pred, sources=None):
    error = y_pred[:, -1, ..., :sources] - y_true[..., :sources]
    return ops.mean(ops.abs(error), axis=(1, 2, 3))


def patch_signals(real, imag, n_fft, hop_length):
    """Samples of STFT patches, by overlap-add of their own frames (``keras.ops``).

    The inverse of an uncentred STFT (``keras_sa.audio.signal.stft(...,
    center=False)``) restricted to the samples that every overlapping frame
    covers: the first and last ``n_fft // hop_length - 1`` hops, where the
    window sum is incomplete, are left out. Bins above ``real``'s last one
    (the Nyquist bin the models drop) count as zero. Written with
    ``keras.ops`` so that gradients flow through it on any backend.

    Args:
        real, imag: ``(..., frames, bins)`` parts of the patches' spectra,
            ``bins <= n_fft // 2 + 1``.
        n_fft, hop_length: the STFT's; ``n_fft`` must be a multiple of
            ``hop_length``.

    Returns:
        ``(..., (frames - n_fft // hop_length + 1) * hop_length)`` samples:
        those from ``n_fft - hop_length`` to ``frames * hop_length`` of the
        segment the patch was cut from.
    """
    import numpy as np

    if n_fft % hop_length:
        raise ValueError(f"n_fft {n_fft} is not a multiple of hop_length {hop_length}")
    overlap = n_fft // hop_length
    frames, bins = real.shape[-2], real.shape[-1]
    missing = n_fft // 2 + 1 - bins
    if missing:
        padding = [[0, 0]] * (len(real.shape) - 1) + [[0, missing]]
        real, imag = ops.pad(real, padding), ops.pad(imag, padding)
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann, as the STFT's
    pieces = ops.irfft((real, imag), fft_length=n_fft) * window
    # Hop j of the output sums hop i of frame j - i over the frames that
    # overlap it; the valid hops are those that all `overlap` frames reach.
    valid = frames - overlap + 1
    signal = sum(
        pieces[..., overlap - 1 - i : overlap - 1 - i + valid, i * hop_length : (i + 1) * hop_length]
        for i in range(overlap)
    )
    window_sum = np.sum(np.square(window).reshape(overlap, hop_length), axis=0)
    signal = signal / window_sum
    return ops.reshape(signal, (*ops.shape(signal)[:-2], valid * hop_length))


def _sdr_per_source(y_true, y_pred, n_fft, hop_length, epsilon):
    """Batch-summed SDR (dB) of the final stack, one value per source."""
    sources = y_true.shape[-1] // 3

    def signals(packed):  # (batch, T, F, 3 * sources) -> (batch, sources, samples)
        real = ops.transpose(packed[..., sources : 2 * sources], (0, 3, 1, 2))
        imag = ops.transpose(packed[..., 2 * sources :], (0, 3, 1, 2))
        return patch_signals(real, imag, n_fft, hop_length)

    reference, estimate = signals(y_true), signals(y_pred[:, -1])
    energy = ops.sum(ops.square(reference), axis=(0, 2))
    error = ops.sum(ops.square(reference - estimate), axis=(0, 2))
    return 10.0 * ops.log10((energy + epsilon) / (error + epsilon))


@keras.saving.register_keras_serializable(package="keras_sa")
class TimeDomainSDR(keras.losses.Loss):
    """Negative SDR of the final stack's estimates in the time domain.

    The estimates are the masks applied to the mixture's complex STFT (the
    mixture phase), the references the sources' own STFT patches, both
    turned into samples by :func:`patch_signals`; per source,
    ``SDR = 10 log10(sum |s|^2 / sum |s - s_hat|^2)`` with the sums taken
    over the whole batch, and the loss is minus its mean over the sources.
    Summing over the batch, rather than averaging per-patch SDRs, keeps the
    patches whose source is silent (no vocals for a second is common) from
    dominating with an SDR that no estimate can make finite; every patch is
    normalized by its mixture's peak, so each counts about equally.

    ``y_true``: ``(batch, T, F, 3 * sources)`` magnitudes, real and
    imaginary parts of the sources (``spectra=True`` batches); ``y_pred``:
    ``(batch, stacks, T, F, 3 * sources)`` the same of every stack's
    estimates (:func:`build_training_model` with ``spectra=True``).

    Args:
        n_fft, hop_length: the STFT of the patches.
        epsilon: added to both energies.
    """

    def __init__(self, n_fft, hop_length, epsilon=1e-8, name="time_domain_sdr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.n_fft, self.hop_length, self.epsilon = n_fft, hop_length, epsilon

    def call(self, y_true, y_pred):
        return -ops.mean(_sdr_per_source(y_true, y_pred, self.n_fft, self.hop_length, self.epsilon))

    def get_config(self):
        return super().get_config() | {"n_fft": self.n_fft, "hop_length": self.hop_length, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_sa")
class L1PlusSDR(keras.losses.Loss):
    """:class:`DeepSupervisionL1` plus ``sdr_weight`` times :class:`TimeDomainSDR`."""

    def __init__(self, n_fft, hop_length, sources, sdr_weight=SDR_WEIGHT, name="l1_plus_sdr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.n_fft, self.hop_length, self.sources, self.sdr_weight = n_fft, hop_length, sources, sdr_weight
        self._l1 = DeepSupervisionL1(sources)
        self._sdr = TimeDomainSDR(n_fft, hop_length)

    def call(self, y_true, y_pred):
        return self._l1.call(y_true, y_pred) + self.sdr_weight * self._sdr.call(y_true, y_pred)

    def get_config(self):
        return super().get_config() | {
            "n_fft": self.n_fft, "hop_length": self.hop_length, "sources": self.sources, "sdr_weight": self.sdr_weight
        }


@keras.saving.register_keras_serializable(package="keras_sa")
class FinalStackSDR(keras.metrics.MeanMetricWrapper):
    """The final stack's batch-summed time-domain SDR, in dB, mean over sources (see :class:`TimeDomainSDR`)."""

    def __init__(self, n_fft, hop_length, name="final_sdr", dtype=None):
        super().__init__(_final_sdr, name=name, dtype=dtype, n_fft=n_fft, hop_length=hop_length)
        self.n_fft, self.hop_length = n_fft, hop_length

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "n_fft": self.n_fft, "hop_length": self.hop_length}


def _final_sdr(y_true, y_pred, n_fft, hop_length):
    return ops.mean(_sdr_per_source(y_true, y_pred, n_fft, hop_length, 1e-8))


def build_training_model(model, spectra=False):
    """Wrap a separation model for training on ``((features, mixture), targets)``.

    Args:
        model: the separation model.
        spectra: take ``(features, mixture, mixture_real, mixture_imag)``
            (``spectra=True`` batches, see :mod:`keras_sa.data.patches`) and
            give every stack's masks applied to the magnitude, the real and
            the imaginary part, concatenated on the last axis as the
            targets are.

    Returns:
        A model whose output is ``(batch, stacks, T, F, channels)``.
    """
    frames, bins, _ = model.input.shape[1:]
    features = keras.Input((frames, bins, 1), name="features")
    mixture = keras.Input((frames, bins, 1), name="mixture")
    inputs = [features, mixture]
    if spectra:
        inputs += [keras.Input((frames, bins, 1), name="mixture_real"), keras.Input((frames, bins, 1), name="mixture_imag")]
    masks = model(features)
    if not isinstance(masks, (list, tuple)):
        masks = [masks]
    estimates = []
    for mask in masks:
        parts = [keras.layers.Multiply()([mask, part]) for part in inputs[1:]]
        estimate = keras.layers.Concatenate()(parts) if spectra else parts[0]
        estimates.append(keras.layers.Reshape((1, *estimate.shape[1:]))(estimate))
    stacked = keras.layers.Concatenate(axis=1)(estimates) if len(estimates) > 1 else estimates[0]
    return keras.Model(inputs, stacked, name=f"{model.name}_training")


def _check_choice(option, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {option} {value!r} (choose from {', '.join(choices)})")


def with_precision(model, precision):
    """A copy of a functional separation model whose layers compute in ``precision``.

    Every layer gets the dtype policy ``precision`` except the model's
    output layers (the sigmoid masks), which stay float32, so that the
    masks, the estimates and the loss are float32 whatever the policy. The
    policy is given to each layer rather than set globally, so that nothing
    else built in the process (the float32 model that checkpoints save, a
    model built for evaluation) picks it up. Under ``mixed_bfloat16`` the
    variables are float32 as under ``float32``: the copy's weights load into
    the float32 model unchanged.

    Args:
        model: a functional separation model (from :func:`keras_sa.models.build`).
        precision: one of :data:`PRECISIONS`.

    Returns:
        ``model`` itself for ``"float32"``, else a new model with the same
        layers and a copy of its weights.
    """
    _check_choice("precision", precision, PRECISIONS)
    if precision == "float32":
        return model
    config = model.get_config()
    outputs = {name for name, _, _ in config["output_layers"]}
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer":
            layer["config"]["dtype"] = "float32" if layer["name"] in outputs else precision
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


class _CopyWeights(keras.callbacks.Callback):
    """Copies the trained model's weights into the float32 model at each epoch's end."""

    def __init__(self, source, target):
        super().__init__()
        self.source = source
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        self.target.set_weights(self.source.get_weights())


def learning_rate_schedule(steps, learning_rate=1e-3, warmup_steps=200, final_fraction=0.02):
    """Linear warm-up, then cosine decay to ``final_fraction`` of the peak."""
    warmup_steps = min(warmup_steps, max(steps // 10, 1))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate * 0.01,
        decay_steps=max(steps - warmup_steps, 1),
        alpha=final_fraction,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )


class SaveSeparationModel(keras.callbacks.Callback):
    """Saves the inner separation model: the best on validation, and the last.

    The best value so far is kept in ``best.json`` beside the models, so
    that a resumed run compares against it; a ``best.json`` of another
    monitor (a run resumed with another selection) is not comparable and
    starts the selection afresh. Epochs whose log lacks the monitor, or
    holds NaN for it (a GNSDR not computed that epoch), select nothing.

    Args:
        separation_model: the model to save.
        directory: the run folder.
        config: its :class:`keras_sa.models.ModelConfig`, saved in the files.
        monitor: the log that selects ``best.keras``.
        mode: ``"min"`` or ``"max"``: whether lower or higher is better.
    """

    def __init__(self, separation_model, directory, config=None, monitor="val_final_l1", mode="min"):
        super().__init__()
        self.separation_model = separation_model
        self.config = config
        self.directory = Path(directory)
        self.monitor = monitor
        self.sign = 1.0 if mode == "min" else -1.0
        self.state_path = self.directory / "best.json"
        self.best = self.sign * float("inf")
        if self.state_path.exists():
            state = json.loads(self.state_path.read_text())
            if state.get("monitor", "val_final_l1") == monitor:
                self.best = state["value"]
            else:
                log.warning("%s selected by %s; from now on by %s", directory, state.get("monitor"), monitor)

    def _save(self, path):
        if self.config is None:
            self.separation_model.save(path)
        else:
            save_model(self.separation_model, self.config, path)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._save(self.directory / LAST_MODEL)
        value = logs.get(self.monitor)
        if value is not None and self.sign * value < self.sign * self.best:
            self.best = float(value)
            self._save(self.directory / BEST_MODEL)
            state = {"epoch": epoch + 1, "monitor": self.monitor, "value": self.best}
            self.state_path.write_text(json.dumps(state, indent=2))
            log.info("epoch %d: new best %s = %.5f", epoch + 1, self.monitor, self.best)


class GNSDRValidation(keras.callbacks.Callback):
    """Separates whole validation songs and logs their GNSDR, every few epochs.

    At the end of every ``every``-th epoch, and of the last, the separation
    model separates each clip with :class:`keras_sa.separation.Separator`
    (as ``keras-sa separate`` would), the estimates are scored with the
    MIR-1K protocol (:func:`keras_sa.evaluation.evaluate_tracks`, mir_eval)
    and :func:`keras_sa.evaluation.summarize` gives the GNSDR of each source,
    logged as ``val_gnsdr_<source>``. Other epochs log NaN, so that every
    row of ``history.csv`` has the same columns.

    Args:
        separation_model: the (float32) separation model, trained in place
            or kept up to date by the callbacks before this one.
        config: its :class:`keras_sa.models.ModelConfig`.
        clips: re-iterable :class:`keras_sa.evaluation.Clip` s, such as
            :class:`keras_sa.evaluation.TrackClips`.
        every: epochs between evaluations.
        epochs: the run's last epoch, always evaluated.
    """

    def __init__(self, separation_model, config, clips, every, epochs):
        super().__init__()
        if every < 1:
            raise ValueError(f"select_every must be at least 1, got {every}")
        self.separation_model = separation_model
        self.config = config
        self.clips = clips
        self.every = every
        self.epochs = epochs
        self._separator = None

    def on_epoch_end(self, epoch, logs=None):
        from keras_sa import evaluation

        keys = [f"val_gnsdr_{source}" for source in self.config.signal.sources]
        logs = logs if logs is not None else {}
        if (epoch + 1) % self.every and epoch + 1 != self.epochs:
            logs.update(dict.fromkeys(keys, float("nan")))
            return
        if self._separator is None:  # one predictor: its inference function is traced once
            from keras_sa import predictors
            from keras_sa.separation import Separator

            self._separator = Separator(predictors.KerasPredictor(self.separation_model, self.config))
        records = evaluation.evaluate_tracks(
            self.clips,
            self._separator.estimator(),
            sample_rate=self.config.signal.sample_rate,
            progress=False,
            sources=self.config.signal.sources,
        )
        summary = evaluation.summarize(records)
        logs.update({key: summary[f"{source}_gnsdr"] for key, source in zip(keys, self.config.signal.sources)})
        log.info(
            "epoch %d: %s on %d validation clips",
            epoch + 1,
            ", ".join(f"{key} {logs[key]:.3f} dB" for key in keys),
            summary["evaluated"],
        )


class ResumeStateError(ValueError):
    """A run folder's resume state cannot be read."""


def completed_epochs(out_dir):
    """Epochs that a resumed run in ``out_dir`` will skip: 0 for a new run.

    Read from the resume state that ``keras.callbacks.BackupAndRestore``
    keeps in ``out_dir/backup`` (it restores the epoch from the same file),
    so that the training stream can start where the finished epochs left it.
    """
    metadata = Path(out_dir) / BACKUP / "training_metadata.json"
    if not metadata.is_file():
        return 0
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (ValueError, KeyError, TypeError) as error:
        raise ResumeStateError(f"{metadata}: unreadable resume state ({error})") from None


def compile_for_training(model, steps, learning_rate=1e-3, clipnorm=1.0, objective="l1", signal=None):
    """The training wrapper of ``model``, compiled with Adam and the schedule.

    Args:
        model: the separation model.
        steps: length of the learning-rate schedule.
        learning_rate: its peak.
        clipnorm: gradient norm clipping.
        objective: ``"l1"`` (the SHN's deep-supervision L1), ``"sdr"``
            (:class:`TimeDomainSDR`) or ``"l1+sdr"`` (:class:`L1PlusSDR`).
            The last two train on ``spectra=True`` batches and also report
            ``final_sdr``.
        signal: the model's :class:`keras_sa.audio.SignalConfig`; needed by
            the SDR objectives.

    Returns:
        The compiled training model.
    """
    _check_choice("objective", objective, OBJECTIVES)
    spectra = objective != "l1"
    training_model = build_training_model(model, spectra=spectra)
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate_schedule(steps, learning_rate), clipnorm=clipnorm
    )
    if not spectra:
        training_model.compile(optimizer=optimizer, loss=DeepSupervisionL1(), metrics=[FinalStackL1()])
        return training_model
    if signal is None:
        raise ValueError(f"objective {objective!r} needs the model's signal config")
    sources = len(signal.sources)
    stft = dict(n_fft=signal.n_fft, hop_length=signal.hop_length)
    loss = TimeDomainSDR(**stft) if objective == "sdr" else L1PlusSDR(sources=sources, **stft)
    training_model.compile(optimizer=optimizer, loss=loss, metrics=[FinalStackL1(sources), FinalStackSDR(**stft)])
    return training_model


def is_chief(strategy=None):
    """Whether this process writes the run folder.

    Always, except on the non-chief workers of a multi-worker strategy:
    ``should_checkpoint`` is true for every single-process strategy and for
    the multi-worker chief.
    """
    return strategy is None or strategy.extended.should_checkpoint


def _is_multi_worker(strategy):
    """Whether ``strategy`` spans several worker processes (Keras' own test)."""
    if strategy is None:
        return False
    import tensorflow as tf

    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


class _AverageOverReplicas(keras.callbacks.Callback):
    """Averages variables that are not trained (BatchNorm statistics) over replicas.

    Keras 3 creates BatchNormalization's moving mean and variance with no
    cross-replica aggregation (tf.keras averaged them when read), so under a
    strategy with several replicas (MirroredStrategy on several GPUs, or
    MultiWorkerMirroredStrategy) each replica updates its copy from its own
    part of the batches only and the copies drift apart, while the trained
    weights stay identical; a checkpoint then holds the first replica's
    statistics alone. Averaging them before each validation and at each
    epoch's end gives every replica the same statistics, from all the data,
    for validation, the checkpoints and the backup.
    """

    def __init__(self, variables, strategy):
        super().__init__()
        import tensorflow as tf

        self.variables = list(variables)
        self.strategy = strategy

        def average():
            local = strategy.run(lambda: [tf.identity(v.value) for v in self.variables])
            for variable, value in zip(self.variables, local):
                variable.assign(strategy.reduce("MEAN", value, axis=None))

        # A tf.function: collectives run eagerly are slow (TF warns).
        self._average = tf.function(average)

    def on_test_begin(self, logs=None):
        self._average()

    def on_epoch_end(self, epoch, logs=None):
        self._average()


def _work_around_keras_multiworker(training_model, strategy):
    """Make Keras 3 (3.15) ``fit`` run under ``MultiWorkerMirroredStrategy``.

    Keras' multi-worker path fails in two places, both where it combines
    values across replicas:

    - before training and before each validation it builds the metrics and
      optimizer from a first batch that it averages with ``strategy.reduce``,
      passing the whole nested ``((features, mixture), targets)`` structure,
      which TF's ``reduce`` cannot take ("Attempt to convert a value
      (PerReplica...) to a Tensor"). That build only needs shapes and dtypes,
      so this worker's own part of the batch serves as well;
    - after every step it averages the step's scalar logs (loss, metrics)
      over workers with ``strategy.reduce("MEAN", value, axis=0)``, which
      fails on scalars ("Invalid reduction dimension 0"). The train and test
      steps here return each value with a length-1 leading axis, which that
      reduction then averages away into the scalar Keras expects.

    The epoch logs that the callbacks see are read from the metric variables
    afterwards, summing their totals and counts over all workers: they are
    global (validation included) and the same on every worker, so every
    worker makes the same checkpoint decisions.
    """
    build = training_model._maybe_symbolic_build

    def local(value):
        return strategy.experimental_local_results(value)[0]

    def build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:  # as Keras does: the first batch
                data_batch = keras.tree.map_structure(local, next(batches))
                break
        return build(data_batch=data_batch)

    training_model._maybe_symbolic_build = build_from_local_batch

    def with_leading_axis(step):
        def step_with_leading_axis(data):
            return keras.tree.map_structure(lambda v: ops.expand_dims(v, 0), step(data))

        return step_with_leading_axis

    training_model.train_step = with_leading_axis(training_model.train_step)
    training_model.test_step = with_leading_axis(training_model.test_step)


def has_tensorboard():
    """Whether runs write TensorBoard logs: TensorFlow backend and TensorBoard installed.

    TensorFlow 2.21 no longer installs TensorBoard, whose summary writer
    Keras' ``TensorBoard`` callback needs; without it a run keeps
    ``history.csv`` only.
    """
    import importlib.util

    return keras.backend.backend() == "tensorflow" and importlib.util.find_spec("tensorboard") is not None


def _private_run_folder(out_dir, strategy):
    """A temporary folder for a non-chief worker, seeded with the run's resume state.

    Keras 3 callbacks have no multi-worker logic of their own, so, following
    the TF multi-worker guidance, a non-chief worker still runs every
    callback (anything collective in them, such as reading synchronized
    variables to save them, needs every worker) but points them at a
    private folder, deleted after training. It starts with a copy of the chief's ``backup/`` and
    ``best.json`` so that after a restart every worker resumes from the same
    epoch and makes the same save decisions; this needs ``out_dir`` to be
    readable by all workers, as TF requires for ``BackupAndRestore``.
    """
    resolver = strategy.cluster_resolver
    private = Path(tempfile.mkdtemp(prefix=f"keras_sa_{resolver.task_type}{resolver.task_id}_"))
    if (out_dir / BACKUP).is_dir():
        shutil.copytree(out_dir / BACKUP, private / BACKUP)
    if (out_dir / "best.json").is_file():
        shutil.copy2(out_dir / "best.json", private / "best.json")
    return private


def fit(
    model,
    train_data,
    validation_data,
    out_dir,
    steps,
    steps_per_epoch=250,
    learning_rate=1e-3,
    strategy=None,
    config=None,
    verbose=2,
    precision="float32",
    objective="l1",
    select="l1",
    select_every=1,
    validation_clips=None,
):
    """Train ``model`` with ``model.fit``; resumable after a kill.

    Args:
        model: a separation model from :func:`keras_sa.models.build`, or a
            zero-argument callable that builds one (needed with a
            ``tf.distribute`` strategy, whose scope must hold the variables).
        train_data: endless dataset of ``((features, mixture), targets)``.
        validation_data: finite dataset of the same structure, or ``None``.
        out_dir: run folder: ``best.keras`` (best on validation),
            ``last.keras``, ``backup/`` (resume state), ``logs/``
            (TensorBoard, when installed: :func:`has_tensorboard`),
            ``history.csv``.
        steps: total optimizer steps.
        steps_per_epoch: steps between validations and checkpoints.
        learning_rate: peak learning rate of the schedule.
        strategy: optional ``tf.distribute.Strategy``. Under
            ``MultiWorkerMirroredStrategy`` every worker calls ``fit`` with the
            same arguments (the batch size of the datasets is the global
            one, split between workers as each dataset's auto-shard policy
            says; no batch may leave a worker empty-handed, so validation
            batches must all be full) and only the chief writes ``out_dir``.
        config: the model's :class:`keras_sa.models.ModelConfig`, saved
            inside the checkpoints so that they load as separators.
        verbose: ``fit`` verbosity.
        precision: ``"float32"`` or ``"mixed_bfloat16"``: the dtype policy
            the model is trained under (see :func:`with_precision`). The
            checkpoints and the returned model are float32 either way; a run
            may be resumed under either.
        objective: the loss (see :func:`compile_for_training`); ``"sdr"``
            and ``"l1+sdr"`` need ``config`` and ``spectra=True`` datasets.
        select: what ``best.keras`` is selected by: ``"l1"``, the final
            stack's L1 on ``validation_data``, or ``"gnsdr"``, the vocals'
            GNSDR of ``validation_clips`` (see :class:`GNSDRValidation`),
            evaluated every ``select_every`` epochs and at the last; it
            needs ``config`` and is not supported across several workers.
        select_every: epochs between GNSDR evaluations.
        validation_clips: whole songs for ``select="gnsdr"``, re-iterable
            :class:`keras_sa.evaluation.Clip` s.

    Returns:
        The trained separation model (its last state), float32.
    """
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("objective", objective, OBJECTIVES)
    _check_choice("select", select, tuple(SELECTIONS))
    if select == "gnsdr":
        if config is None or validation_clips is None:
            raise ValueError("select='gnsdr' needs the model's config and validation clips")
        if _is_multi_worker(strategy):
            # Every worker would have to reach the same decision from its own
            # floating-point evaluation before the collective saves.
            raise ValueError("select='gnsdr' is not supported with several workers")
    out_dir = Path(out_dir)
    chief = is_chief(strategy)
    if chief:
        out_dir.mkdir(parents=True, exist_ok=True)
    epochs = max(steps // steps_per_epoch, 1)

    def build():
        separation = model() if callable(model) and not isinstance(model, keras.Model) else model
        trained = with_precision(separation, precision)
        signal = None if config is None else config.signal
        return separation, trained, compile_for_training(
            trained, epochs * steps_per_epoch, learning_rate, objective=objective, signal=signal
        )

    if strategy is not None:
        with strategy.scope():
            separation, trained, training_model = build()
        if _is_multi_worker(strategy):
            _work_around_keras_multiworker(training_model, strategy)
    else:
        separation, trained, training_model = build()

    # Every worker runs every callback; only the chief's write into out_dir.
    run_dir = out_dir if chief else _private_run_folder(out_dir, strategy)
    monitor, mode = SELECTIONS[select]
    callbacks = []
    if strategy is not None and strategy.num_replicas_in_sync > 1:  # first: before the others save
        callbacks.append(_AverageOverReplicas(trained.non_trainable_variables, strategy))
    if trained is not separation:  # before the callbacks that evaluate and save the float32 model
        callbacks.append(_CopyWeights(trained, separation))
    if select == "gnsdr":  # before the backup: an epoch is done once it is evaluated
        callbacks.append(GNSDRValidation(separation, config, validation_clips, select_every, epochs))
    callbacks += [
        # Kept after the last epoch, so running the same command again on a
        # finished run does nothing and a run given more steps continues.
        keras.callbacks.BackupAndRestore(str(run_dir / BACKUP), delete_checkpoint=False),
        SaveSeparationModel(separation, run_dir, config, monitor=monitor, mode=mode),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    if has_tensorboard():
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "logs"), update_freq=50))
    try:
        training_model.fit(
            train_data,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            # The tf.data pipeline shuffles; Keras ignores (and warns about)
            # its own shuffle for a dataset.
            shuffle=False,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
        )
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)
    if trained is not separation:  # also when no epoch was left to run (a finished run)
        separation.set_weights(trained.get_weights())
    return separation


def _describe_file(path):
    """Path and SHA-256 of a file, so that a run records what it started from."""
    import hashlib

    path = Path(path)
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def train_on_dataset(
    data_root,
    model_config,
    out_dir,
    steps,
    batch_size=8,
    steps_per_epoch=250,
    learning_rate=1e-3,
    remix_probability=0.5,
    validation_fraction=0.1,
    layout="auto",
    mir1k_protocol=True,
    seed=0,
    strategy=None,
    initial_model=None,
    verbose=2,
    precision="float32",
    objective="l1",
    select="l1",
    select_every=1,
    vocal_speed=0.0,
    train_singers=None,
):
    """Train a model on a dataset folder: the path behind ``keras-sa train``.

    MIR-1K's protocol is applied when the track names are MIR-1K clips (and
    ``mir1k_protocol`` is set): only the training singers are used, and a
    validation set of whole songs is held out from them. ``train_singers``
    (a tuple of MIR-1K singer names) trains on those singers' clips instead
    of the protocol's two, for cross-singer validation: train on one, score
    the other (``keras-sa evaluate --singers``). The run's settings are
    written to ``out_dir/run.json``.

    ``vocal_speed`` is the range of the random vocal speed of remixed
    examples (see :class:`keras_sa.data.patches.PatchSource`).

    ``initial_model`` (a ``.keras`` file written by
    :func:`keras_sa.models.save_model`) starts the run from that model's
    weights instead of a random initialization: a warm restart, with a new
    schedule of ``steps`` steps. Its config must equal ``model_config``. A
    resumed run restores its own last epoch, whatever the initial model.

    ``precision`` is the dtype policy of training, ``objective`` its loss,
    and ``select`` with ``select_every`` how ``best.keras`` is chosen (see
    :func:`fit`); ``"gnsdr"`` separates the held-out validation songs whole.

    Returns:
        The trained separation model.
    """
    from keras_sa import data, models

    _check_choice("precision", precision, PRECISIONS)  # before the data are decoded
    _check_choice("objective", objective, OBJECTIVES)
    _check_choice("select", select, tuple(SELECTIONS))
    if select_every < 1:
        raise ValueError(f"select_every must be at least 1, got {select_every}")
    keras.utils.set_random_seed(seed)
    config = model_config if isinstance(model_config, models.ModelConfig) else models.get_preset(model_config)
    initial_weights = None
    if initial_model is not None:
        initial, initial_config = models.load_model(initial_model)
        if initial_config != config:
            raise models.ModelFileError(
                f"{initial_model}: its config ({initial_config.name}) differs from the model to train"
                f" ({config.name})"
            )
        initial_weights = initial.get_weights()

    if vocal_speed < 0:
        raise ValueError(f"vocal_speed must not be negative, got {vocal_speed}")
    tracks = data.discover(data_root, layout=layout)
    mir1k = mir1k_protocol and all(t.name.count("_") >= 2 for t in tracks)
    if train_singers and not mir1k:
        raise data.DatasetError(f"{data_root}: singers can only be chosen among MIR-1K clips")
    if mir1k:
        singers = tuple(train_singers or data.MIR1K_TRAIN_SINGERS)
        tracks, _ = data.mir1k_split(tracks, singers)
        if not tracks:
            raise data.DatasetError(f"{data_root}: no clips of the MIR-1K singers {', '.join(singers)}")
    train_tracks, validation_tracks = data.validation_split(tracks, validation_fraction)
    rate = config.signal.sample_rate
    train_sources = data.load_sources(train_tracks, rate, progress=verbose > 0)
    validation_sources = data.load_sources(validation_tracks, rate, progress=verbose > 0)

    out_dir = Path(out_dir)
    run = {
        "model": config.to_dict(),
        "initial_model": None if initial_model is None else _describe_file(initial_model),
        "data_root": str(data_root),
        "train_tracks": [s.name for s in train_sources],
        "validation_tracks": [s.name for s in validation_sources],
        "steps": steps,
        "batch_size": batch_size,
        "steps_per_epoch": steps_per_epoch,
        "learning_rate": learning_rate,
        "remix_probability": remix_probability,
        "vocal_speed": vocal_speed,
        "train_singers": list(singers) if mir1k else None,
        "seed": seed,
        "backend": keras.backend.backend(),
        "precision": precision,
        "objective": objective,
        "sdr_weight": SDR_WEIGHT if objective == "l1+sdr" else None,
        "select": select,
        "select_monitor": SELECTIONS[select][0],
        "select_every": select_every if select == "gnsdr" else None,
    }
    if is_chief(strategy):  # the other workers of a multi-worker run write nothing here
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "run.json").write_text(json.dumps(run, indent=2))
    log.info("%d training and %d validation tracks", len(train_sources), len(validation_sources))
    # A resumed run goes on with the examples that follow those its finished
    # epochs consumed, as if it had never stopped.
    first_epoch = completed_epochs(out_dir)
    if first_epoch:
        log.info("resuming after epoch %d (example %d)", first_epoch, first_epoch * steps_per_epoch * batch_size)

    spectra = objective != "l1"  # the SDR objectives need the patches' complex STFTs
    if keras.backend.backend() == "tensorflow":
        from keras_sa.data import pipeline

        train_data = pipeline.training_dataset(
            train_sources,
            config.signal,
            batch_size,
            remix_probability,
            seed=seed,
            first_example=first_epoch * steps_per_epoch * batch_size,
            spectra=spectra,
            vocal_speed=vocal_speed,
        )
        # Several replicas split every batch: a partial last one would leave some
        # replica an empty batch (see validation_dataset), so it is left out.
        several_replicas = strategy is not None and strategy.num_replicas_in_sync > 1
        validation_data = pipeline.validation_dataset(
            validation_sources, config.signal, batch_size, drop_remainder=several_replicas, spectra=spectra
        )
    else:  # JAX or PyTorch, with or without TensorFlow installed: no tf.data
        from keras_sa.data.patches import PatchBatches, PatchSource

        train_data = PatchBatches(
            PatchSource(
                train_sources, config.signal, remix_probability, seed=seed, spectra=spectra,
                vocal_speed=vocal_speed,
            ),
            batch_size,
            steps_per_epoch,
            first_epoch=first_epoch,
        )
        validation_data = PatchBatches(
            PatchSource(validation_sources, config.signal, spectra=spectra), batch_size, validation=True
        )

    clips = None
    if select == "gnsdr":
        from keras_sa import evaluation

        if not validation_tracks:
            raise data.DatasetError(f"{data_root}: no validation songs to select by GNSDR")
        clips = evaluation.TrackClips(validation_tracks, rate)

    def build():
        model = models.build(config)
        if initial_weights is not None:
            model.set_weights(initial_weights)
        return model

    return fit(
        build,
        train_data,
        validation_data,
        out_dir,
        steps,
        steps_per_epoch=steps_per_epoch,
        learning_rate=learning_rate,
        strategy=strategy,
        config=config,
        verbose=verbose,
        precision=precision,
        objective=objective,
        select=select,
        select_every=select_every,
        validation_clips=clips,
    )
