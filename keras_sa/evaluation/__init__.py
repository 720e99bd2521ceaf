"""Evaluation: the MIR-1K and MUSDB18 protocols, their metrics, and floors and ceilings.

- :mod:`.protocols`: the scores (BSS Eval v3 and v4), the protocol runners
  (:func:`evaluate_tracks`, :func:`evaluate_museval`), their summaries and
  result files;
- :mod:`.baselines`: the estimators that bound a model: the ideal ratio mask
  (ceiling), REPET-SIM (classical floor) and the mixture itself;
- :mod:`.clips`: the clips that the protocols score, decoded from tracks.

The scores are the standard implementations, not re-implementations:
``mir_eval.separation.bss_eval_sources`` (BSS Eval v3, as used by the SHN and
Skip Attention papers on MIR-1K) and ``museval`` (BSS Eval v4, the SiSEC /
MUSDB18 convention).

MIR-1K protocol (see ``../shared/data/README.md``):

- mixture = (vocals + accompaniment) / 2, built by the data layer, not here;
- NSDR = SDR(estimate, reference) - SDR(mixture, reference), per clip and
  source;
- GNSDR, GSIR, GSAR = means over clips weighted by clip length in samples.

MUSDB18 / SiSEC protocol (:func:`evaluate_museval`, :func:`summarize_museval`):

- stereo sources at the track's own rate (44.1 kHz for MUSDB18); mixture =
  vocals + accompaniment, the MUSDB18 convention (a sum, not half);
- BSS Eval v4 (museval) SDR, SIR, ISR, SAR on 1 s frames, the median over
  frames per track, then the median over tracks.

An *estimator* is any callable ``estimator(mixture, references)`` returning
``{"vocals": (n,), "accompaniment": (n,)}`` for a mono float32 ``(n,)``
mixture (``(channels, n)`` in and out under the MUSDB18 protocol; see
:func:`per_channel`). ``references`` holds the true sources so that oracle methods can
use them; learned or blind estimators must ignore it. An estimator that also
accepts a ``sample_rate`` keyword is told the clip's rate (the baselines
below use it to work at their own :class:`SignalConfig` rate); a plain
two-argument callable is assumed to work at whatever rate it is given.

How degenerate clips are handled (no score is ever faked by adding noise or
an epsilon to the signals):

- a clip with an all-zero reference is *skipped*: BSS Eval is undefined for
  it (mir_eval refuses it). It is logged, kept in the records with
  ``status="skipped"`` and NaN scores, and counted in the summary;
- a clip whose estimates cannot be scored (an all-zero estimate, which
  mir_eval refuses, non-finite samples, or a singular projection) is
  *failed*: logged, kept with ``status="failed"`` and NaN scores, excluded
  from the means and counted in the summary.
"""

from keras_sa.evaluation.baselines import ideal_ratio_mask, mixture_baseline, repet_sim
from keras_sa.evaluation.clips import Clip, MusdbClips, TrackClips
from keras_sa.evaluation.protocols import (
    SOURCES,
    SilentReferenceError,
    bss_eval,
    evaluate_museval,
    evaluate_tracks,
    museval_scores,
    per_channel,
    summarize,
    summarize_museval,
    write_results,
)

__all__ = [
    "SOURCES",
    "Clip",
    "MusdbClips",
    "SilentReferenceError",
    "TrackClips",
    "bss_eval",
    "evaluate_museval",
    "evaluate_tracks",
    "ideal_ratio_mask",
    "mixture_baseline",
    "museval_scores",
    "per_channel",
    "repet_sim",
    "summarize",
    "summarize_museval",
    "write_results",
]
