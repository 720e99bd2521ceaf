"""Size, cost and CPU speed of every model preset.

For each preset: parameters, multiply-accumulates per second of audio (one
model pass per ``window_hop`` frames, as the Separator runs it) and the
median CPU time of one model window, turned into seconds of compute per
second of audio. Untrained weights: speed does not depend on them.

Run:
    .venv/bin/python benchmarks/presets.py [--repeats 20] [--threads 0]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1, help="windows per model call")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    parser.add_argument("--presets", nargs="*")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from keras_sa import models

    names = args.presets or list(models.PRESETS)
    print(f"CPU: {os.cpu_count()} cores, threads={args.threads or 'all'}, batch={args.batch}, "
          f"repeats={args.repeats}")
    header = f"{'preset':<15}{'params':>9}{'GMAC/s':>9}{'ms/window':>11}{'s per s audio':>15}{'x realtime':>12}"
    print(header)
    for name in names:
        config = models.get_preset(name)
        signal = config.signal
        model = models.build(config)
        inference = tf.function(lambda x, m=model: m(x, training=False)[-1], jit_compile=False)
        window = np.random.default_rng(0).random(
            (args.batch, signal.patch_frames, signal.n_bins, 1)
        ).astype("float32")
        inference(window)  # trace
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            inference(window).numpy()
            times.append((time.perf_counter() - start) / args.batch)
        per_window = statistics.median(times)
        windows_per_second = signal.frames_per_second / signal.window_hop
        compute_per_second = per_window * windows_per_second
        macs = models.count_macs(model) * windows_per_second
        print(
            f"{name:<15}{model.count_params() / 1e6:>8.2f}M{macs / 1e9:>9.2f}"
            f"{per_window * 1e3:>11.1f}{compute_per_second:>15.3f}{1 / compute_per_second:>12.1f}"
        )


if __name__ == "__main__":
    main()
