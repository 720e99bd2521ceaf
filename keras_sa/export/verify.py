"""The verification gate: a converted model is accepted only if it matches the float model.

Each ``.tflite`` model is run by the LiteRT interpreter on real audio and
compared with the float Keras model it came from, on the same clips:

- the masks: every window of every clip, both models' masks over all
  ``patch_frames x n_bins x sources`` values: the maximum absolute error and
  the SNR ``10 log10(sum ref^2 / sum (ref - tflite)^2)``;
- the separation: both models separate each clip through the same
  :class:`keras_sa.separation.Separator` path and are scored with the MIR-1K
  protocol (mir_eval BSS Eval, length-weighted GNSDR); the gate is the
  difference in GNSDR of each source.

A model passes when both sources' GNSDR differences are within
:data:`GNSDR_TOLERANCE_DB` of its quantization and its mask SNR is at least
:data:`MASK_SNR_FLOOR_DB` (a floor far below what a correct conversion
reaches, to catch a model that is wrong in ways the GNSDR of a few clips
might hide).
"""

import math

import numpy as np

#: Largest accepted |GNSDR(tflite) - GNSDR(float)| per source, in dB.
GNSDR_TOLERANCE_DB = {"float32": 0.01, "float16": 0.05, "dynamic": 0.3, "int8": 0.3, "int8_float_attention": 0.3}
#: Smallest accepted mask SNR, in dB.
MASK_SNR_FLOOR_DB = {"float32": 60.0, "float16": 40.0, "dynamic": 15.0, "int8": 15.0, "int8_float_attention": 15.0}


class VerificationError(ValueError):
    """The models cannot be compared (different configs, no clips)."""


def _gnsdr(separator, clips):
    from keras_sa import evaluation

    records = evaluation.evaluate_tracks(clips, separator.estimator(), progress=False)
    return evaluation.summarize(records)


def _masks(separator, clips):
    """Every window's masks for every clip, and the windows' count per clip."""
    from keras_sa.audio.signal import stft

    signal = separator.signal
    masks = []
    for _, mixture, _, rate in clips:
        if rate != signal.sample_rate:
            raise VerificationError(f"clips are at {rate} Hz, the model works at {signal.sample_rate} Hz")
        magnitude = np.abs(stft(mixture, signal)[:, : signal.n_bins])
        masks.append(separator.predictor(separator.windows(magnitude)))
    return np.concatenate(masks)


class Reference:
    """The float Keras model's masks and scores on a set of clips, computed once.

    Args:
        separator: a :class:`keras_sa.separation.Separator` with the Keras
            backend.
        clips: list of :class:`keras_sa.evaluation.Clip` (mono, at the
            model's rate).
    """

    def __init__(self, separator, clips):
        self.separator = separator
        self.clips = list(clips)
        if not self.clips:
            raise VerificationError("no clips to verify on")
        self.masks = _masks(separator, self.clips)
        self.summary = _gnsdr(separator, self.clips)


def verify(tflite_separator, reference, quantization=None):
    """Compare a TFLite separator with the float reference.

    Args:
        tflite_separator: a :class:`keras_sa.separation.Separator` over a
            :class:`keras_sa.predictors.TFLitePredictor`.
        reference: a :class:`Reference` for the same model.
        quantization: the model's quantization (default: its contract's).

    Returns:
        A report dict: ``quantization``, ``passed``, ``failures`` (why not),
        ``mask_max_abs_error``, ``mask_snr_db``, per source the float and
        TFLite GNSDR and their difference, the tolerances and ``clips``.
    """
    predictor = tflite_separator.predictor
    quantization = quantization or predictor.contract["quantization"]
    ours, theirs = tflite_separator.config.to_dict(), reference.separator.config.to_dict()
    if ours != theirs:
        different = sorted(k for k in ours if ours[k] != theirs.get(k))
        raise VerificationError(f"the TFLite model's config differs from the float model's in: {', '.join(different)}")
    masks = _masks(tflite_separator, reference.clips)
    error = masks.astype(np.float64) - reference.masks
    power = float(np.sum(np.square(reference.masks, dtype=np.float64)))
    noise = float(np.sum(np.square(error)))
    snr = math.inf if noise == 0 else 10 * math.log10(power / noise)
    summary = _gnsdr(tflite_separator, reference.clips)

    tolerance, floor = GNSDR_TOLERANCE_DB[quantization], MASK_SNR_FLOOR_DB[quantization]
    report = {
        "quantization": quantization,
        "clips": len(reference.clips),
        "mask_max_abs_error": float(np.max(np.abs(error))),
        "mask_snr_db": snr,
        "gnsdr_tolerance_db": tolerance,
        "mask_snr_floor_db": floor,
    }
    failures = []
    if not snr >= floor:
        failures.append(f"mask SNR {snr:.1f} dB < {floor:g} dB")
    for source in tflite_separator.signal.sources:
        key = f"{source}_gnsdr"
        delta = summary[key] - reference.summary[key]
        report[f"{source}_gnsdr_float"] = reference.summary[key]
        report[f"{source}_gnsdr"] = summary[key]
        report[f"{source}_gnsdr_delta"] = delta
        if not abs(delta) <= tolerance:
            failures.append(f"{source} GNSDR {delta:+.3f} dB off the float model (tolerance {tolerance:g} dB)")
    report["passed"] = not failures
    report["failures"] = failures
    return report


def describe(report):
    """One line for a verification report."""
    verdict = "PASSED" if report["passed"] else "FAILED: " + "; ".join(report["failures"])
    return (
        f"{report['quantization']:<8} mask SNR {report['mask_snr_db']:6.1f} dB, max error "
        f"{report['mask_max_abs_error']:.4f}; GNSDR vocals {report['vocals_gnsdr']:.3f} dB "
        f"({report['vocals_gnsdr_delta']:+.3f}), accompaniment {report['accompaniment_gnsdr']:.3f} dB "
        f"({report['accompaniment_gnsdr_delta']:+.3f}) on {report['clips']} clips: {verdict}"
    )


def verification_clips(tracks, sample_rate, every=33, limit=0):
    """The fixed subset of test clips a model is verified on: every ``every``-th, at most ``limit``.

    With MIR-1K's 825 test clips and ``every=33``: 25 clips, spread over
    all test singers.
    """
    from keras_sa.evaluation import TrackClips

    chosen = list(tracks)[::every]
    if limit:
        chosen = chosen[:limit]
    return list(TrackClips(chosen, sample_rate))
