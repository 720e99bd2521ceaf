"""``keras-sa stream``: a WAV stream on stdin, one stem as a WAV stream on stdout.

    ffmpeg -i song.mp3 -f wav - | keras-sa stream --stem accompaniment | ffplay -

The output is time-aligned with the input and just as long: its first
samples leave after the stream's latency (about 1 s), but output sample
``i`` is the stem of input sample ``i``, at the input's rate and channel
count, so the whole output is what ``keras-sa separate`` writes for the
same audio. It is flushed piece by piece. A closed stdout (the player quit)
ends the command quietly with exit code 0.
"""

import os
import sys

from keras_sa.cli.common import CommandError, load_separator, non_negative_int

# Input frames per read: small enough to keep the pipe moving (93 ms at
# 44.1 kHz), large enough that the per-call cost stays negligible.
_BLOCK_FRAMES = 4096


def register(commands):
    """Add the ``stream`` command to ``commands`` (an argparse subparsers object)."""
    stream = commands.add_parser(
        "stream", help="separate a WAV stream on stdin, write one stem as a WAV stream on stdout"
    )
    stream.add_argument("--stem", choices=["vocals", "accompaniment"], default="accompaniment",
                        help="the stem to write (default: %(default)s)")
    stream.add_argument("--format", choices=["f32", "s16"], default="f32",
                        help="output samples: 32-bit float or 16-bit PCM (default: %(default)s)")
    stream.add_argument("--model", default="default",
                        help="bundled model name, <name>_<quantization>, or a .keras or .tflite file")
    stream.add_argument("--backend", choices=["keras", "tflite"],
                        help="keras: the float model; tflite: LiteRT (default: as for separate)")
    stream.add_argument("--threads", type=non_negative_int, default=0,
                        help="CPU threads for TensorFlow, or LiteRT interpreters (0: the CPUs available)")
    stream.set_defaults(func=run)


def _quiet_exit_on_closed_stdout():
    """After a broken pipe: point stdout at /dev/null so that the exit flush cannot fail again.

    Python's documented recipe (``signal`` module, "Note on SIGPIPE"); without
    it the interpreter prints "Exception ignored ... BrokenPipeError" at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run(args):
    """Separate stdin's WAV stream, writing the chosen stem to stdout as it goes."""
    import numpy as np

    from keras_sa.audio import AudioError
    from keras_sa.audio.wavstream import WavStreamReader, WavStreamWriter

    if sys.stdin.isatty():
        raise CommandError("stdin is a terminal: pipe a WAV stream in (ffmpeg -i SONG -f wav - | keras-sa stream)")
    if sys.stdout.isatty():
        raise CommandError("stdout is a terminal: pipe the WAV stream on (keras-sa stream | ffplay -) or redirect it")
    try:
        reader = WavStreamReader(sys.stdin.buffer, "stdin")
    except AudioError as error:
        raise CommandError(str(error)) from None
    from keras_sa.separation import open_stream

    separator = load_separator(args.model, args.backend, args.threads)
    try:
        stream = open_stream(separator, reader.name, reader.sample_rate, reader.channels)
    except AudioError as error:  # a rate the resamplers cannot take
        raise CommandError(str(error)) from None
    pick = 0 if args.stem == "vocals" else 1
    position = 0
    try:
        writer = WavStreamWriter(sys.stdout.buffer, reader.sample_rate, reader.channels, args.format)
        for block in reader.blocks(_BLOCK_FRAMES):
            try:
                # The stream's NaN check sums the block: +inf and -inf make a
                # NaN there, which numpy would announce with a RuntimeWarning.
                with np.errstate(invalid="ignore"):
                    stems = stream.process(block)
            except ValueError as error:  # NaN or infinite samples
                raise CommandError(f"stdin: {error} (after {position} frames)") from None
            position += block.shape[1]
            writer.write(stems[pick])
        writer.write(stream.flush()[pick])
    except AudioError as error:
        raise CommandError(str(error)) from None
    except BrokenPipeError:
        _quiet_exit_on_closed_stdout()
