"""How much faster is MIR-1K evaluation with scoring in worker processes?

Times ``evaluation.evaluate_tracks`` with the default separator on a fixed
subset of the MIR-1K test clips (decoded into memory first, so decoding is
not timed), once per ``--jobs`` value and repeat, in one run; prints the
median time per clip and the speed-up against ``jobs=1``, and checks that
every setting gives the same scores.

Run:
    .venv/bin/python benchmarks/evaluate.py [--data ../shared/data/mir1k] [--every 25]
        [--jobs 1 2] [--repeats 3] [--threads N] [--backend keras|tflite]
"""

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mir1k"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--model", default="default")
    parser.add_argument("--backend", default=None, choices=["keras", "tflite"],
                        help="default: the bundled model's fastest verified TFLite conversion")
    parser.add_argument("--every", type=int, default=25, help="take every N-th test clip")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: all)")
    args = parser.parse_args()

    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from keras_sa import Separator, data, evaluation

    _, test = data.mir1k_split(data.discover(args.data))
    clips = list(evaluation.TrackClips(test[:: args.every], 16000))
    seconds = sum(len(c.mixture) for c in clips) / 16000
    separator = Separator.from_pretrained(args.model, backend=args.backend)
    estimator = separator.estimator()
    evaluation.evaluate_tracks(clips[:1], estimator, progress=False)  # warm-up: first-call costs stay out
    threads = args.threads or "all"
    print(f"{len(clips)} test clips ({seconds:.0f} s of audio), {os.cpu_count()} CPUs, TensorFlow threads: {threads}")

    times, scores = {}, {}
    for _ in range(args.repeats):
        for jobs in args.jobs:  # interleaved, so that load on the machine hits every setting
            start = time.perf_counter()
            records = evaluation.evaluate_tracks(clips, estimator, progress=False, jobs=jobs)
            times.setdefault(jobs, []).append(time.perf_counter() - start)
            scores[jobs] = evaluation.summarize(records)["vocals_gnsdr"]
    baseline = statistics.median(times[args.jobs[0]])
    print(f"{'jobs':>4}  {'median':>8}  {'per clip':>8}  {'vs jobs=' + str(args.jobs[0]):>9}  GNSDR vocals")
    for jobs in args.jobs:
        median = statistics.median(times[jobs])
        print(
            f"{jobs:>4}  {median:>7.2f}s  {1000 * median / len(clips):>6.0f}ms"
            f"  {baseline / median:>8.2f}x  {scores[jobs]:.4f} dB"
        )
    if len(set(scores.values())) != 1:
        raise SystemExit("the settings gave different scores")


if __name__ == "__main__":
    main()
