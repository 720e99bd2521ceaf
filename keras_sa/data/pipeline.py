"""tf.data pipelines of training and validation patches.

The examples themselves are defined once, in numpy, by
:class:`keras_sa.data.patches.PatchSource`; these pipelines run it inside
tf.data (in parallel, prefetched) and batch the results, so that ``fit``
never waits for data and ``tf.distribute`` can split the batches.
"""

import tensorflow as tf

from keras_sa.data.patches import PatchSource


def _shard_by_data(options):
    """``options`` set so that a tf.distribute strategy splits the data by element.

    Under MultiWorkerMirroredStrategy each worker must see different
    examples. Both pipelines generate their examples from in-memory tensors
    (the training stream from ``Dataset.counter()``), so there are no files
    to split and the default AUTO policy could only fall back to DATA, with
    a warning. Under DATA every worker computes the same deterministic
    stream and keeps its own part of each global batch: no example is seen
    twice, at the price of each worker also computing the parts it drops.
    """
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _mapped(source, dataset, make):
    """``dataset`` of int64 scalars mapped through ``make(i) -> example``."""
    shapes = source.shapes

    def numpy_example(value):
        return make(int(value))

    def example(value):
        tensors = tf.numpy_function(numpy_example, [value], [tf.float32] * len(shapes), stateful=False)
        for tensor, shape in zip(tensors, shapes):
            tensor.set_shape(shape)
        return tuple(tensors[:-1]), tensors[-1]

    return dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)


def training_dataset(
    sources,
    config,
    batch_size=8,
    remix_probability=0.5,
    gain_db=6.0,
    seed=0,
    first_example=0,
    spectra=False,
    vocal_speed=0.0,
    voice_variants=None,
    vocal_effects=False,
):
    """An endless, batched dataset of random training patches.

    Args:
        sources: list of :class:`keras_sa.data.Sources` (decoded at
            ``config.sample_rate``).
        config: the :class:`keras_sa.audio.SignalConfig`.
        batch_size: examples per batch.
        remix_probability, gain_db, seed, vocal_speed, voice_variants,
            vocal_effects: see
            :class:`keras_sa.data.patches.PatchSource`; the same seed gives
            the same stream of examples.
        first_example: index in that stream of the first example; a resumed
            run starts after the examples its finished epochs consumed.
        spectra: add the patches' complex STFTs to the examples (see
            :mod:`keras_sa.data.patches`).

    Returns:
        A ``tf.data.Dataset`` of ``((features, mixture), targets)`` batches
        (``((features, mixture, mixture_real, mixture_imag), targets)`` with
        ``spectra``).
    """
    source = PatchSource(
        sources, config, remix_probability, gain_db, seed, spectra=spectra, vocal_speed=vocal_speed,
        voice_variants=voice_variants, vocal_effects=vocal_effects,
    )
    dataset = _mapped(source, tf.data.Dataset.counter(start=first_example), source.random_example)
    options = _shard_by_data(tf.data.Options())
    options.deterministic = True
    return (
        dataset.batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


def validation_dataset(sources, config, batch_size=8, drop_remainder=False, spectra=False):
    """Every non-overlapping patch of every track, unmixed, in a fixed order, cached.

    ``drop_remainder`` leaves out the last, partial batch (fewer than
    ``batch_size`` patches). Set it when training with more than one replica:
    a distribution strategy splits a partial batch unevenly and hands a
    replica that gets no patch an empty batch, which the models cannot take
    (TF 2.17's CPU ``Conv2D`` gives a wrongly shaped result for an empty
    batch inside ``tf.function``). ``spectra``: as in :func:`training_dataset`.
    """
    source = PatchSource(sources, config, spectra=spectra)
    starts = tf.data.Dataset.from_tensor_slices(source.validation_starts())
    return (
        _mapped(source, starts, lambda start: source.example(start, start))
        .batch(batch_size, drop_remainder=drop_remainder)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
        .with_options(_shard_by_data(tf.data.Options()))
    )
