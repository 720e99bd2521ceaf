"""TFLite speed: per-window latency and end-to-end separation, against the Keras float model.

For each model (the Keras float model and the five TFLite conversions in
tflite/models/) and each thread count, one fresh process:

- *latency*: times one model call on one window (batch 1, real windows of
  the song; one interpreter with that many threads, or TensorFlow with that
  many threads), ``--windows`` times after a warm-up: the median;
- *per window*: the time the backend's predictor takes for all the song's
  windows, divided by their number (median of 3): Keras in batches of 16,
  LiteRT as that many one-thread interpreters sharing the windows;
- separates the 133 s song from ../shared/data/songs end to end with
  ``keras_sa.separation.separate_file`` (decode, resample, STFT, masks,
  inverse STFT, write both stems: the code behind ``keras-sa separate``),
  ``--repeats`` times after a warm-up run, and reports the median, the speed
  in seconds of audio per second, and the ratio to the Keras model's speed
  at the same thread count (measured in the same run).

The Keras backend separates with batches of 16 windows (its default); the
TFLite models take one window per call, as on a phone.

Run:
    .venv/bin/python benchmarks/tflite.py [--threads 1 2] [--repeats 3] [--windows 100]
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

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT.parent / "shared" / "data" / "songs" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
MODELS = ROOT / "tflite" / "models"


def worker(backend, model, threads, repeats, windows, song):
    """Runs in the child process; prints one JSON line."""
    import numpy as np

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend == "keras":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from keras_sa.audio import load_audio
    from keras_sa.audio.signal import stft
    from keras_sa.separation import Separator, separate_file

    separator = Separator.from_file(model, backend=backend, threads=threads)
    signal = separator.signal
    samples, rate = load_audio(song, sample_rate=signal.sample_rate, mono=True)
    features = separator.windows(np.abs(stft(samples[0], signal)[:, : signal.n_bins]))
    if backend == "keras":
        call = separator.predictor.model.predict_on_batch
        batch = features[:, :, :, np.newaxis]
        run = lambda i: call(batch[i : i + 1])  # noqa: E731
    else:
        from ai_edge_litert.interpreter import Interpreter

        from keras_sa.predictors import _quantize

        interpreter = Interpreter(model_path=model, num_threads=threads)
        interpreter.allocate_tensors()
        (detail,) = interpreter.get_input_details()
        inputs = _quantize(features, detail)

        def run(i):
            interpreter.set_tensor(detail["index"], inputs[i][np.newaxis, ..., np.newaxis])
            interpreter.invoke()

    run(0)
    latencies = []
    for index in range(windows):
        start = time.perf_counter()
        run(index % len(features))
        latencies.append(time.perf_counter() - start)
    separator.predictor(features[:32])
    throughput = []
    for _ in range(3):
        start = time.perf_counter()
        separator.predictor(features)
        throughput.append((time.perf_counter() - start) / len(features))
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats + 1):
            start = time.perf_counter()
            seconds = separate_file(separator, song, folder)
            times.append(time.perf_counter() - start)
    print(json.dumps({
        "window_ms": 1000 * statistics.median(latencies),
        "throughput_ms": 1000 * statistics.median(throughput),
        "times": times[1:],
        "seconds": seconds,
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--model", default="sa_shn_mobile", help="bundled model whose conversions to time")
    parser.add_argument("--worker", nargs=3, metavar=("BACKEND", "MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        backend, model, threads = args.worker
        worker(backend, model, int(threads), args.repeats, args.windows, SONG)
        return

    from keras_sa import pretrained

    from keras_sa.export.tflite import QUANTIZATIONS

    candidates = [("keras float32", "keras", str(pretrained.resolve(args.model)))]
    for quantization in QUANTIZATIONS:
        path = MODELS / f"{args.model}_{quantization}.tflite"
        if path.is_file():  # a conversion that failed its gate is not committed
            candidates.append((f"tflite {quantization}", "tflite", str(path)))
    print(f"song: {SONG.name}; median of {args.windows} window calls and of {args.repeats} separations")
    print(f"{'model':<28}{'size':>9}{'threads':>8}{'latency':>9}{'per window':>12}{'separate':>10}"
          f"{'x real time':>13}{'vs keras':>10}")
    for threads in args.threads:
        keras_speed = None
        for label, backend, path in candidates:
            result = subprocess.run(
                [sys.executable, __file__, "--worker", backend, path, str(threads),
                 "--repeats", str(args.repeats), "--windows", str(args.windows)],
                capture_output=True, text=True, check=True,
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            median = statistics.median(figures["times"])
            speed = figures["seconds"] / median
            keras_speed = keras_speed or speed
            size = os.path.getsize(path) / 1e6
            print(f"{label:<28}{size:>7.2f}MB{threads:>8}{figures['window_ms']:>7.1f}ms"
                  f"{figures['throughput_ms']:>10.1f}ms{median:>9.2f}s{speed:>12.1f}x{speed / keras_speed:>9.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
