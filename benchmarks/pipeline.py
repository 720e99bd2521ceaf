"""Does the tf.data pipeline keep up with training?

Measures, in one run on the MIR-1K training singers, the median time to
produce one training batch (the pipeline alone, remixing on) and the median
time of one training step of a preset on pre-built batches (the model alone),
and prints their ratio. A ratio above 1 means the pipeline is not the
bottleneck.

Run:
    .venv/bin/python benchmarks/pipeline.py [--data ../shared/data/mir1k] [--model sa_shn_mobile]
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
    parser.add_argument("--model", default="sa_shn_mobile")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=200, help="pipeline batches to time")
    parser.add_argument("--steps", type=int, default=20, help="training steps to time")
    args = parser.parse_args()

    import tensorflow as tf

    from keras_sa import data, models, training
    from keras_sa.data import pipeline

    config = models.get_preset(args.model)
    train, _ = data.mir1k_split(data.discover(args.data))
    sources = data.load_sources(train, config.signal.sample_rate)
    dataset = pipeline.training_dataset(sources, config.signal, args.batch_size)

    iterator = iter(dataset)
    next(iterator)  # build the pipeline
    batch_times = []
    for _ in range(args.batches):
        start = time.perf_counter()
        next(iterator)
        batch_times.append(time.perf_counter() - start)

    model = models.build(config)
    trainer = training.compile_for_training(model, steps=1000)
    fixed = list(dataset.take(4).cache())
    inputs, targets = fixed[0]
    trainer.train_on_batch(inputs, targets)  # trace
    step_times = []
    for i in range(args.steps):
        inputs, targets = fixed[i % len(fixed)]
        start = time.perf_counter()
        trainer.train_on_batch(inputs, targets)
        step_times.append(time.perf_counter() - start)

    batch = statistics.median(batch_times)
    step = statistics.median(step_times)
    print(f"{len(sources)} training clips, batch size {args.batch_size}, {os.cpu_count()} CPU cores, "
          f"TF {tf.__version__}")
    print(f"pipeline: median {batch * 1e3:.1f} ms per batch ({args.batch_size / batch:.0f} examples/s)")
    print(f"{args.model} training step: median {step * 1e3:.1f} ms per batch "
          f"({args.batch_size / step:.1f} examples/s)")
    print(f"pipeline / model throughput: {step / batch:.1f}x")


if __name__ == "__main__":
    main()
