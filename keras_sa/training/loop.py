"""``fit``, resumable after a kill, and the run of ``keras-sa train`` around it."""

import json
import logging
import shutil
from pathlib import Path

import keras

from keras_sa.training.callbacks import GNSDRValidation, SaveSeparationModel
from keras_sa.training.distributed import (
    AverageOverReplicas,
    is_chief,
    is_multi_worker,
    private_run_folder,
    work_around_keras_multiworker,
)
from keras_sa.training.objectives import SDR_WEIGHT, compile_for_training
from keras_sa.training.options import BACKUP, OBJECTIVES, PRECISIONS, SELECTIONS, check_choice
from keras_sa.training.precision import CopyWeights, with_precision

log = logging.getLogger("keras_sa.training")


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


def has_tensorboard():
    """Whether runs write TensorBoard logs: TensorFlow backend and TensorBoard installed.

    TensorFlow 2.21 no longer installs TensorBoard, whose summary writer
    Keras' ``TensorBoard`` callback needs; without it a run keeps
    ``history.csv`` only.
    """
    import importlib.util

    return keras.backend.backend() == "tensorflow" and importlib.util.find_spec("tensorboard") is not None


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
    check_choice("precision", precision, PRECISIONS)
    check_choice("objective", objective, OBJECTIVES)
    check_choice("select", select, tuple(SELECTIONS))
    if select == "gnsdr":
        if config is None or validation_clips is None:
            raise ValueError("select='gnsdr' needs the model's config and validation clips")
        if is_multi_worker(strategy):
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
        if is_multi_worker(strategy):
            work_around_keras_multiworker(training_model, strategy)
    else:
        separation, trained, training_model = build()

    # Every worker runs every callback; only the chief's write into out_dir.
    run_dir = out_dir if chief else private_run_folder(out_dir, strategy)
    monitor, mode = SELECTIONS[select]
    callbacks = []
    if strategy is not None and strategy.num_replicas_in_sync > 1:  # first: before the others save
        callbacks.append(AverageOverReplicas(trained.non_trainable_variables, strategy))
    if trained is not separation:  # before the callbacks that evaluate and save the float32 model
        callbacks.append(CopyWeights(trained, separation))
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
    voice_variants=0,
    vocal_effects=False,
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
    examples (see :class:`keras_sa.data.patches.PatchSource`);
    ``voice_variants`` the number of pitch and formant variants made of each
    training track's vocals for them to draw from (kept in
    ``out_dir/voices.npz``, :mod:`keras_sa.data.voices`), and
    ``vocal_effects`` whether their vocals get a random EQ and room
    (``"eq+room"`` or ``True``), the EQ alone (``"eq"``), or neither.

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

    check_choice("precision", precision, PRECISIONS)  # before the data are decoded
    check_choice("objective", objective, OBJECTIVES)
    check_choice("select", select, tuple(SELECTIONS))
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
    if voice_variants < 0:
        raise ValueError(f"voice_variants must not be negative, got {voice_variants}")
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
        "voice_variants": voice_variants,
        "vocal_effects": vocal_effects,
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

    variants = None
    if voice_variants:
        from keras_sa.data.voices import voice_variants as make_variants

        variants = make_variants(
            train_sources, rate, voice_variants, seed=seed,
            cache=out_dir / "voices.npz" if is_chief(strategy) else None,
            progress=verbose > 0,
        )
    augment = dict(vocal_speed=vocal_speed, voice_variants=variants, vocal_effects=vocal_effects)
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
            **augment,
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
                train_sources, config.signal, remix_probability, seed=seed, spectra=spectra, **augment
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
