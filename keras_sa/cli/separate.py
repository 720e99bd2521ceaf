"""``keras-sa separate``: songs in, ``OUT/<name>/vocals.<fmt>`` and ``accompaniment.<fmt>`` out."""

import os
import sys

from keras_sa.cli.common import CommandError, load_separator, quiet_tensorflow, set_threads


def register(commands):
    """Add the ``separate`` command to ``commands`` (an argparse subparsers object)."""
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
    separate.set_defaults(func=run)


def collect_inputs(paths):
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


def run(args):
    """Separate songs into vocals and accompaniment files."""
    from pathlib import Path

    inputs = collect_inputs(args.inputs)
    if not inputs:
        raise CommandError("no input files")
    out_root = Path(args.out)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"{out_root}: cannot create output folder ({error.strerror})") from None
    if not os.access(out_root, os.W_OK):
        raise CommandError(f"{out_root}: output folder is not writable")

    quiet_tensorflow()
    if args.backend == "keras":  # the tflite backend runs without importing TensorFlow
        set_threads(args.threads)
    from tqdm.auto import tqdm

    from keras_sa.audio import AudioError
    from keras_sa.separation import output_paths, separate_file

    separator = load_separator(args.model, args.backend, args.threads or None)
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
