"""The ``keras-sa`` command line.

One function per command; TensorFlow and Keras are imported inside the
commands so that ``--help`` answers at once.
"""

import argparse
import logging
import os
import sys


class CommandError(Exception):
    """An error to report on one line, with a non-zero exit."""


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _set_threads(threads):
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def cmd_info(args):
    """Print versions, the backend and the presets with their sizes."""
    _quiet_tensorflow()
    import keras
    import numpy

    import keras_sa
    from keras_sa import models

    print(f"keras_sa {keras_sa.__version__}")
    print(f"keras {keras.__version__} (backend: {keras.backend.backend()})")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        print(f"tensorflow {tf.__version__}")
    print(f"numpy {numpy.__version__}")
    print()
    print(f"{'preset':<16}{'params':>10}{'GMAC/s':>10}  {'rate':>6}  merge")
    for name, config in models.PRESETS.items():
        model = models.build(config)
        per_second = models.count_macs(model) * config.signal.frames_per_second
        per_second /= config.signal.window_hop
        print(
            f"{name:<16}{model.count_params() / 1e6:>9.2f}M{per_second / 1e9:>10.2f}"
            f"  {config.signal.sample_rate:>6}  {config.merge}"
        )
    print("\nGMAC/s: multiply-accumulates per second of audio, window overlap included.")


def _check_tf_config():
    """Raise :class:`CommandError` unless ``TF_CONFIG`` describes this worker's cluster.

    TensorFlow reads ``TF_CONFIG`` itself; it is checked first only so that a
    missing or malformed one gives one clear line instead of a traceback.
    """
    import json

    text = os.environ.get("TF_CONFIG")
    if not text:
        raise CommandError("--distribute multiworker needs TF_CONFIG in the environment")
    try:
        tf_config = json.loads(text)
        if not isinstance(tf_config, dict):
            raise ValueError("not a JSON object")
        cluster, task = tf_config["cluster"], tf_config["task"]
        task_type, index = task["type"], task["index"]
        if task_type not in cluster:
            raise ValueError(f"task type {task_type!r} not in the cluster")
        addresses = cluster[task_type]
        if not isinstance(index, int) or not 0 <= index < len(addresses):
            raise ValueError(f"task index {index!r} not in 0..{len(addresses) - 1}")
        if not all(isinstance(a, str) and ":" in a for jobs in cluster.values() for a in jobs):
            raise ValueError("cluster addresses must be 'host:port' strings")
    except (ValueError, KeyError, TypeError) as error:
        detail = f"no {error} key" if isinstance(error, KeyError) else str(error)
        raise CommandError(f"malformed TF_CONFIG ({detail})") from None


def cmd_train(args):
    """Train a preset or config on a dataset folder."""
    _quiet_tensorflow()
    if args.distribute == "multiworker":
        _check_tf_config()
    _set_threads(args.threads)
    from keras_sa import data, models, training

    try:
        if args.config:
            with open(args.config) as handle:
                config = models.ModelConfig.from_json(handle.read())
        else:
            config = models.get_preset(args.model)
    except (OSError, ValueError, TypeError) as error:
        raise CommandError(f"{args.config or args.model}: {error}") from None
    strategy = None
    if args.distribute == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
    elif args.distribute == "multiworker":
        import tensorflow as tf

        # Created before any other TensorFlow work, as TF requires; the
        # cluster and this worker's role come from TF_CONFIG.
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    try:
        training.train_on_dataset(
            args.data,
            config,
            args.out,
            steps=args.steps,
            batch_size=args.batch_size,
            steps_per_epoch=args.steps_per_epoch,
            learning_rate=args.learning_rate,
            remix_probability=args.remix,
            layout=args.layout,
            seed=args.seed,
            strategy=strategy,
            verbose=2,
        )
    except data.DatasetError as error:
        raise CommandError(str(error)) from None


def _load_separator(name_or_path, **kwargs):
    from keras_sa import pretrained
    from keras_sa.models import ModelFileError
    from keras_sa.separation import Separator

    try:
        return Separator.from_pretrained(name_or_path, **kwargs)
    except (pretrained.UnknownModelError, ModelFileError) as error:
        raise CommandError(str(error)) from None


def cmd_evaluate(args):
    """Score models and baselines on a dataset.

    ``--protocol mir1k`` (default): mono clips at ``--sample-rate`` (16 kHz),
    mixture = (vocals + accompaniment) / 2, BSS Eval v3 GNSDR/GSIR/GSAR
    (length-weighted means over clips).

    ``--protocol musdb``: the MUSDB18 / SiSEC protocol. Each track of the
    ``--subset`` (for MUSDB18 layouts) or stem folder is loaded in stereo at
    its own rate (44.1 kHz for MUSDB18) unless ``--sample-rate`` is given;
    mixture = vocals + accompaniment (a sum, as in MUSDB18); museval (BSS
    Eval v4) SDR/SIR/ISR/SAR, the median over 1 s frames per track; the
    summary is the median over tracks of each metric, the SiSEC convention.
    Baselines run on each channel on their own.
    """
    _quiet_tensorflow()
    _set_threads(args.threads)
    from pathlib import Path

    from keras_sa import data, evaluation

    musdb = args.protocol == "musdb"
    if musdb and args.split:
        raise CommandError("--split is for --protocol mir1k; with musdb use --subset")
    try:
        tracks = data.discover(args.data, layout=args.layout, subset=args.subset)
    except data.DatasetError as error:
        raise CommandError(str(error)) from None
    split = args.split or ("all" if musdb else "test")
    if split != "all":
        train, test = data.mir1k_split(tracks)
        tracks = test if split == "test" else data.validation_split(train)[1]
    if args.every > 1:
        tracks = tracks[:: args.every]
    if args.limit:
        tracks = tracks[: args.limit]
    if not tracks:
        raise CommandError(f"{args.data}: no clips in split {split!r}")

    methods = []
    for name in args.model or []:
        separator = _load_separator(name)
        label, index = separator.config.name, 2
        while label in {taken for taken, _ in methods}:  # the same model name twice
            label, index = f"{separator.config.name}_{index}", index + 1
        # The separator takes (channels, n) as well as (n,): no wrapper for musdb.
        methods.append((label, separator.estimator()))
    baselines = {"irm": evaluation.ideal_ratio_mask, "repet": evaluation.repet_sim}
    if musdb:
        from keras_sa.audio import AudioError, SignalConfig

        # Full-band oracle at MUSDB18's rate with a 4096-point STFT, as the
        # SiSEC oracle IRM; a 16 kHz one would lose everything above 8 kHz.
        irm_config = SignalConfig(sample_rate=44100, n_fft=4096, hop_length=1024)
        baselines = {
            "irm": lambda: evaluation.per_channel(evaluation.ideal_ratio_mask(irm_config)),
            "repet": lambda: evaluation.per_channel(evaluation.repet_sim()),
        }
    for name in args.baseline or []:
        methods.append((name, baselines[name]()))
    if not methods:
        raise CommandError("nothing to evaluate: give --model and/or --baseline")

    out = Path(args.out)
    if musdb:
        rate = args.sample_rate
        print(f"{len(tracks)} tracks, scored at {f'{rate} Hz' if rate else 'their own rate'}")
        for label, estimator in methods:
            clips = evaluation.MusdbClips(tracks, rate)
            try:
                records = evaluation.evaluate_museval(clips, estimator)
            except (data.DatasetError, AudioError) as error:  # a track that cannot be read
                raise CommandError(str(error)) from None
            summary = evaluation.summarize_museval(records)
            evaluation.write_results(records, summary, out, label)
            print(
                f"{label:<20} SDR vocals {summary['vocals_sdr']:6.2f} dB"
                f"  accompaniment {summary['accompaniment_sdr']:6.2f} dB"
                f"  (SIR {summary['vocals_sir']:.2f}, SAR {summary['vocals_sar']:.2f};"
                f" medians, {summary['evaluated']} tracks)"
            )
        return
    rate = args.sample_rate or 16000
    print(f"{len(tracks)} clips, scored at {rate} Hz")
    for label, estimator in methods:
        records = evaluation.evaluate_tracks(evaluation.TrackClips(tracks, rate), estimator)
        summary = evaluation.summarize(records)
        evaluation.write_results(records, summary, out, label)
        print(
            f"{label:<20} GNSDR vocals {summary['vocals_gnsdr']:6.2f} dB"
            f"  accompaniment {summary['accompaniment_gnsdr']:6.2f} dB"
            f"  (GSIR {summary['vocals_gsir']:.2f}, GSAR {summary['vocals_gsar']:.2f};"
            f" {summary['evaluated']} clips)"
        )


def _collect_inputs(paths):
    """Files named, and the audio files directly inside folders named, in order."""
    from pathlib import Path

    from keras_sa.data.tracks import AUDIO_EXTENSIONS

    inputs = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                print(f"keras-sa: warning: {path}: no audio files in folder", file=sys.stderr)
            inputs.extend(found)
        else:
            inputs.append(path)
    return inputs


def cmd_separate(args):
    """Separate songs into vocals and accompaniment files."""
    from pathlib import Path

    if args.backend == "tflite":
        raise CommandError("the tflite backend is not available yet; use --backend keras")
    inputs = _collect_inputs(args.inputs)
    if not inputs:
        raise CommandError("no input files")
    out_root = Path(args.out)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"{out_root}: cannot create output folder ({error.strerror})") from None
    if not os.access(out_root, os.W_OK):
        raise CommandError(f"{out_root}: output folder is not writable")

    _quiet_tensorflow()
    _set_threads(args.threads)
    from tqdm.auto import tqdm

    from keras_sa.audio import AudioError
    from keras_sa.separation import output_paths, separate_file

    separator = _load_separator(args.model)
    failures = 0
    for path in inputs:
        target = out_root / path.stem
        existing = [str(p) for p in output_paths(target, args.format).values() if p.exists()]
        if existing and not args.overwrite:
            print(f"keras-sa: error: {existing[0]}: exists (use --overwrite)", file=sys.stderr)
            failures += 1
            continue
        try:
            with tqdm(unit="sample", unit_scale=True, desc=path.name, disable=args.quiet,
                      leave=False, delay=5) as bar:

                def progress(done, total):
                    bar.total = total
                    bar.update(done - bar.n)

                seconds = separate_file(separator, path, target, args.format, args.max_seconds, progress)
        except (AudioError, OSError) as error:
            print(f"keras-sa: error: {error}", file=sys.stderr)
            failures += 1
            continue
        if not args.quiet:
            print(f"{path} -> {target}/ ({seconds:.1f} s)")
    if failures:
        raise CommandError(f"{failures} of {len(inputs)} input(s) failed")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-sa", description="Singing voice separation with skip attention (SA-SHN)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="versions, backend and model presets")
    info.set_defaults(func=cmd_info)

    train = commands.add_parser("train", help="train a model on a dataset folder")
    train.add_argument("data", help="dataset folder (MIR-1K stems or Wavfile, stem folders, MUSDB18)")
    train.add_argument("-o", "--out", required=True, help="run folder (resumed if it exists)")
    train.add_argument("--model", default="sa_shn_mobile", help="preset name (default: %(default)s)")
    train.add_argument("--config", help="model config JSON instead of a preset")
    train.add_argument("--layout", default="auto", choices=["auto", "mir1k-wav", "stems", "musdb", "musdb-wav"])
    train.add_argument("--steps", type=int, default=10000)
    train.add_argument("--steps-per-epoch", type=int, default=250)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--remix", type=float, default=0.5, help="probability of a remixed example")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    train.add_argument(
        "--distribute", choices=["none", "mirrored", "multiworker"], default="none",
        help="multiworker: one process per worker, cluster and role from TF_CONFIG "
        "(see scripts/train_multiworker.py); --batch-size is then the global batch",
    )
    train.set_defaults(func=cmd_train)

    separate = commands.add_parser("separate", help="separate songs into vocals and accompaniment")
    separate.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders of them")
    separate.add_argument("-o", "--out", required=True, help="output folder: OUT/<input name>/vocals.<fmt>, ...")
    separate.add_argument("--model", default="default", help="bundled model name or .keras file")
    separate.add_argument("--backend", default="keras", choices=["keras", "tflite"])
    separate.add_argument("--format", default="wav", choices=["wav", "flac"])
    separate.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    separate.add_argument("--max-seconds", type=float, default=3 * 3600,
                          help="refuse longer inputs (default: %(default)s)")
    separate.add_argument("--threads", type=int, default=0)
    separate.add_argument("-q", "--quiet", action="store_true")
    separate.set_defaults(func=cmd_separate)

    evaluate = commands.add_parser(
        "evaluate", help="MIR-1K (GNSDR/GSIR/GSAR) or MUSDB18 (museval SDR/SIR/ISR/SAR) scores"
    )
    evaluate.add_argument("data", help="dataset folder")
    evaluate.add_argument("-o", "--out", required=True, help="folder for per-clip CSV and summary JSON")
    evaluate.add_argument("--model", action="append", help="model name or .keras file (repeatable)")
    evaluate.add_argument(
        "--baseline", action="append", choices=["irm", "repet"],
        help="ideal ratio mask (ceiling) or REPET-SIM (classical floor); repeatable",
    )
    evaluate.add_argument(
        "--protocol", default="mir1k", choices=["mir1k", "musdb"],
        help="mir1k: mono, mixture = (v + a) / 2, GNSDR; musdb: stereo at the track's rate, "
        "mixture = v + a, museval medians (default: %(default)s)",
    )
    evaluate.add_argument("--split", choices=["test", "validation", "all"],
                          help="mir1k protocol: MIR-1K test singers (default), the held-out "
                          "validation songs, or every clip")
    evaluate.add_argument("--subset", default="test", choices=["train", "test"],
                          help="MUSDB18 subset, for musdb layouts (default: %(default)s)")
    evaluate.add_argument("--layout", default="auto",
                          choices=["auto", "mir1k-wav", "stems", "musdb", "musdb-wav"])
    evaluate.add_argument("--sample-rate", type=int,
                          help="rate the clips are scored at (default: 16000 for mir1k, "
                          "each track's own rate for musdb)")
    evaluate.add_argument("--every", type=int, default=1, help="take every N-th clip (quick checks)")
    evaluate.add_argument("--limit", type=int, default=0, help="at most this many clips")
    evaluate.add_argument("--threads", type=int, default=0)
    evaluate.set_defaults(func=cmd_evaluate)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "train" else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        args.func(args)
    except CommandError as error:
        print(f"keras-sa: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
