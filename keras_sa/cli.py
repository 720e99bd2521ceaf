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


def _positive_int(text):
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _set_threads(threads):
    if threads:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already running in this process (main() called twice)
            logging.getLogger(__name__).warning("--threads ignored: TensorFlow is already initialized")


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
    from keras_sa import data, models, pretrained, training

    initial_model = None
    if args.init:
        try:
            initial_model = pretrained.resolve(args.init)
            init_config = models.read_config(initial_model)
        except (pretrained.UnknownModelError, models.ModelFileError) as error:
            raise CommandError(f"--init: {error}") from None
    try:
        if args.init and not args.config and args.model is None:
            config = init_config
        elif args.config:
            with open(args.config) as handle:
                config = models.ModelConfig.from_json(handle.read())
        else:
            config = models.get_preset(args.model or "sa_shn_mobile")
    except (OSError, ValueError, TypeError) as error:
        raise CommandError(f"{args.config or args.model}: {error}") from None
    if args.init and config != init_config:
        raise CommandError(
            f"--init {args.init}: that model is a {init_config.name}, not the {config.name} to train"
        )
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
            initial_model=initial_model,
            verbose=2,
        )
    except (data.DatasetError, training.ResumeStateError, models.ModelFileError) as error:
        raise CommandError(str(error)) from None


def _load_separator(name_or_path, backend="keras", threads=None):
    from keras_sa import pretrained
    from keras_sa.models import ModelFileError
    from keras_sa.predictors import TFLiteModelError
    from keras_sa.separation import Separator

    try:
        return Separator.from_pretrained(name_or_path, backend=backend, threads=threads)
    except (pretrained.UnknownModelError, ModelFileError, TFLiteModelError) as error:
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
                records = evaluation.evaluate_museval(clips, estimator, jobs=args.jobs)
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
        records = evaluation.evaluate_tracks(
            evaluation.TrackClips(tracks, rate), estimator, jobs=args.jobs
        )
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
    if args.backend == "keras":  # the tflite backend runs without importing TensorFlow
        _set_threads(args.threads)
    from tqdm.auto import tqdm

    from keras_sa.audio import AudioError
    from keras_sa.separation import output_paths, separate_file

    separator = _load_separator(args.model, args.backend, args.threads or None)
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


def _dataset_splits(root):
    from keras_sa import data

    try:
        return data.train_test_split(root)
    except data.DatasetError as error:
        raise CommandError(str(error)) from None


def _load_float_model(name_or_path):
    from keras_sa import pretrained
    from keras_sa.models import ModelFileError, load_model

    try:
        return load_model(pretrained.resolve(name_or_path))
    except (pretrained.UnknownModelError, ModelFileError) as error:
        raise CommandError(str(error)) from None


def _verification_reference(model, config, test_tracks, args):
    from keras_sa.export import verify
    from keras_sa.predictors import KerasPredictor
    from keras_sa.separation import Separator

    clips = verify.verification_clips(test_tracks, config.signal.sample_rate, args.every, args.limit)
    print(f"verifying on {len(clips)} test clips (every {args.every}-th)", file=sys.stderr)
    return verify.Reference(Separator(KerasPredictor(model, config)), clips)


def _write_report(report, path):
    import json
    from pathlib import Path

    if path:
        Path(path).write_text(json.dumps(report, indent=2) + "\n")


def cmd_export_tflite(args):
    """Convert a model to TFLite, verify it against the float model, and write it if it passes."""
    from pathlib import Path

    out = Path(args.out)
    if out.suffix != ".tflite":
        raise CommandError(f"{out}: the output must end in .tflite")
    for existing in (out, out.with_suffix(".json")):
        if existing.exists() and not args.overwrite:
            raise CommandError(f"{existing}: exists (use --overwrite)")
    if args.data is None and (args.quantization == "int8" or not args.no_verify):
        raise CommandError(
            "--data is needed: a dataset folder whose training clips calibrate int8 and whose test "
            "clips verify the model (or --no-verify for a float model)"
        )
    _quiet_tensorflow()
    from keras_sa import data
    from keras_sa.export import tflite, verify

    model, config = _load_float_model(args.model)
    train, test = _dataset_splits(args.data) if args.data else (None, None)
    calibration = None
    if args.quantization == "int8":
        sources = data.load_sources(train[:: args.calibration_every], config.signal.sample_rate)
        calibration = tflite.calibration_windows(sources, config.signal, count=args.calibration_windows)
    reference = None if args.no_verify else _verification_reference(model, config, test, args)
    try:
        report = tflite.export(model, config, args.quantization, out, calibration, reference,
                               threads=args.threads or None, overwrite=args.overwrite)
    except (OSError, ValueError) as error:
        raise CommandError(str(error)) from None
    _write_report(report, args.report)
    if report["verified"]:
        print(verify.describe(report))
    if not report["passed"]:
        raise CommandError(f"{out}: not written: " + "; ".join(report["failures"]))
    print(f"{out} ({report['size_bytes'] / 1e6:.2f} MB, {args.quantization}) and {out.with_suffix('.json')}")


def cmd_verify_tflite(args):
    """Verify TFLite models against their float Keras model; exit 1 if any fails."""
    _quiet_tensorflow()
    from keras_sa.export import verify
    from keras_sa.predictors import TFLiteModelError, TFLitePredictor
    from keras_sa.separation import Separator

    model, config = _load_float_model(args.model)
    try:
        candidates = [Separator(TFLitePredictor(path, threads=args.threads or None)) for path in args.models]
    except TFLiteModelError as error:
        raise CommandError(str(error)) from None
    for path, separator in zip(args.models, candidates):
        if separator.config != config:
            raise CommandError(f"{path}: converted from another model than {args.model} (configs differ)")
    _, test = _dataset_splits(args.data)
    reference = _verification_reference(model, config, test, args)
    reports = {}
    for path, separator in zip(args.models, candidates):
        try:
            reports[path] = verify.verify(separator, reference)
        except verify.VerificationError as error:
            raise CommandError(f"{path}: {error}") from None
        print(f"{path}: {verify.describe(reports[path])}")
    _write_report(reports, args.report)
    failed = [path for path, report in reports.items() if not report["passed"]]
    if failed:
        raise CommandError(f"{len(failed)} of {len(reports)} model(s) failed verification: {', '.join(failed)}")


def _add_verification_options(parser):
    parser.add_argument("--every", type=int, default=33,
                        help="verify on every N-th test clip (default: %(default)s: 25 of MIR-1K's 825)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many verification clips")
    parser.add_argument("--threads", type=int, default=0, help="LiteRT threads (0: its default)")
    parser.add_argument("--report", help="write the full report (operators, errors, scores) as JSON")


def cmd_export_savedmodel(args):
    """Write a model as a version of a TensorFlow Serving model folder."""
    _quiet_tensorflow()
    from keras_sa import pretrained
    from keras_sa.models import ModelFileError
    from keras_sa.serving import export_savedmodel

    try:
        path = pretrained.resolve(args.model)
    except pretrained.UnknownModelError as error:
        raise CommandError(str(error)) from None
    try:
        target = export_savedmodel(path, args.out, version=args.version)
    except (FileExistsError, ModelFileError, ValueError) as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write the SavedModel ({error.strerror or error})") from None
    print(f"{target} (serve with --model_base_path={target.parent.resolve()})")


def cmd_serve_request(args):
    """Separate an audio file with a model served by TensorFlow Serving."""
    from pathlib import Path

    if args.format and not args.url:
        raise CommandError("--format is for the REST API (--url)")
    out = Path(args.out) / Path(args.input).stem
    outputs = {name: out / f"{name}.wav" for name in ("vocals", "accompaniment")}
    existing = [str(p) for p in outputs.values() if p.exists()]
    if existing and not args.overwrite:
        raise CommandError(f"{existing[0]}: exists (use --overwrite)")
    if args.sample_rate is not None and args.sample_rate <= 0:
        raise CommandError(f"--sample-rate must be positive, got {args.sample_rate}")
    if args.block_seconds <= 0:
        raise CommandError(f"--block-seconds must be positive, got {args.block_seconds:g}")
    rate = args.sample_rate
    if rate is None and args.model_config:
        _quiet_tensorflow()
        from keras_sa.serving import read_contract

        try:
            rate = read_contract(args.model_config).signal.sample_rate
        except ValueError as error:
            raise CommandError(str(error)) from None
    rate = rate or 16000

    from keras_sa.audio import AudioError, load_audio, save_audio
    from keras_sa.serving.client import GrpcClient, RestClient, ServingError

    try:
        samples, _ = load_audio(args.input, sample_rate=rate, mono=True, max_seconds=args.max_seconds)
    except AudioError as error:
        raise CommandError(str(error)) from None
    if args.url:
        client = RestClient(args.url, args.model_name, args.version, args.timeout, args.format or "instances")
    else:
        client = GrpcClient(args.grpc, args.model_name, args.version, args.timeout)
    try:
        stems = client.separate_long(
            samples[0], rate, block_seconds=args.block_seconds, fixed_length=args.fixed_length
        )
    except (ServingError, ValueError) as error:
        raise CommandError(str(error)) from None
    finally:
        if isinstance(client, GrpcClient):
            client.close()
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, path in outputs.items():
            save_audio(path, stems[name][None], rate)
    except (AudioError, OSError) as error:
        raise CommandError(str(error)) from None
    print(f"{args.input} -> {out}/ ({samples.shape[1] / rate:.1f} s, mono at {rate} Hz)")


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
    train.add_argument("--model", help="preset name (default: sa_shn_mobile, or the --init model's)")
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
        "--init", metavar="MODEL",
        help="start from this model's weights (bundled name or .keras file; its config is used)",
    )
    train.add_argument(
        "--distribute", choices=["none", "mirrored", "multiworker"], default="none",
        help="multiworker: one process per worker, cluster and role from TF_CONFIG "
        "(see scripts/train_multiworker.py); --batch-size is then the global batch",
    )
    train.set_defaults(func=cmd_train)

    separate = commands.add_parser("separate", help="separate songs into vocals and accompaniment")
    separate.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders of them")
    separate.add_argument("-o", "--out", required=True, help="output folder: OUT/<input name>/vocals.<fmt>, ...")
    separate.add_argument("--model", default="default",
                          help="bundled model name, or a .keras file (keras) or .tflite file (tflite)")
    separate.add_argument("--backend", default="keras", choices=["keras", "tflite"],
                          help="keras: the float model; tflite: LiteRT, by default the bundled "
                          "int8 model (default: %(default)s)")
    separate.add_argument("--format", default="wav", choices=["wav", "flac"])
    separate.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    separate.add_argument("--max-seconds", type=float, default=3 * 3600,
                          help="refuse longer inputs (default: %(default)s)")
    separate.add_argument("--threads", type=int, default=0,
                          help="CPU threads for TensorFlow or the LiteRT interpreter (0: default)")
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
    evaluate.add_argument(
        "--jobs", type=_positive_int, default=1,
        help="processes that score clips while the next ones are separated (default: %(default)s)",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    verify_tflite = commands.add_parser(
        "verify-tflite", help="check TFLite models against their float model on real audio"
    )
    verify_tflite.add_argument("models", nargs="+", metavar="TFLITE", help=".tflite files (contract beside)")
    verify_tflite.add_argument("--model", default="default", help="the float model: bundled name or .keras file")
    verify_tflite.add_argument("--data", required=True, help="dataset folder (its test clips are used)")
    _add_verification_options(verify_tflite)
    verify_tflite.set_defaults(func=cmd_verify_tflite)

    export = commands.add_parser("export", help="export a model for TFLite or TensorFlow Serving")
    export_formats = export.add_subparsers(dest="export_format", required=True, metavar="FORMAT")
    export_tflite = export_formats.add_parser(
        "tflite", help="TFLite model (built-in ops, fixed input), verified against the float model"
    )
    export_tflite.add_argument("--model", default="default", help="bundled model name or .keras file")
    export_tflite.add_argument("--quantization", required=True, choices=["float32", "float16", "dynamic", "int8"])
    export_tflite.add_argument("-o", "--out", required=True, help="the .tflite file (its contract: <stem>.json)")
    export_tflite.add_argument("--data", help="dataset folder: training clips calibrate int8, test clips verify")
    export_tflite.add_argument("--calibration-windows", type=int, default=256,
                               help="int8 calibration windows (default: %(default)s)")
    export_tflite.add_argument("--calibration-every", type=int, default=1,
                               help="calibrate on every N-th training clip (default: %(default)s)")
    export_tflite.add_argument("--no-verify", action="store_true", help="skip the verification gate")
    export_tflite.add_argument("--overwrite", action="store_true")
    _add_verification_options(export_tflite)
    export_tflite.set_defaults(func=cmd_export_tflite)
    export_savedmodel = export_formats.add_parser(
        "savedmodel", help="TensorFlow Serving SavedModel (waveform in, vocals and accompaniment out)"
    )
    export_savedmodel.add_argument("--model", default="default", help="bundled model name or .keras file")
    export_savedmodel.add_argument("-o", "--out", required=True,
                                   help="the model's base folder; the export goes to OUT/<version>/")
    export_savedmodel.add_argument("--version", type=int,
                                   help="version number (default: 1 + the highest in OUT, or 1); "
                                   "an existing version is never overwritten")
    export_savedmodel.set_defaults(func=cmd_export_savedmodel)

    serve = commands.add_parser(
        "serve-request", help="separate an audio file with a model served by TensorFlow Serving"
    )
    serve.add_argument("input", metavar="INPUT", help="audio file (any rate and channel count)")
    server = serve.add_mutually_exclusive_group(required=True)
    server.add_argument("--url", help="REST address, e.g. http://localhost:8501")
    server.add_argument("--grpc", metavar="HOST:PORT", help="gRPC address, e.g. localhost:8500")
    serve.add_argument("--model-name", required=True, help="the served model's name")
    serve.add_argument("--version", type=int, help="model version (default: the server's latest)")
    serve.add_argument("--format", choices=["instances", "inputs"],
                       help="REST request format: row (instances, default) or columnar (inputs)")
    rate = serve.add_mutually_exclusive_group()
    rate.add_argument("--sample-rate", type=int, help="the served model's rate in Hz (default: 16000)")
    rate.add_argument("--model-config", metavar="SOURCE",
                      help="read the rate from an export (BASE/<version>), its keras_sa_config.json, "
                      "a .keras file or a bundled model name")
    serve.add_argument("-o", "--out", required=True,
                       help="output folder: OUT/<input name>/vocals.wav and accompaniment.wav "
                       "(mono, at the model's rate)")
    serve.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    serve.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default: %(default)s)")
    serve.add_argument("--block-seconds", type=float, default=30.0,
                       help="audio per request; longer inputs are sent in blocks (default: %(default)s)")
    serve.add_argument("--fixed-length", action="store_true",
                       help="pad every block to the same length (separate_padded signature, same "
                       "results) so that a server with --enable_batching can batch requests")
    serve.add_argument("--max-seconds", type=float, default=3 * 3600,
                       help="refuse longer inputs (default: %(default)s)")
    serve.set_defaults(func=cmd_serve_request)
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
