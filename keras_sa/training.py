"""Training with ``model.fit``: deep-supervision loss, schedule, checkpoints.

The separation model maps features to masks. For training it is wrapped in
a second functional model that applies every stack's masks to the mixture
magnitude, so the loss is the SHN's intermediate supervision:

    loss = sum over stacks s of mean |mask_s * mixture - target|

The wrapper only adds a multiply; the separation model inside it is what
checkpoints save and what ships.
"""

import json
import logging
from pathlib import Path

import keras
from keras import ops

from keras_sa.models.saving import save_model

log = logging.getLogger(__name__)

BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"


@keras.saving.register_keras_serializable(package="keras_sa")
class DeepSupervisionL1(keras.losses.Loss):
    """Sum over stacks of the mean absolute error of the masked mixture.

    ``y_true``: ``(batch, T, F, sources)`` target magnitudes; ``y_pred``:
    ``(batch, stacks, T, F, sources)`` masked mixtures, one per stack.
    """

    def __init__(self, name="deep_supervision_l1", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        error = ops.abs(y_pred - ops.expand_dims(y_true, axis=1))
        return ops.sum(ops.mean(error, axis=(2, 3, 4)), axis=1)


@keras.saving.register_keras_serializable(package="keras_sa")
class FinalStackL1(keras.metrics.MeanMetricWrapper):
    """Mean absolute error of the last stack alone: the shipped output's loss."""

    def __init__(self, name="final_l1", dtype=None):
        super().__init__(_final_l1, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _final_l1(y_true, y_pred):
    return ops.mean(ops.abs(y_pred[:, -1] - y_true), axis=(1, 2, 3))


def build_training_model(model):
    """Wrap a separation model for training on ``((features, mixture), targets)``."""
    frames, bins, _ = model.input.shape[1:]
    features = keras.Input((frames, bins, 1), name="features")
    mixture = keras.Input((frames, bins, 1), name="mixture")
    masks = model(features)
    if not isinstance(masks, (list, tuple)):
        masks = [masks]
    estimates = [keras.layers.Multiply()([mask, mixture]) for mask in masks]
    if len(estimates) > 1:
        stacked = keras.layers.Concatenate(axis=1)(
            [keras.layers.Reshape((1, frames, bins, mask.shape[-1]))(e) for e, mask in zip(estimates, masks)]
        )
    else:
        stacked = keras.layers.Reshape((1, frames, bins, masks[0].shape[-1]))(estimates[0])
    return keras.Model([features, mixture], stacked, name=f"{model.name}_training")


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
    """Saves the inner separation model: the best on validation, and the last."""

    def __init__(self, separation_model, directory, config=None, monitor="val_final_l1"):
        super().__init__()
        self.separation_model = separation_model
        self.config = config
        self.directory = Path(directory)
        self.monitor = monitor
        self.state_path = self.directory / "best.json"
        self.best = float("inf")
        if self.state_path.exists():
            self.best = json.loads(self.state_path.read_text())["value"]

    def _save(self, path):
        if self.config is None:
            self.separation_model.save(path)
        else:
            save_model(self.separation_model, self.config, path)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._save(self.directory / LAST_MODEL)
        value = logs.get(self.monitor)
        if value is not None and value < self.best:
            self.best = float(value)
            self._save(self.directory / BEST_MODEL)
            state = {"epoch": epoch + 1, "monitor": self.monitor, "value": self.best}
            self.state_path.write_text(json.dumps(state, indent=2))
            log.info("epoch %d: new best %s = %.5f", epoch + 1, self.monitor, self.best)


def compile_for_training(model, steps, learning_rate=1e-3, clipnorm=1.0):
    """The training wrapper of ``model``, compiled with Adam and the schedule."""
    training_model = build_training_model(model)
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate_schedule(steps, learning_rate), clipnorm=clipnorm
    )
    training_model.compile(optimizer=optimizer, loss=DeepSupervisionL1(), metrics=[FinalStackL1()])
    return training_model


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
            (TensorBoard), ``history.csv``.
        steps: total optimizer steps.
        steps_per_epoch: steps between validations and checkpoints.
        learning_rate: peak learning rate of the schedule.
        strategy: optional ``tf.distribute.Strategy``.
        config: the model's :class:`keras_sa.models.ModelConfig`, saved
            inside the checkpoints so that they load as separators.
        verbose: ``fit`` verbosity.

    Returns:
        The trained separation model (its last state).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs = max(steps // steps_per_epoch, 1)

    def build():
        separation = model() if callable(model) and not isinstance(model, keras.Model) else model
        return separation, compile_for_training(separation, epochs * steps_per_epoch, learning_rate)

    if strategy is not None:
        with strategy.scope():
            separation, training_model = build()
    else:
        separation, training_model = build()

    callbacks = [
        keras.callbacks.BackupAndRestore(str(out_dir / "backup")),
        SaveSeparationModel(separation, out_dir, config),
        keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True),
    ]
    if keras.backend.backend() == "tensorflow":
        callbacks.append(keras.callbacks.TensorBoard(str(out_dir / "logs"), update_freq=50))
    training_model.fit(
        train_data,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )
    return separation


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
    verbose=2,
):
    """Train a model on a dataset folder: the path behind ``keras-sa train``.

    MIR-1K's protocol is applied when the track names are MIR-1K clips (and
    ``mir1k_protocol`` is set): only the training singers are used, and a
    validation set of whole songs is held out from them. The run's settings
    are written to ``out_dir/run.json``.

    Returns:
        The trained separation model.
    """
    from keras_sa import data, models
    from keras_sa.data import pipeline

    keras.utils.set_random_seed(seed)
    config = model_config if isinstance(model_config, models.ModelConfig) else models.get_preset(model_config)
    tracks = data.discover(data_root, layout=layout)
    if mir1k_protocol and all(t.name.count("_") >= 2 for t in tracks):
        tracks, _ = data.mir1k_split(tracks)
        if not tracks:
            raise data.DatasetError(f"{data_root}: no clips of the MIR-1K training singers")
    train_tracks, validation_tracks = data.validation_split(tracks, validation_fraction)
    rate = config.signal.sample_rate
    train_sources = data.load_sources(train_tracks, rate, progress=verbose > 0)
    validation_sources = data.load_sources(validation_tracks, rate, progress=verbose > 0)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {
        "model": config.to_dict(),
        "data_root": str(data_root),
        "train_tracks": [s.name for s in train_sources],
        "validation_tracks": [s.name for s in validation_sources],
        "steps": steps,
        "batch_size": batch_size,
        "steps_per_epoch": steps_per_epoch,
        "learning_rate": learning_rate,
        "remix_probability": remix_probability,
        "seed": seed,
        "backend": keras.backend.backend(),
    }
    (out_dir / "run.json").write_text(json.dumps(run, indent=2))
    log.info("%d training and %d validation tracks", len(train_sources), len(validation_sources))

    train_data = pipeline.training_dataset(
        train_sources, config.signal, batch_size, remix_probability, seed=seed
    )
    validation_data = pipeline.validation_dataset(validation_sources, config.signal, batch_size)
    return fit(
        lambda: models.build(config),
        train_data,
        validation_data,
        out_dir,
        steps,
        steps_per_epoch=steps_per_epoch,
        learning_rate=learning_rate,
        strategy=strategy,
        config=config,
        verbose=verbose,
    )
