"""More voices: pitch and formant variants of the training vocals.

A separator trained on two singers loses its dB on the voices it never heard
(``results/experiments.md``). Playing the vocals faster or slower
(``PatchSource(vocal_speed=...)``) moves pitch and formants together, as a
tape does; a different singer differs in both, independently. Here every
training vocal track gets a few variants with their own pitch and formant
shifts, made once with Praat's "Change gender" command (PSOLA resynthesis
after a formant-scaling resample; Boersma and Weenink, Praat) through
Parselmouth, so that remixed training examples can draw a voice among them.

Praat keeps the length and the timing of the track, so a variant lines up
sample for sample with its original and with the accompaniment.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

# Praat's pitch floor and ceiling for the analysis that PSOLA needs, in Hz:
# the range of singing voices, low bass to high soprano.
PITCH_FLOOR, PITCH_CEILING = 75.0, 1000.0
PITCH_RANGE = 5.0  # semitones either way, uniform
FORMANT_RANGE = 1.2  # formant scale within 1/1.2 .. 1.2, log-uniform


def change_voice(vocals, rate, semitones, formant_ratio):
    """``vocals`` with the pitch moved by ``semitones`` and formants scaled by ``formant_ratio``.

    Args:
        vocals: 1-D float samples of one voice.
        rate: their sample rate in Hz.
        semitones: pitch shift; the pitch contour keeps its shape around the
            shifted median.
        formant_ratio: factor on every formant frequency (1.1 moves a voice
            towards a smaller vocal tract).

    Returns:
        float32 samples of the same length. A track with no voiced frames
        (silence, noise) only gets its formants scaled.
    """
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(np.asarray(vocals, np.float64), sampling_frequency=rate)
    pitch = sound.to_pitch(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
    median = call(pitch, "Get quantile", 0, 0, 0.5, "Hertz")
    new_median = 0.0 if not np.isfinite(median) else median * 2.0 ** (semitones / 12.0)
    changed = call(
        sound, "Change gender", PITCH_FLOOR, PITCH_CEILING, formant_ratio, new_median, 1.0, 1.0
    ).values[0]
    out = np.zeros(len(vocals), np.float32)  # Praat may differ by a sample at the end
    out[: min(len(out), len(changed))] = changed[: len(out)]
    return out


def draw_shifts(rng):
    """One random ``(semitones, formant_ratio)`` of the ranges above."""
    semitones = rng.uniform(-PITCH_RANGE, PITCH_RANGE)
    formant_ratio = float(np.exp(rng.uniform(-1.0, 1.0) * np.log(FORMANT_RANGE)))
    return semitones, formant_ratio


def voice_variants(sources, rate, count, seed=0, cache=None, progress=False):
    """``count`` pitch and formant variants of each source's vocals.

    Args:
        sources: list of :class:`keras_sa.data.Sources`.
        rate: their sample rate in Hz.
        count: variants per track.
        seed: seed of the shifts: variant ``k`` of track ``name`` depends on
            ``(seed, name, k)`` alone.
        cache: optional ``.npz`` path; variants are read from it when it was
            written for the same tracks, count and seed, and written to it
            otherwise (a resumed training run does not make them again).
        progress: show a progress bar.

    Returns:
        A list, one ``(count, n)`` float32 array per source, aligned with its
        vocals.
    """
    key = hashlib.sha256(
        json.dumps([rate, count, seed, PITCH_RANGE, FORMANT_RANGE, [s.name for s in sources],
                    [len(s.vocals) for s in sources]]).encode()
    ).hexdigest()
    if cache is not None and Path(cache).exists():
        with np.load(cache) as stored:
            if str(stored["key"]) == key:
                return [stored[f"v{i}"] for i in range(len(sources))]
    variants = []
    items = sources
    if progress:
        from tqdm import tqdm

        items = tqdm(sources, desc=f"{count} voice variants", unit="track", leave=False)
    for item in items:
        name_seed = int.from_bytes(hashlib.sha256(item.name.encode()).digest()[:4], "little")
        rng = np.random.default_rng([seed, name_seed])
        variants.append(
            np.stack([change_voice(item.vocals, rate, *draw_shifts(rng)) for _ in range(count)])
        )
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, key=key, **{f"v{i}": v for i, v in enumerate(variants)})
    return variants

