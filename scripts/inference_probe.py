"""Score inference variants offline: overlap-averaged window masks and model ensembles.

    python scripts/inference_probe.py ../shared/data/mir1k --singers abjones \\
        --model runs/cross_singer/vs03/amy/last.keras --window-hop 16 --average hann -o DIR

The product keeps, of each model window, the ``window_hop`` frames after its
``window_margin`` (``Separator.window_masks``). Here each frame's masks can
instead be the average over every window that covers it, each window's frames
weighted by a Hann window (``--average hann``) or equally (``mean``), at any
window hop; several ``--model`` files average their masks too (an ensemble,
e.g. the SA model and its ``add`` twin). ``--average keep`` scores the product's
own path (``Separator.separate``), of one model or of the masks of several
averaged window by window, at the models' window hop and margin, or at
``--window-hop`` and ``--margin`` when both are given (what a new streaming
latency would cost). The
estimates are scored with mir_eval on MIR-1K clips, as ``keras-sa evaluate``
does, and written in its per-clip format for ``scripts/compare_clips.py``.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np


def averaged_masks(separators, magnitude, hop, weighting):
    """``(frames, n_bins, n_sources)`` masks averaged over overlapping windows and models."""
    signal = separators[0].signal
    patch = signal.patch_frames
    frames = magnitude.shape[0]
    count = -(-(frames + patch - hop) // hop)
    # Every frame is covered by patch / hop windows, the first and last too.
    padded = np.pad(magnitude, ((patch - hop, count * hop + hop - frames), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, patch, axis=0)[::hop][:count]
    from keras_sa.audio.signal import model_input

    features, _ = model_input(np.swapaxes(windows, 1, 2), signal)
    weights = np.hanning(patch + 2)[1:-1] if weighting == "hann" else np.ones(patch)
    total = np.zeros((padded.shape[0], magnitude.shape[1], len(signal.sources)))
    norm = np.zeros(padded.shape[0])
    for separator in separators:
        predicted = separator.predictor(features.astype(np.float32))
        for i, masks in enumerate(predicted):
            total[i * hop : i * hop + patch] += weights[:, None, None] * masks
            norm[i * hop : i * hop + patch] += weights
    masks = total / np.maximum(norm, 1e-12)[:, None, None]
    return masks[patch - hop : patch - hop + frames]


class MeanPredictor:
    """Several predictors as one, their masks averaged: an ensemble on the product's window path."""

    def __init__(self, predictors):
        self.predictors = list(predictors)
        self.config = self.predictors[0].config

    def __call__(self, features):
        return np.mean([predictor(features) for predictor in self.predictors], axis=0)


def estimator(separators, hop, weighting):
    from keras_sa.audio.signal import istft, stft
    from keras_sa.streaming import vocal_shares

    signal = separators[0].signal

    def estimate(mixture, references=None, sample_rate=None):
        if (sample_rate or signal.sample_rate) != signal.sample_rate:
            raise ValueError("this probe scores clips at the model's own rate only")
        mixture = np.asarray(mixture, np.float32)
        spectrum = stft(mixture, signal)
        masks = averaged_masks(separators, np.abs(spectrum[:, : signal.n_bins]), hop, weighting)
        vocals = istft(vocal_shares(masks, spectrum.shape[1]) * spectrum, signal, len(mixture))
        return {"vocals": vocals, "accompaniment": mixture - vocals}

    return estimate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="MIR-1K stems folder")
    parser.add_argument("--model", action="append", required=True, help=".keras file (repeatable)")
    parser.add_argument("--singers", required=True, help="score every clip of these singers")
    parser.add_argument("--window-hop", type=int, help="frames between windows (default 16; "
                        "with --average keep, the model's own)")
    parser.add_argument("--margin", type=int, help="with --average keep: frames before the kept ones")
    parser.add_argument("--average", choices=["hann", "mean", "keep"], default="hann")
    parser.add_argument("--label", help="file name prefix of the scores (default: from the options)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    parser.add_argument("-o", "--out", required=True)
    args = parser.parse_args(argv)

    from keras_sa.cli.common import set_threads

    set_threads(args.threads)

    from keras_sa import data, evaluation
    from keras_sa.separation import Separator

    separators = [Separator.from_file(path, backend="keras") for path in args.model]
    if len({s.signal for s in separators}) != 1:
        parser.error("the models of an ensemble must share one signal contract")
    patch = separators[0].signal.patch_frames
    if args.average == "keep":
        separator = separators[0]
        if len(separators) > 1:
            separator = Separator(MeanPredictor(s.predictor for s in separators))
        if (args.window_hop is None) != (args.margin is None):
            parser.error("--average keep takes --window-hop and --margin together")
        if args.window_hop is not None:
            if args.window_hop < 1 or args.margin < 0 or args.window_hop + args.margin > patch:
                parser.error(f"--window-hop + --margin must fit the {patch}-frame window")
            separator.signal = dataclasses.replace(
                separator.signal, window_hop=args.window_hop, window_margin=args.margin
            )
        estimate = separator.estimator()
    else:
        if args.margin is not None:
            parser.error("--margin applies to --average keep only")
        args.window_hop = args.window_hop or 16
        if patch % args.window_hop:
            parser.error(f"--window-hop must divide the {patch}-frame window")
        estimate = estimator(separators, args.window_hop, args.average)
    tracks = data.mir1k_split(data.discover(args.data), tuple(args.singers.split(",")))[0]
    records = evaluation.evaluate_tracks(evaluation.TrackClips(tracks, 16000), estimate)
    summary = evaluation.summarize(records)
    if args.average == "keep":
        signal = separator.signal
        default = f"keep{signal.window_hop}m{signal.window_margin}"
        if len(separators) > 1:
            default += f"_{len(separators)}models"
    else:
        default = f"{args.average}{args.window_hop}_{len(separators)}models"
    label = args.label or default
    evaluation.write_results(records, summary, Path(args.out), label)
    print(
        f"{label}: GNSDR vocals {summary['vocals_gnsdr']:.2f} dB, accompaniment "
        f"{summary['accompaniment_gnsdr']:.2f} dB ({summary['evaluated']} clips)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
