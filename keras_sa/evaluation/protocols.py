"""The MIR-1K and MUSDB18 protocols: scoring clips, summarizing, writing results.

See :mod:`keras_sa.evaluation` for the protocols' definitions, what an
estimator is, and how degenerate clips are handled.
"""

import collections
import csv
import functools
import importlib.util
import inspect
import json
import logging
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger("keras_sa.evaluation")

SOURCES = ("vocals", "accompaniment")
_BSS_METRICS = ("sdr", "sir", "sar", "nsdr", "mixture_sdr")


class SilentReferenceError(ValueError):
    """A reference source is all zeros, so BSS Eval is undefined for the clip."""


# ----------------------------------------------------------------------------
# metrics


def _stack(signals, sources):
    return np.stack([np.asarray(signals[s], dtype=np.float64) for s in sources])


def bss_eval(references, estimates, mixture, sources=SOURCES):
    """BSS Eval v3 scores of one clip, and NSDR against the mixture.

    Args:
        references: ``{source: (n,)}`` true sources.
        estimates: ``{source: (n,)}`` estimated sources.
        mixture: ``(n,)`` mixture; it is scored as the estimate of every
            source to give the NSDR baseline.
        sources: which sources to score, in this order.

    Returns:
        ``{f"{source}_{metric}": float}`` for metric in ``sdr``, ``sir``,
        ``sar``, ``nsdr`` (SDR of the estimate minus SDR of the mixture) and
        ``mixture_sdr``.

    Raises:
        SilentReferenceError: a reference is all zeros.
        ValueError: mir_eval refuses the estimates (e.g. one is all zeros) or
            shapes disagree.
    """
    from mir_eval.separation import bss_eval_sources

    ref = _stack(references, sources)
    est = _stack(estimates, sources)
    silent = [s for s, r in zip(sources, ref) if not np.any(r)]
    if silent:
        raise SilentReferenceError(f"silent reference(s): {', '.join(silent)}")
    mix = np.broadcast_to(np.asarray(mixture, dtype=np.float64), ref.shape)
    with warnings.catch_warnings():
        # mir_eval 0.8 flags its separation module for removal in 0.9 on
        # every call; it is the pinned reference implementation of the
        # papers' protocol, so the known notice is silenced here only.
        warnings.filterwarnings(
            "ignore", message=r"mir_eval\.separation\.", category=FutureWarning
        )
        # The estimate of row i is meant for source i, so no permutation
        # search: letting mir_eval re-assign sources would flatter a
        # separator that swaps them.
        sdr, sir, sar, _ = bss_eval_sources(ref, est, compute_permutation=False)
        mix_sdr, _, _, _ = bss_eval_sources(ref, np.array(mix), compute_permutation=False)
    scores = {}
    for i, source in enumerate(sources):
        scores[f"{source}_sdr"] = float(sdr[i])
        scores[f"{source}_sir"] = float(sir[i])
        scores[f"{source}_sar"] = float(sar[i])
        scores[f"{source}_nsdr"] = float(sdr[i] - mix_sdr[i])
        scores[f"{source}_mixture_sdr"] = float(mix_sdr[i])
    return scores


def _accepts_sample_rate(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "sample_rate" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params
    )


def _bss_score(references, estimates, mixture, rate, sources):
    return bss_eval(references, estimates, mixture, sources)


def _set_status(record, status, note):
    """Mark a clip's record as not scored, with why, and say so in the log."""
    record["status"] = status
    record["note"] = note
    log.warning("%s %s: %s", record["name"], status, note)


def evaluate_tracks(tracks, estimator, sample_rate=16000, progress=True, sources=SOURCES, jobs=1):
    """Run ``estimator`` on every clip and score it with :func:`bss_eval`.

    Args:
        tracks: iterable of :class:`Clip` or ``(name, mixture, references,
            rate)`` tuples. Scores are computed at each clip's own rate.
        estimator: see the module docstring.
        sample_rate: rate assumed for a clip whose rate is ``None``.
        progress: show a tqdm progress bar.
        sources: the sources to score.
        jobs: worker processes that score clips while this process runs
            the estimator on the next ones (1: score here, one clip at a
            time). The records are the same either way.

    Returns:
        A list of per-clip records: ``name``, ``length`` (samples),
        ``sample_rate``, ``status`` (``"ok"``, ``"skipped"`` or
        ``"failed"``), the :func:`bss_eval` scores (NaN unless ok) and
        ``note`` (why a clip was skipped or failed, else empty).

    Raises:
        ValueError: the mixture is not mono, or the estimator returned
            estimates of the wrong shape (a bug, not a property of the clip).
    """
    score = functools.partial(_bss_score, sources=sources)
    return _evaluate(tracks, estimator, score, _BSS_METRICS, False, sample_rate, progress,
                     sources, "nsdr", jobs)


def _evaluate(clips, estimator, score, metrics, stereo, sample_rate, progress, sources, shown,
              jobs=1):
    """The per-clip loop of both protocols: estimate, check, score, record.

    Args:
        clips: iterable of :class:`Clip` (or equivalent tuples).
        estimator: see the module docstring.
        score: ``score(references, estimates, mixture, rate) -> {key: float}``;
            may raise ``ValueError`` or ``LinAlgError`` for an unscorable clip.
            With ``jobs > 1`` it must be picklable (a module-level function).
        metrics: metric names; records hold ``f"{source}_{metric}"``.
        stereo: mixtures are ``(channels, n)`` (else mono ``(n,)``).
        sample_rate: rate assumed for a clip whose rate is ``None``.
        progress: show a tqdm progress bar.
        sources: the sources to score.
        shown: metric of the vocals shown on the progress bar.
        jobs: processes that score (see :func:`evaluate_tracks`).

    Returns:
        The per-clip records (see :func:`evaluate_tracks`; stereo records
        also hold ``channels``).
    """
    from tqdm.auto import tqdm

    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    pass_rate = _accepts_sample_rate(estimator)
    total = len(clips) if hasattr(clips, "__len__") else None
    records = []
    bar = tqdm(clips, total=total, disable=not progress, desc="evaluating", unit="clip")

    def finish(record, scores):
        """Fill ``record`` from ``scores()``, or mark it failed."""
        try:
            record.update(scores())
        except (ValueError, np.linalg.LinAlgError) as error:
            _set_status(record, "failed", str(error).split(".")[0])
            return
        if progress and "vocals" in sources:
            bar.set_postfix({f"vocals_{shown}": f"{record[f'vocals_{shown}']:.2f}"})

    executor, pending = None, collections.deque()
    if jobs > 1:
        import concurrent.futures
        import multiprocessing

        # Spawned, not forked: a fork would copy this process's running
        # TensorFlow threads; the workers import numpy and the metrics only.
        executor = concurrent.futures.ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn")
        )
    try:
        for clip in bar:
            name, mixture, references, rate = clip
            rate = int(rate) if rate is not None else int(sample_rate)
            mixture = np.asarray(mixture, dtype=np.float32)
            if mixture.ndim != (2 if stereo else 1):
                expected = "(channels, n)" if stereo else "mono (n,)"
                raise ValueError(f"{name}: mixture must be {expected}, got {mixture.shape}")
            record = {"name": name, "length": mixture.shape[-1], "sample_rate": rate}
            if stereo:
                record["channels"] = mixture.shape[0]
            record["status"] = "ok"
            record.update({f"{s}_{m}": math.nan for s in sources for m in metrics})
            record["note"] = ""
            records.append(record)

            silent = [s for s in sources if not np.any(np.asarray(references[s]))]
            if silent:
                _set_status(record, "skipped", f"silent reference: {', '.join(silent)}")
                continue

            if pass_rate:
                estimates = estimator(mixture, references, sample_rate=rate)
            else:
                estimates = estimator(mixture, references)
            for s in sources:
                shape = np.shape(estimates[s])
                if shape != mixture.shape:
                    raise ValueError(
                        f"{name}: estimate {s!r} has shape {shape}, expected {mixture.shape}"
                    )
            bad = [s for s in sources if not np.all(np.isfinite(estimates[s]))]
            if bad:
                _set_status(record, "failed", f"non-finite estimate: {', '.join(bad)}")
                continue
            if executor is None:
                finish(record, functools.partial(score, references, estimates, mixture, rate))
                continue
            pending.append((record, executor.submit(score, references, estimates, mixture, rate)))
            # A few clips in flight per worker keep them busy without holding
            # every clip's estimates in memory.
            while len(pending) > 2 * jobs:
                done, future = pending.popleft()
                finish(done, future.result)
        while pending:
            done, future = pending.popleft()
            finish(done, future.result)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return records


def summarize(records):
    """Global (length-weighted) and plain means over evaluated clips.

    Args:
        records: per-clip records as returned by :func:`evaluate_tracks`
            (records without a ``status`` count as ok).

    Returns:
        For each source ``s``: ``s_gnsdr``, ``s_gsir``, ``s_gsar``,
        ``s_gsdr`` (means weighted by ``length``), ``s_mean_nsdr`` and
        ``s_mean_sdr`` (plain means); NaN scores are left out of the means.
        Also ``clips`` (all records), ``evaluated`` (status ok), ``skipped``,
        ``failed`` and ``total_length`` (samples of the evaluated clips).
    """
    statuses = [r.get("status", "ok") for r in records]
    ok = [r for r, status in zip(records, statuses) if status == "ok"]
    sources = []
    for r in records:
        for key in r:
            if key.endswith("_nsdr") and key[: -len("_nsdr")] not in sources:
                sources.append(key[: -len("_nsdr")])

    def mean(key, weighted):
        pairs = [(r[key], r["length"]) for r in ok if not math.isnan(r.get(key, math.nan))]
        if not pairs:
            return math.nan
        values, lengths = np.array(pairs, dtype=np.float64).T
        return float(np.average(values, weights=lengths if weighted else None))

    summary = {}
    for s in sources:
        summary[f"{s}_gnsdr"] = mean(f"{s}_nsdr", True)
        summary[f"{s}_gsir"] = mean(f"{s}_sir", True)
        summary[f"{s}_gsar"] = mean(f"{s}_sar", True)
        summary[f"{s}_gsdr"] = mean(f"{s}_sdr", True)
        summary[f"{s}_mean_nsdr"] = mean(f"{s}_nsdr", False)
        summary[f"{s}_mean_sdr"] = mean(f"{s}_sdr", False)
    summary["clips"] = len(records)
    summary["evaluated"] = len(ok)
    summary["skipped"] = statuses.count("skipped")
    summary["failed"] = statuses.count("failed")
    summary["total_length"] = int(sum(r["length"] for r in ok))
    return summary


def _json_safe(value):
    # Strict JSON has no NaN; null says "no score" just as plainly.
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_results(records, summary, out_dir, label):
    """Write ``<label>_clips.csv`` (one row per clip) and ``<label>_summary.json``.

    Args:
        records: per-clip records from :func:`evaluate_tracks`.
        summary: the dict from :func:`summarize`.
        out_dir: folder to write into; created if missing.
        label: file name prefix, e.g. the method's name.

    Returns:
        ``(csv_path, json_path)``.
    """
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, f"{label}_clips.csv")
    json_path = os.path.join(out_dir, f"{label}_summary.json")
    fields = []
    for r in records:
        fields.extend(k for k in r if k not in fields)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(records)
    with open(json_path, "w") as f:
        json.dump({k: _json_safe(v) for k, v in summary.items()}, f, indent=2)
        f.write("\n")
    return csv_path, json_path


# ----------------------------------------------------------------------------
# MUSDB18 / SiSEC


def _museval_metrics():
    """museval's ``metrics`` module (BSS Eval v4), loaded without the museval package.

    ``import museval`` runs its ``__init__``, which imports musdb and so
    stempeg, and stempeg refuses to load without ffmpeg. The metrics module
    itself needs only numpy and scipy, and scoring WAV data must not need
    ffmpeg, so it is loaded from its file on its own.
    """
    module = sys.modules.get(_MUSEVAL_METRICS_MODULE)
    if module is None:
        package = importlib.util.find_spec("museval")  # finds, does not import
        if package is None or not package.submodule_search_locations:
            raise RuntimeError("museval is not installed")
        path = Path(next(iter(package.submodule_search_locations))) / "metrics.py"
        spec = importlib.util.spec_from_file_location(_MUSEVAL_METRICS_MODULE, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[_MUSEVAL_METRICS_MODULE] = module
    return module


_MUSEVAL_METRICS_MODULE = "keras_sa._museval_metrics"


def museval_scores(references, estimates, rate, window_seconds=1.0, hop_seconds=1.0):
    """BSS Eval v4 (museval) scores, SiSEC style: median over 1 s frames.

    Args:
        references: ``{source: (n, channels)}`` true sources (``(n,)`` is
            taken as mono).
        estimates: ``{source: (n, channels)}``, same keys and shapes.
        rate: sample rate in Hz.
        window_seconds, hop_seconds: framing of the metrics.

    Returns:
        ``{f"{source}_{metric}": float}`` for metric in ``sdr``, ``sir``,
        ``isr``, ``sar``: medians over frames, ignoring frames where a score
        is undefined (silent reference); NaN if every frame is.
    """
    names = list(references)

    def stack(signals):
        arrays = [np.asarray(signals[k], dtype=np.float64) for k in names]
        return np.stack([a[:, np.newaxis] if a.ndim == 1 else a for a in arrays])

    ref, est = stack(references), stack(estimates)
    if ref.shape != est.shape:
        raise ValueError(f"references {ref.shape} and estimates {est.shape} differ")
    # What museval.evaluate(mode="v4") runs; its padding is a no-op here, the shapes being equal.
    sdr, isr, sir, sar, _ = _museval_metrics().bss_eval(
        ref,
        est,
        compute_permutation=False,
        window=int(window_seconds * rate),
        hop=int(hop_seconds * rate),
        framewise_filters=False,
        bsseval_sources_version=False,
    )
    scores = {}
    for i, name in enumerate(names):
        for metric, values in (("sdr", sdr), ("sir", sir), ("isr", isr), ("sar", sar)):
            frames = np.asarray(values[i], dtype=np.float64)
            frames = frames[~np.isnan(frames)]
            scores[f"{name}_{metric}"] = float(np.median(frames)) if frames.size else math.nan
    return scores


_MUSEVAL_METRICS = ("sdr", "sir", "isr", "sar")


def per_channel(estimator):
    """A mono estimator made stereo: it runs on each channel on its own.

    Channel ``c`` of the mixture is separated with channel ``c`` of the
    references, so oracle baselines (the IRM) stay per-channel oracles.

    Args:
        estimator: a mono estimator (see the module docstring).

    Returns:
        An estimator ``(mixture (channels, n), references, sample_rate=None)``
        returning ``(channels, n)`` estimates.
    """
    pass_rate = _accepts_sample_rate(estimator)

    def stereo(mixture, references, sample_rate=None):
        kwargs = {"sample_rate": sample_rate} if pass_rate else {}
        channels = [
            estimator(mixture[c], {k: np.asarray(v)[c] for k, v in references.items()}, **kwargs)
            for c in range(mixture.shape[0])
        ]
        return {k: np.stack([estimates[k] for estimates in channels]) for k in channels[0]}

    return stereo


def _museval_score(references, estimates, mixture, rate, sources):
    # museval wants (n, channels).
    return museval_scores({s: np.asarray(references[s]).T for s in sources},
                          {s: np.asarray(estimates[s]).T for s in sources}, rate)


def evaluate_museval(clips, estimator, progress=True, sources=SOURCES, jobs=1):
    """MUSDB18 / SiSEC protocol: museval scores of every stereo clip.

    Args:
        clips: iterable of :class:`Clip` with ``(channels, n)`` mixtures and
            references, e.g. :class:`MusdbClips`. Each is scored at its rate.
        estimator: ``estimator(mixture, references[, sample_rate=])``
            returning ``(channels, n)`` estimates (a
            :class:`keras_sa.separation.Separator` estimator, or a mono one
            wrapped in :func:`per_channel`).
        progress: show a tqdm progress bar.
        sources: the sources to score.
        jobs: processes that score (see :func:`evaluate_tracks`).

    Returns:
        A list of per-track records: ``name``, ``length`` (samples),
        ``sample_rate``, ``channels``, ``status`` (as in
        :func:`evaluate_tracks`), ``f"{source}_{metric}"`` for metric in
        ``sdr``, ``sir``, ``isr``, ``sar`` (the median over 1 s frames, see
        :func:`museval_scores`; NaN unless ok) and ``note``.

    Raises:
        ValueError: a mixture is not ``(channels, n)``, or the estimator
            returned estimates of another shape.
    """
    score = functools.partial(_museval_score, sources=sources)
    return _evaluate(clips, estimator, score, _MUSEVAL_METRICS, True, None, progress, sources,
                     "sdr", jobs)


def summarize_museval(records):
    """SiSEC summary: for each metric, the median over tracks.

    Each track's score is already the median over its 1 s frames
    (:func:`museval_scores`); the median over tracks of those is the number
    SiSEC 2018 and the MUSDB18 literature report.

    Args:
        records: per-track records from :func:`evaluate_museval`.

    Returns:
        ``f"{source}_{metric}"`` medians over the ok tracks (NaN scores left
        out; NaN if none is left), and ``tracks``, ``evaluated``,
        ``skipped``, ``failed`` counts.
    """
    statuses = [r.get("status", "ok") for r in records]
    ok = [r for r, status in zip(records, statuses) if status == "ok"]
    keys = []
    for r in records:
        keys.extend(k for k in r if k.rsplit("_", 1)[-1] in _MUSEVAL_METRICS and k not in keys)
    summary = {}
    for key in keys:
        values = np.array([r[key] for r in ok], dtype=np.float64)
        values = values[~np.isnan(values)]
        summary[key] = float(np.median(values)) if values.size else math.nan
    summary["tracks"] = len(records)
    summary["evaluated"] = len(ok)
    summary["skipped"] = statuses.count("skipped")
    summary["failed"] = statuses.count("failed")
    return summary
