"""``keras-sa separate``: songs in, ``OUT/<name>/vocals.<fmt>`` and ``accompaniment.<fmt>`` out."""

import os
import sys

from keras_sa.cli.common import CommandError, Terminal, load_separator, non_negative_int

# Seconds of audio done and to do, the time left, and the speed; tqdm adds
# ", " before the postfix.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}{postfix}]"


def register(commands):
    """Add the ``separate`` command to ``commands`` (an argparse subparsers object)."""
    separate = commands.add_parser("separate", help="separate songs into vocals and accompaniment")
    separate.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders of them")
    separate.add_argument("-o", "--out", required=True, help="output folder: OUT/<input name>/vocals.<fmt>, ...")
    separate.add_argument("--model", default="default",
                          help="bundled model name (default: %(default)s), <name>_<quantization> for a "
                          "bundled TFLite model (sa_shn_mobile_int8_float_attention), or a .keras or .tflite file")
    separate.add_argument("--backend", choices=["keras", "tflite"],
                          help="keras: the float model; tflite: LiteRT (default: a bundled name's fastest "
                          "TFLite model that passed verification against the float model, the dynamic-"
                          "range one for the bundled models; a file's suffix)")
    separate.add_argument("--format", default="wav", choices=["wav", "flac"])
    separate.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    separate.add_argument("--max-seconds", type=float, default=3 * 3600,
                          help="refuse longer inputs (default: %(default)s)")
    separate.add_argument("--threads", type=non_negative_int, default=0,
                          help="CPU threads for TensorFlow, or LiteRT interpreters (0: the CPUs available)")
    separate.add_argument("-q", "--quiet", action="store_true")
    separate.set_defaults(func=run)


def collect_inputs(paths):
    """Files named, and the audio files directly inside folders named, in order.

    Returns:
        ``(inputs, empty)``: the input files, and the folders named that
        hold no audio file.
    """
    from pathlib import Path

    from keras_sa.data.tracks import AUDIO_EXTENSIONS

    inputs, empty = [], []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                empty.append(path)
            inputs.extend(found)
        else:
            inputs.append(path)
    return inputs, empty


def _durations(inputs):
    """Seconds of audio per input from the headers (``None`` for one that cannot be read: it fails later)."""
    from keras_sa.audio import AudioError, audio_info

    durations = []
    for path in inputs:
        try:
            rate, _, frames = audio_info(path)
            durations.append(frames / rate)
        except AudioError:
            durations.append(None)
    return durations


def _bar(tqdm, args, terminal, total, **kwargs):
    # No bar for an input without a length in its header: it is refused at once.
    return tqdm(unit="s", bar_format=BAR_FORMAT, disable=args.quiet or not total, total=total, leave=False,
                dynamic_ncols=True, file=terminal, **kwargs)


def _advance(bar, seconds):
    """Move ``bar`` to ``seconds``, never past its total.

    Adding the difference to the bar's float count can overshoot the total
    by a rounding error, and tqdm then warns on stderr ("clamping frac to
    range [0, 1]"); setting the count and updating by 0 cannot.
    """
    bar.n = min(seconds, bar.total) if bar.total else seconds
    bar.update(0)


def _failed(tqdm, terminal, inputs, message):
    """Report a failed input; returns ``message``.

    In a batch each failure gets its line as it happens and the command
    ends with a count; a single input's failure is the command's one error
    line, printed at the end.
    """
    if len(inputs) > 1:
        _say(tqdm, terminal, f"keras-sa: error: {message}")
    return message


def _say(tqdm, terminal, line):
    """A line on stderr that leaves the progress bars intact."""
    tqdm.write(line, file=terminal)


def run(args):
    """Separate songs into vocals and accompaniment files."""
    from pathlib import Path

    inputs, empty = collect_inputs(args.inputs)
    if not inputs:  # the one line says which folder was empty when one was named
        raise CommandError(f"{empty[0]}: no audio files in folder" if len(empty) == 1 else "no input files")
    for path in empty:
        print(f"keras-sa: warning: {path}: no audio files in folder", file=sys.stderr)
    out_root = Path(args.out)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"{out_root}: cannot create output folder ({error.strerror})") from None
    if not os.access(out_root, os.W_OK):
        raise CommandError(f"{out_root}: output folder is not writable")

    terminal = Terminal()
    try:
        separator = load_separator(args.model, args.backend, args.threads)
        failures = _separate_all(args, separator, inputs, out_root, terminal)
    finally:
        terminal.close()
    if len(failures) == 1 and len(inputs) == 1:
        raise CommandError(failures[0])
    if failures:
        raise CommandError(f"{len(failures)} of {len(inputs)} input(s) failed")


def _separate_all(args, separator, inputs, out_root, terminal):
    """Separate each input in turn; returns the failures' messages."""
    from tqdm import tqdm

    from keras_sa.audio import AudioError
    from keras_sa.separation import output_paths, separate_file

    durations = _durations(inputs)
    failures = []
    overall = None
    if len(inputs) > 1:
        overall = _bar(tqdm, args, terminal, total=sum(d for d in durations if d), desc=f"{len(inputs)} files",
                       position=0)
    for path, duration in zip(inputs, durations):
        start = overall.n if overall is not None else 0.0
        target = out_root / path.stem
        existing = [str(p) for p in output_paths(target, args.format).values() if p.exists()]
        if existing and not args.overwrite:
            failures.append(_failed(tqdm, terminal, inputs, f"{existing[0]}: exists (use --overwrite)"))
        else:
            try:
                with _bar(tqdm, args, terminal, total=duration, desc=path.name,
                          position=int(overall is not None)) as bar:

                    def progress(done, total):
                        seconds = min(duration * done / total, duration) if duration and total else 0.0
                        speed = seconds / max(bar.format_dict["elapsed"], 1e-3)
                        bar.set_postfix_str(f"{speed:.0f}x real time", refresh=False)
                        _advance(bar, seconds)
                        if overall is not None:
                            _advance(overall, start + seconds)

                    seconds = separate_file(separator, path, target, args.format, args.max_seconds, progress)
            except (AudioError, OSError) as error:
                failures.append(_failed(tqdm, terminal, inputs, str(error)))
            else:
                if not args.quiet:
                    _say(tqdm, terminal, f"{path} -> {target}/ ({seconds:.1f} s)")
        if overall is not None and duration:
            _advance(overall, start + duration)
    if overall is not None:
        overall.close()
    return failures
