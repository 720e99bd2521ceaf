"""``keras-sa export tflite`` and ``keras-sa verify-tflite``: TFLite models behind the verification gate."""

import sys

from keras_sa.cli.common import CommandError, dataset_splits, load_float_model, quiet_tensorflow


def register(commands, export_formats):
    """Add ``verify-tflite`` to ``commands`` and ``tflite`` to ``export_formats`` (argparse subparsers)."""
    verify_tflite = commands.add_parser(
        "verify-tflite", help="check TFLite models against their float model on real audio"
    )
    verify_tflite.add_argument("models", nargs="+", metavar="TFLITE", help=".tflite files (contract beside)")
    verify_tflite.add_argument("--model", default="default", help="the float model: bundled name or .keras file")
    verify_tflite.add_argument("--data", required=True, help="dataset folder (its test clips are used)")
    _add_verification_options(verify_tflite)
    verify_tflite.set_defaults(func=run_verify)

    export_tflite = export_formats.add_parser(
        "tflite", help="TFLite model (built-in ops, fixed input), verified against the float model"
    )
    export_tflite.add_argument("--model", default="default", help="bundled model name or .keras file")
    export_tflite.add_argument("--quantization", required=True,
                               choices=["float32", "float16", "dynamic", "int8", "int8_float_attention"])
    export_tflite.add_argument("-o", "--out", required=True, help="the .tflite file (its contract: <stem>.json)")
    export_tflite.add_argument("--data", help="dataset folder: training clips calibrate int8, test clips verify")
    export_tflite.add_argument("--calibration-windows", type=int, default=256,
                               help="int8 calibration windows (default: %(default)s)")
    export_tflite.add_argument("--calibration-every", type=int, default=1,
                               help="calibrate on every N-th training clip (default: %(default)s)")
    export_tflite.add_argument("--no-verify", action="store_true", help="skip the verification gate")
    export_tflite.add_argument("--overwrite", action="store_true")
    _add_verification_options(export_tflite)
    export_tflite.set_defaults(func=run_export)


def _add_verification_options(parser):
    parser.add_argument("--every", type=int, default=33,
                        help="verify on every N-th test clip (default: %(default)s: 25 of MIR-1K's 825)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many verification clips")
    parser.add_argument("--threads", type=int, default=0, help="LiteRT threads (0: its default)")
    parser.add_argument("--report", help="write the full report (operators, errors, scores) as JSON")


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


def run_export(args):
    """Convert a model to TFLite, verify it against the float model, and write it if it passes."""
    from pathlib import Path

    out = Path(args.out)
    if out.suffix != ".tflite":
        raise CommandError(f"{out}: the output must end in .tflite")
    for existing in (out, out.with_suffix(".json")):
        if existing.exists() and not args.overwrite:
            raise CommandError(f"{existing}: exists (use --overwrite)")
    calibrated = args.quantization in ("int8", "int8_float_attention")
    if args.data is None and (calibrated or not args.no_verify):
        raise CommandError(
            "--data is needed: a dataset folder whose training clips calibrate int8 and whose test "
            "clips verify the model (or --no-verify for a float model)"
        )
    quiet_tensorflow()
    from keras_sa import data
    from keras_sa.export import tflite, verify

    model, config = load_float_model(args.model)
    train, test = dataset_splits(args.data) if args.data else (None, None)
    calibration = None
    if calibrated:
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


def run_verify(args):
    """Verify TFLite models against their float Keras model; exit 1 if any fails."""
    quiet_tensorflow()
    from keras_sa.export import verify
    from keras_sa.predictors import TFLiteModelError, TFLitePredictor
    from keras_sa.separation import Separator

    model, config = load_float_model(args.model)
    try:
        candidates = [Separator(TFLitePredictor(path, threads=args.threads or None)) for path in args.models]
    except TFLiteModelError as error:
        raise CommandError(str(error)) from None
    for path, separator in zip(args.models, candidates):
        if separator.config != config:
            raise CommandError(f"{path}: converted from another model than {args.model} (configs differ)")
    _, test = dataset_splits(args.data)
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
