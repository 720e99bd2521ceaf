"""Training step time under each precision, XLA setting, backend and thread count.

Times ``train_on_batch`` of the training wrapper of a preset (the
deep-supervision L1 that ``keras-sa train`` optimizes, Adam with the
schedule) at a fixed batch, for every combination of:

- threads: 1 and 2 (the process is pinned to that many cores with
  ``os.sched_setaffinity``; under TensorFlow the intra- and inter-op pools
  are also set to that size before TensorFlow starts);
- TensorFlow float32, TensorFlow ``mixed_bfloat16`` (``training.with_precision``),
  each with and without XLA (``jit_compile``); and the JAX backend
  (``KERAS_BACKEND=jax``, always compiled by XLA) in float32 and
  ``mixed_bfloat16``.

Each backend and thread count runs in its own subprocess (threads must be
set before the framework starts), on the same batch of real training
patches: the first ``--batch-size`` examples of the training stream
(``keras_sa.data.patches``, what the tf.data pipeline batches) cut from
MIR-1K training-singer clips. Inside a subprocess every setting gets its own
model and optimizer, all from the same initial weights, and their steps
are interleaved (one step of each in turn), so that a shared machine's
changing load falls on all of them alike. The figure is the median of
``--steps`` steps after ``--warmup`` steps (tracing and compilation
included in those); the speed-up is against TensorFlow float32 on the first
thread count (1) in the same run, and the load average is printed beside each process.

Run:
    nice -n 5 .venv/bin/python benchmarks/train_step.py [--model sa_shn_mobile] [--threads 1 2] [--steps 8] [--warmup 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mir1k"
CLIPS = 24  # training clips the batch is cut from: every tenth of the training singers'

# backend -> settings (label, precision, jit_compile); JAX always compiles with XLA.
SETTINGS = {
    "tensorflow": (
        ("TF float32", "float32", False),
        ("TF mixed_bfloat16", "mixed_bfloat16", False),
        ("TF float32 + XLA", "float32", True),
        ("TF mixed_bfloat16 + XLA", "mixed_bfloat16", True),
    ),
    "jax": (
        ("JAX float32", "float32", True),
        ("JAX mixed_bfloat16", "mixed_bfloat16", True),
    ),
}


def worker(args):
    """Every setting of one backend in this process: print their step times as JSON."""
    (threads,) = args.threads
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if args.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    import numpy as np

    from keras_sa import data, models, training
    from keras_sa.data.patches import PatchSource

    assert keras.backend.backend() == args.backend, keras.backend.backend()
    config = models.get_preset(args.model)
    train, _ = data.mir1k_split(data.discover(args.data))
    sources = data.load_sources(train[:: max(len(train) // CLIPS, 1)], config.signal.sample_rate)
    source = PatchSource(sources, config.signal, seed=0)
    examples = [source.random_example(i) for i in range(args.batch_size)]
    features, mixture, targets = (np.stack(parts) for parts in zip(*examples))

    keras.utils.set_random_seed(0)
    weights = models.build(config).get_weights()
    trainers = {}
    for label, precision, jit_compile in SETTINGS[args.backend]:
        model = models.build(config)
        model.set_weights(weights)
        trainers[label] = training.compile_for_training(training.with_precision(model, precision), steps=10000)
        trainers[label].jit_compile = jit_compile
    times = {label: [] for label in trainers}
    load = os.getloadavg()[0]
    for _ in range(args.warmup + args.steps):
        for label, trainer in trainers.items():
            start = time.perf_counter()
            loss = trainer.train_on_batch([features, mixture], targets)
            times[label].append(time.perf_counter() - start)
            if not np.all(np.isfinite(loss)):
                raise RuntimeError(f"{label}: non-finite loss {loss}")
    result = {label: {"times": t[args.warmup :], "first": t[0]} for label, t in times.items()}
    print(json.dumps({"settings": result, "load": [load, os.getloadavg()[0]]}))


def run_backend(args, backend, threads):
    command = [
        sys.executable, __file__, "--worker", "--backend", backend,
        "--threads", str(threads), "--model", args.model, "--data", args.data,
        "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--warmup", str(args.warmup),
    ]
    env = dict(os.environ, KERAS_BACKEND=backend)
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        return None, (lines[-1] if lines else f"exit code {result.returncode}")[:100]
    return json.loads(result.stdout.strip().splitlines()[-1]), None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--model", default="sa_shn_mobile")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per setting")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (tracing, compiling)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="tensorflow", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    print(f"{args.model}, batch {args.batch_size}, median of {args.steps} steps after {args.warmup} warm-ups")
    rows, baseline = [], None
    for threads in args.threads:
        for backend, settings in SETTINGS.items():
            result, error = run_backend(args, backend, threads)
            load = "" if result is None else "{:.1f}-{:.1f}".format(*result["load"])
            for label, _, _ in settings:
                if result is None:
                    rows.append((label, threads, None, None, load, error))
                    continue
                times = result["settings"][label]
                median = statistics.median(times["times"]) * 1000
                if baseline is None and label == "TF float32":
                    baseline = median
                rows.append((label, threads, median, times["first"], load, None))
                print(f"  {label}, {threads} thread(s): {median:.0f} ms (load {load})", flush=True)
            if error is not None:
                print(f"  {backend}, {threads} thread(s): {error}", flush=True)

    print()
    print(f"| setting | threads | ms per step | speed-up vs TF float32, {args.threads[0]} thread(s) | first step (s)"
          " | load average |")
    print("|---|---|---|---|---|---|")
    for label, threads, median, first, load, error in rows:
        if error is not None:
            print(f"| {label} | {threads} | failed: {error} | | | |")
            continue
        ratio = f"{baseline / median:.2f}" if baseline else ""
        print(f"| {label} | {threads} | {median:.0f} | {ratio} | {first:.1f} | {load} |")


if __name__ == "__main__":
    main()
