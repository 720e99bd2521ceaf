"""``keras-sa export savedmodel`` and ``keras-sa serve-request``: TensorFlow Serving."""

from keras_sa.cli.common import CommandError, quiet_tensorflow


def register(commands, export_formats):
    """Add ``serve-request`` to ``commands`` and ``savedmodel`` to ``export_formats`` (argparse subparsers)."""
    export_savedmodel = export_formats.add_parser(
        "savedmodel", help="TensorFlow Serving SavedModel (waveform in, vocals and accompaniment out)"
    )
    export_savedmodel.add_argument("--model", default="default", help="bundled model name or .keras file")
    export_savedmodel.add_argument("-o", "--out", required=True,
                                   help="the model's base folder; the export goes to OUT/<version>/")
    export_savedmodel.add_argument("--version", type=int,
                                   help="version number (default: 1 + the highest in OUT, or 1); "
                                   "an existing version is never overwritten")
    export_savedmodel.set_defaults(func=run_export)

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
    serve.set_defaults(func=run_request)


def run_export(args):
    """Write a model as a version of a TensorFlow Serving model folder."""
    quiet_tensorflow()
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


def run_request(args):
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
        quiet_tensorflow(import_now=False)
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
