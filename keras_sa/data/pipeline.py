"""tf.data pipelines of training and validation patches.

Decoded sources live in memory (MIR-1K's training set is about 90 MB at
16 kHz); every example is cut from them on the fly, so each epoch sees new
patches and, with remixing, new mixtures.

One example is ``((features, mixture), targets)``:

- ``features``: ``(T, F, 1)`` model input (``keras_sa.audio.model_input``);
- ``mixture``: ``(T, F, 1)`` mixture magnitude divided by the patch maximum;
- ``targets``: ``(T, F, n_sources)`` source magnitudes divided by the same
  number, in the order of ``SignalConfig.sources``.
"""

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from keras_sa.audio.signal import model_input


def _segment_samples(config):
    """Samples whose uncentred STFT has exactly ``patch_frames`` frames."""
    return (config.patch_frames - 1) * config.hop_length + config.n_fft


class _Bank:
    """All sources of a dataset concatenated into two tensors, plus offsets."""

    def __init__(self, sources, segment):
        vocals, accompaniment, starts, lengths = [], [], [], []
        position = 0
        for item in sources:
            v, a = item.vocals, item.accompaniment
            if len(v) < segment:  # short clips are zero-padded to one segment
                v = np.pad(v, (0, segment - len(v)))
                a = np.pad(a, (0, segment - len(a)))
            vocals.append(v)
            accompaniment.append(a)
            starts.append(position)
            lengths.append(len(v))
            position += len(v)
        self.vocals = tf.constant(np.concatenate(vocals).astype(np.float32))
        self.accompaniment = tf.constant(np.concatenate(accompaniment).astype(np.float32))
        self.starts = tf.constant(starts, tf.int64)
        self.lengths = tf.constant(lengths, tf.int64)
        self.count = len(starts)


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


def _example(bank, config, vocal_start, accompaniment_start, vocal_gain, accompaniment_gain):
    segment = _segment_samples(config)
    vocals = tf.slice(bank.vocals, [vocal_start], [segment]) * vocal_gain
    accompaniment = tf.slice(bank.accompaniment, [accompaniment_start], [segment])
    accompaniment = accompaniment * accompaniment_gain
    signals = tf.stack([vocals + accompaniment, vocals, accompaniment])
    spectra = tf.signal.stft(
        signals,
        frame_length=config.n_fft,
        frame_step=config.hop_length,
        fft_length=config.n_fft,
        window_fn=tf.signal.hann_window,
    )
    magnitudes = tf.abs(spectra[..., : config.n_bins])
    features, scale = model_input(magnitudes[0], config, xp=tnp)
    mixture = magnitudes[0] / scale
    targets = tf.stack([magnitudes[1], magnitudes[2]], axis=-1) / scale[..., tf.newaxis]
    return (features[..., tf.newaxis], mixture[..., tf.newaxis]), targets


def training_dataset(
    sources,
    config,
    batch_size=8,
    remix_probability=0.5,
    gain_db=6.0,
    seed=0,
):
    """An endless, shuffled, batched dataset of random training patches.

    Args:
        sources: list of :class:`keras_sa.data.Sources` (decoded at
            ``config.sample_rate``).
        config: the :class:`keras_sa.audio.SignalConfig`.
        batch_size: examples per batch.
        remix_probability: chance that an example pairs the vocals of one
            track with the accompaniment of another, each with a random gain
            of up to ``gain_db`` decibels either way. The other examples are
            the tracks' own mixtures, unchanged.
        gain_db: range of the remix gains.
        seed: seed of every random choice; the same seed gives the same
            stream of examples.

    Returns:
        A ``tf.data.Dataset`` of ``((features, mixture), targets)`` batches.
    """
    segment = _segment_samples(config)
    bank = _Bank(sources, segment)
    gain_range = gain_db / 20.0 * np.log(10.0)

    def sample(index):
        seeds = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), index]), 8)

        def uniform(k, maxval=None, dtype=tf.float32):
            if maxval is None:
                return tf.random.stateless_uniform([], seeds[k], dtype=dtype)
            return tf.random.stateless_uniform([], seeds[k], maxval=maxval, dtype=dtype)

        vocal_track = uniform(0, bank.count, tf.int64)
        remix = uniform(1) < remix_probability
        other_track = uniform(2, bank.count, tf.int64)
        accompaniment_track = tf.where(remix, other_track, vocal_track)

        def start(track, k):
            room = bank.lengths[track] - segment + 1
            return bank.starts[track] + uniform(k, room, tf.int64)

        vocal_start = start(vocal_track, 3)
        accompaniment_start = tf.where(
            remix,
            start(accompaniment_track, 4),
            vocal_start - bank.starts[vocal_track] + bank.starts[accompaniment_track],
        )
        gains = tf.exp((tf.stack([uniform(5), uniform(6)]) * 2.0 - 1.0) * gain_range)
        gains = tf.where(remix, gains, tf.ones(2))
        return _example(bank, config, vocal_start, accompaniment_start, gains[0], gains[1])

    dataset = tf.data.Dataset.counter().map(sample, num_parallel_calls=tf.data.AUTOTUNE)
    options = _shard_by_data(tf.data.Options())
    options.deterministic = True
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE).with_options(
        options
    )


def validation_dataset(sources, config, batch_size=8, drop_remainder=False):
    """Every non-overlapping patch of every track, unmixed, in a fixed order, cached.

    ``drop_remainder`` leaves out the last, partial batch (fewer than
    ``batch_size`` patches). Set it when training with more than one replica:
    a distribution strategy splits a partial batch unevenly and hands a
    replica that gets no patch an empty batch, which the models cannot take
    (TF 2.17's CPU ``Conv2D`` gives a wrongly shaped result for an empty
    batch inside ``tf.function``).
    """
    segment = _segment_samples(config)
    bank = _Bank(sources, segment)
    step = config.patch_frames * config.hop_length
    offsets = []
    starts = bank.starts.numpy()
    for start, length in zip(starts, bank.lengths.numpy()):
        offsets.extend(start + np.arange(0, length - segment + 1, step))
    offsets = tf.constant(np.asarray(offsets, np.int64))

    def patch(offset):
        return _example(bank, config, offset, offset, 1.0, 1.0)

    return (
        tf.data.Dataset.from_tensor_slices(offsets)
        .map(patch, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=drop_remainder)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
        .with_options(_shard_by_data(tf.data.Options()))
    )
