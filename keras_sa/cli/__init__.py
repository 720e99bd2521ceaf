"""The ``keras-sa`` command line.

One module per command group, each registering its own subcommands:
:mod:`~keras_sa.cli.info`, :mod:`~keras_sa.cli.train`,
:mod:`~keras_sa.cli.separate`, :mod:`~keras_sa.cli.stream`,
:mod:`~keras_sa.cli.evaluate`,
:mod:`~keras_sa.cli.tflite` (``export tflite``, ``verify-tflite``) and
:mod:`~keras_sa.cli.serving` (``export savedmodel``, ``serve-request``);
:mod:`~keras_sa.cli.common` holds what they share. TensorFlow, Keras and
librosa are imported inside the commands that need them, so that ``--help``
answers at once and the TFLite path never loads them.
"""

import argparse
import logging
import sys

from keras_sa.cli import evaluate, info, separate, serving, stream, tflite, train, web
from keras_sa.cli.common import CommandError, interruptible

__all__ = ["CommandError", "build_parser", "main"]


def build_parser():
    """The ``keras-sa`` argument parser, with every command registered."""
    parser = argparse.ArgumentParser(
        prog="keras-sa", description="Singing voice separation with skip attention (SA-SHN)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True)
    info.register(commands)
    train.register(commands)
    separate.register(commands)
    stream.register(commands)
    evaluate.register(commands)
    export = commands.add_parser("export", help="export a model for TFLite or TensorFlow Serving")
    export_formats = export.add_subparsers(dest="export_format", required=True, metavar="FORMAT")
    tflite.register(commands, export_formats)
    serving.register(commands, export_formats)
    web.register(commands)
    return parser


def main(argv=None):
    """Run ``keras-sa`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0, or 1 after printing a :class:`CommandError` on one line.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or getattr(args, "log_info", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Every command, not only separate and stream, ends on Ctrl-C or SIGTERM
    # with one line and 128 + the signal, never a traceback.
    with interruptible():
        try:
            args.func(args)
        except CommandError as error:
            print(f"keras-sa: error: {error}", file=sys.stderr)
            return 1
    return 0
