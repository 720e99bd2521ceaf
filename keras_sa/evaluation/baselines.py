"""Floors and ceilings to read a model's scores against: estimators that need no training.

- :func:`ideal_ratio_mask`: the oracle mask of the same STFT (a ceiling);
- :func:`repet_sim`: REPET-SIM, librosa's vocal separation example (a
  classical floor);
- :func:`mixture_baseline`: the mixture for every source (NSDR 0).

Each returns an estimator for :mod:`keras_sa.evaluation.protocols`.
"""

import numpy as np

from keras_sa.audio.signal import SignalConfig, istft, stft


def _resample(samples, orig_rate, target_rate):
    from keras_sa.audio import resample

    return resample(samples[np.newaxis], orig_rate, target_rate)[0]


def _fit(samples, n):
    samples = samples[:n]
    return np.pad(samples, (0, n - samples.shape[0])).astype(np.float32)


def _at_config_rate(separate, config):
    """Run ``separate`` at ``config.sample_rate`` whatever the clip's rate.

    Returns an estimator ``(mixture, references, sample_rate=None)``;
    ``sample_rate=None`` means the clip is already at ``config.sample_rate``.
    """

    def estimator(mixture, references, sample_rate=None):
        mixture = np.asarray(mixture, dtype=np.float32)
        rate = config.sample_rate if sample_rate is None else int(sample_rate)
        if rate == config.sample_rate:
            return separate(mixture, references)
        n = mixture.shape[0]
        down = {k: _resample(np.asarray(v, np.float32), rate, config.sample_rate)
                for k, v in references.items()}
        estimates = separate(_resample(mixture, rate, config.sample_rate), down)
        return {k: _fit(_resample(v, config.sample_rate, rate), n) for k, v in estimates.items()}

    return estimator


def ideal_ratio_mask(config=None):
    """Oracle ideal ratio mask: an upper reference for masking separators.

    The vocal mask ``|S_v| / (|S_v| + |S_a|)`` (from the references' STFT
    magnitudes) and its complement multiply the complex mixture STFT, so the
    estimates keep the mixture's phase, as a masking model's would.

    Args:
        config: the :class:`SignalConfig` (rate, n_fft, hop) to mask in;
            defaults to ``SignalConfig()``.

    Returns:
        An estimator (see the module docstring) that uses the references.
    """
    config = config or SignalConfig()

    def separate(mixture, references):
        n = mixture.shape[0]
        spec = stft(mixture, config)
        voc = np.abs(stft(references["vocals"], config))
        acc = np.abs(stft(references["accompaniment"], config))
        total = voc + acc
        # Where both references are silent the mixture bin is zero too, so
        # the mask value there does not matter; 0.5 just avoids 0 / 0.
        mask = np.divide(voc, total, out=np.full_like(voc, 0.5), where=total > 0)
        return {
            "vocals": istft(mask * spec, config, n),
            "accompaniment": istft((1.0 - mask) * spec, config, n),
        }

    return _at_config_rate(separate, config)


def repet_sim(config=None, width_seconds=2.0, margin_i=2.0, margin_v=10.0, power=2.0):
    """REPET-SIM, as in librosa's vocal separation example: a blind floor.

    The repeating background of each frame is the median of its most similar
    (cosine) frames at least ``width_seconds`` away; soft masks with margins
    split the mixture into foreground (vocals) and background
    (accompaniment).

    Args:
        config: the :class:`SignalConfig` to work in; defaults to
            ``SignalConfig()``.
        width_seconds: minimum time between a frame and its neighbours. On
            clips too short for it, librosa's limit (under half the frames)
            is used instead.
        margin_i, margin_v: background and foreground mask margins.
        power: soft mask exponent.

    Returns:
        An estimator (see the module docstring); it ignores the references.
    """
    config = config or SignalConfig()

    def separate(mixture, references):
        import librosa

        n = mixture.shape[0]
        spec = stft(mixture, config).T  # librosa wants (bins, frames)
        full = np.abs(spec)
        frames = full.shape[1]
        width = int(librosa.time_to_frames(width_seconds, sr=config.sample_rate,
                                           hop_length=config.hop_length))
        width = min(width, (frames - 1) // 2 - 1)
        if width >= 1:
            background = librosa.decompose.nn_filter(
                full, aggregate=np.median, metric="cosine", width=width
            )
            background = np.minimum(full, background)
        else:  # a handful of frames: nothing can repeat, call it all background
            background = full
        mask_i = librosa.util.softmask(background, margin_i * (full - background), power=power)
        mask_v = librosa.util.softmask(full - background, margin_v * background, power=power)
        return {
            "vocals": istft((mask_v * spec).T, config, n),
            "accompaniment": istft((mask_i * spec).T, config, n),
        }

    return _at_config_rate(separate, config)


def mixture_baseline():
    """The mixture as the estimate of every source: NSDR 0 by definition.

    Returns:
        An estimator (see the module docstring).
    """

    def estimator(mixture, references, sample_rate=None):
        mixture = np.asarray(mixture, dtype=np.float32)
        return {"vocals": mixture.copy(), "accompaniment": mixture.copy()}

    return estimator
