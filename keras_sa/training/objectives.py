"""Training objectives: the SHN's deep-supervision L1, a time-domain SDR, and the compiled wrapper.

The separation model maps features to masks. For training it is wrapped in
a second functional model that applies every stack's masks to the mixture
magnitude (:func:`build_training_model`), so the loss is the SHN's
intermediate supervision. :func:`compile_for_training` compiles that wrapper
with Adam, the learning-rate schedule and the chosen objective.
"""

import keras
from keras import ops

from keras_sa.training.options import OBJECTIVES, check_choice

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
    check_choice("objective", objective, OBJECTIVES)
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
