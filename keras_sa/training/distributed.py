"""What ``fit`` needs under a ``tf.distribute`` strategy, multi-worker ones included."""

import shutil
import tempfile
from pathlib import Path

import keras
from keras import ops

from keras_sa.training.options import BACKUP


def is_chief(strategy=None):
    """Whether this process writes the run folder.

    Always, except on the non-chief workers of a multi-worker strategy:
    ``should_checkpoint`` is true for every single-process strategy and for
    the multi-worker chief.
    """
    return strategy is None or strategy.extended.should_checkpoint


def is_multi_worker(strategy):
    """Whether ``strategy`` spans several worker processes (Keras' own test)."""
    if strategy is None:
        return False
    import tensorflow as tf

    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


class AverageOverReplicas(keras.callbacks.Callback):
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


def work_around_keras_multiworker(training_model, strategy):
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


def private_run_folder(out_dir, strategy):
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
