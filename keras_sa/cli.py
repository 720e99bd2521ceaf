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


def cmd_train(args):
    """Train a preset or config on a dataset folder."""
    _quiet_tensorflow()
    _set_threads(args.threads)
    from keras_sa import models, training

    if args.config:
        with open(args.config) as handle:
            config = models.ModelConfig.from_json(handle.read())
    else:
        config = models.get_preset(args.model)
    strategy = None
    if args.distribute == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
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
    train.add_argument("--distribute", choices=["none", "mirrored"], default="none")
    train.set_defaults(func=cmd_train)
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
