"""``keras-sa train``: train a preset or config on a dataset folder (resumes after a kill)."""

import os

from keras_sa.cli.common import CommandError, quiet_tensorflow, set_threads, singer_list


def register(commands):
    """Add the ``train`` command to ``commands`` (an argparse subparsers object)."""
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
    train.add_argument(
        "--vocal-speed", type=float, default=0.0, metavar="S",
        help="play the vocals of remixed examples at a random speed within 1/(1+S)..1+S "
        "(pitch and formants move together; default: %(default)s, off)",
    )
    train.add_argument(
        "--voice-variants", type=int, default=0, metavar="N",
        help="make N pitch and formant variants of each training track's vocals (Praat's "
        "Change gender) for remixed examples to draw from (default: %(default)s, off)",
    )
    train.add_argument(
        "--vocal-effects", nargs="?", const="eq+room", choices=("eq", "eq+room"), default=None,
        help="colour the vocals of remixed examples with a random EQ and, half of the time, a "
        "room (eq+room, the default when no value is given), or with the EQ alone (eq)",
    )
    train.add_argument(
        "--singers", type=singer_list, metavar="NAME[,NAME...]",
        help="MIR-1K: train on these singers' clips instead of abjones and amy "
        "(cross-singer validation; score the others with evaluate --singers)",
    )
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
    # The choices are spelled here, not read from keras_sa.training, to keep
    # TensorFlow out of argument parsing; tests check they agree.
    train.add_argument(
        "--precision", choices=["float32", "mixed_bfloat16"], default="float32",
        help="dtype policy of training; the saved models are float32 either way",
    )
    train.add_argument(
        "--objective", choices=["l1", "sdr", "l1+sdr"], default="l1",
        help="loss: the SHN's L1 on magnitudes, the time-domain SDR of the final stack, or both",
    )
    train.add_argument(
        "--select", choices=["l1", "gnsdr"], default="l1",
        help="keep as best.keras the best by validation L1, or by the validation songs' vocals GNSDR",
    )
    train.add_argument(
        "--select-every", type=int, default=1, metavar="N",
        help="with --select gnsdr: score the validation songs every N epochs (and after the last)",
    )
    train.set_defaults(func=run, log_info=True)


def check_tf_config():
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


def run(args):
    """Train a preset or config on a dataset folder."""
    quiet_tensorflow()
    if args.select_every < 1:
        raise CommandError(f"--select-every must be at least 1, got {args.select_every}")
    if not 0 <= args.vocal_speed < 1:
        raise CommandError(f"--vocal-speed must lie in [0, 1), got {args.vocal_speed}")
    if args.voice_variants < 0:
        raise CommandError(f"--voice-variants must not be negative, got {args.voice_variants}")
    if args.select == "gnsdr" and args.distribute == "multiworker":
        raise CommandError("--select gnsdr is not supported with --distribute multiworker")
    if args.distribute == "multiworker":
        check_tf_config()
    set_threads(args.threads)
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
            precision=args.precision,
            objective=args.objective,
            select=args.select,
            select_every=args.select_every,
            vocal_speed=args.vocal_speed,
            voice_variants=args.voice_variants,
            vocal_effects=args.vocal_effects,
            train_singers=args.singers,
        )
    except (data.DatasetError, training.ResumeStateError, models.ModelFileError) as error:
        raise CommandError(str(error)) from None
