"""End-to-end separation speed and peak memory.

For each input, one fresh process decodes the file, separates it with the
bundled default model (or --model) and writes both stems with
``keras_sa.separation.separate_file``, the code behind ``keras-sa separate``. Printed per input: audio length, median wall
time of the separation over --repeats runs (decode + separate + write, after
a warm-up run; process start and imports excluded), speed as seconds of
audio per second, and the process's peak resident memory (ru_maxrss), next
to the size of the decoded audio itself.

Inputs: the 133 s song from ../shared/data/songs, and a 10-minute stereo
44.1 kHz file built from it by repetition (written to a temporary folder).

Run:
    .venv/bin/python benchmarks/separate.py [--model default] [--backend keras|tflite] [--repeats 3] [--threads 0]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SONG = Path(__file__).resolve().parents[2] / "shared" / "data" / "songs" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"


def worker(path, model, backend, repeats, threads, out_dir):
    """Runs in the child process; prints one JSON line."""
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from keras_sa.audio import audio_info
    from keras_sa.separation import Separator, separate_file

    separator = Separator.from_pretrained(model, backend=backend or None)
    rate, channels, frames = audio_info(path)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        separate_file(separator, path, out_dir)
        times.append(time.perf_counter() - start)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "seconds": frames / rate, "channels": channels, "rate": rate,
        "times": times[1:], "peak_mb": peak_kb / 1024, "decoded_mb": frames * channels * 4 / 2**20,
    }))


def make_long_input(song, minutes, folder):
    import numpy as np

    from keras_sa.audio import load_audio, save_audio

    samples, rate = load_audio(song)
    needed = int(minutes * 60 * rate)
    reps = -(-needed // samples.shape[1])
    long = np.tile(samples, (1, reps))[:, :needed]
    path = Path(folder) / f"{song.stem}_{minutes}min.flac"
    save_audio(path, long, rate)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--backend", default="", choices=["", "keras", "tflite"],
                        help="default: the bundled model's fastest verified TFLite conversion")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (keras backend; 0: all)")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.model, args.backend, args.repeats, args.threads, args.worker[1])
        return

    with tempfile.TemporaryDirectory() as folder:
        inputs = [SONG, make_long_input(SONG, args.minutes, folder)]
        print(f"model={args.model} backend={args.backend or 'default'} threads={args.threads or 'all'} cores={os.cpu_count()} repeats={args.repeats}")
        print(f"{'input':<48}{'audio s':>9}{'median s':>10}{'x realtime':>12}{'peak MB':>9}{'decoded MB':>12}")
        for path in inputs:
            out = Path(folder) / "out"
            out.mkdir(exist_ok=True)
            result = subprocess.run(
                [sys.executable, __file__, "--model", args.model, "--backend", args.backend, "--repeats", str(args.repeats),
                 "--threads", str(args.threads), "--worker", str(path), str(out)],
                capture_output=True, text=True, check=True,
            )
            stats = json.loads(result.stdout.strip().splitlines()[-1])
            median = statistics.median(stats["times"])
            print(f"{path.name:<48}{stats['seconds']:>9.1f}{median:>10.2f}"
                  f"{stats['seconds'] / median:>12.1f}{stats['peak_mb']:>9.0f}{stats['decoded_mb']:>12.0f}")


if __name__ == "__main__":
    main()
