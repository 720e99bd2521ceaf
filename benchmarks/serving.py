"""Latency and peak memory of the TensorFlow Serving export, next to the Keras Separator.

The song from ../shared/data/songs, decoded to mono 16 kHz, is cut to
inputs of 10 s, 30 s and its full 133 s, and each is separated by two
engines:

- ``savedmodel``: the ``serving_default`` signature of the SavedModel that
  ``keras-sa export savedmodel`` writes, loaded with ``tf.saved_model.load``:
  the graph TensorFlow Serving runs, without the server (no request
  decoding, no network). The whole input is one call.
- ``keras``: ``keras_sa.separation.Separator.separate`` on the same mono
  16 kHz samples (30 s blocks with 2 s margins).

Time: one process per input loads both engines, makes one warm-up call to
each, then alternates them for --repeats calls each, so that any other load
on the machine falls on both alike; the median is reported. Memory: one
fresh process per input and engine makes one warm-up and one timed call and
reports its peak resident memory (ru_maxrss), next to the resident memory
once the engine is loaded.

Also printed: what the clients do to a 30 s request, encoding it as REST
JSON (row format) and as a gRPC ``PredictRequest``.

Run:
    .venv/bin/python benchmarks/serving.py [--model default] [--repeats 5] [--threads 0]
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
RATE = 16000
ENGINES = ("savedmodel", "keras")


def _rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _client_costs(samples):
    """Request sizes and encoding times of both clients for ``samples``."""
    from keras_sa.serving.client import GrpcClient, RestClient, check_waveform

    batch, _ = check_waveform(samples)
    costs = {}
    start = time.perf_counter()
    body = json.dumps(RestClient("localhost:8501", "m").build_request(batch)).encode()
    costs["rest_encode_s"], costs["rest_bytes"] = time.perf_counter() - start, len(body)
    start = time.perf_counter()
    wire = GrpcClient("localhost:8500", "m").build_request(batch).SerializeToString()
    costs["grpc_encode_s"], costs["grpc_bytes"] = time.perf_counter() - start, len(wire)
    return costs


def _engine(name, export_dir, model, samples):
    """A function that separates ``samples`` with the named engine."""
    import tensorflow as tf

    if name == "savedmodel":
        signature = tf.saved_model.load(export_dir).signatures["serving_default"]
        waveform = tf.constant(samples[None])
        return lambda: signature(waveform=waveform)["vocals"].numpy()
    from keras_sa.separation import Separator

    # The float model that the SavedModel holds, run in process: the same
    # weights and arithmetic on both engines.
    separator = Separator.from_pretrained(model, backend="keras")
    return lambda: separator.separate(samples, RATE)["vocals"]


def worker(mode, export_dir, model, seconds, repeats, threads):
    """Runs in a child process; prints one JSON line.

    ``mode`` is ``"timing"`` (both engines, alternating) or an engine name
    (its memory).
    """
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from keras_sa.audio import load_audio

    samples, _ = load_audio(SONG, sample_rate=RATE, mono=True)
    samples = samples[0, : int(seconds * RATE)] if seconds else samples[0]
    result = {"audio_s": len(samples) / RATE}
    if mode == "timing":
        runs = {name: _engine(name, export_dir, model, samples) for name in ENGINES}
        times = {name: [] for name in ENGINES}
        for index in range(repeats + 1):
            for name in ENGINES:
                start = time.perf_counter()
                runs[name]()
                times[name].append(time.perf_counter() - start)
        result["first_s"] = {name: values[0] for name, values in times.items()}
        result["times"] = {name: values[1:] for name, values in times.items()}
        if seconds == 30:
            result["client"] = _client_costs(samples)
    else:
        run = _engine(mode, export_dir, model, samples)
        result["loaded_mb"] = _rss_mb()
        run()
        run()
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _child(args, export_dir, mode, seconds):
    result = subprocess.run(
        [sys.executable, __file__, "--model", args.model, "--repeats", str(args.repeats),
         "--threads", str(args.threads), "--worker", mode, export_dir, str(seconds)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 30, 0],
                        help="input lengths (0: the whole song)")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "EXPORT", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, export_dir, seconds = args.worker
        worker(mode, export_dir, args.model, float(seconds), args.repeats, args.threads)
        return

    command = "benchmarks/serving.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "keras_sa.cli", "export", "savedmodel", "--model", args.model,
             "-o", str(Path(folder) / "model"), "--version", "1"],
            check=True, capture_output=True, text=True,
        )
        export_dir = str(Path(folder) / "model" / "1")
        print(f"model={args.model} threads={args.threads or 'all'} cores={os.cpu_count()} "
              f"repeats={args.repeats} (median after one warm-up call; engines alternate)")
        print(f"{'engine':<12}{'audio s':>8}{'median s':>10}{'ms per s':>10}{'x realtime':>12}"
              f"{'first s':>9}{'loaded MB':>11}{'peak MB':>9}")
        client, peaks = None, {}
        for seconds in args.seconds:
            timing = _child(args, export_dir, "timing", seconds)
            client = timing.get("client", client)
            audio = timing["audio_s"]
            for engine in ENGINES:
                memory = _child(args, export_dir, engine, seconds)
                median = statistics.median(timing["times"][engine])
                peaks.setdefault(engine, []).append((audio, memory["peak_mb"]))
                print(f"{engine:<12}{audio:>8.1f}{median:>10.3f}{1000 * median / audio:>10.1f}"
                      f"{audio / median:>12.1f}{timing['first_s'][engine]:>9.2f}"
                      f"{memory['loaded_mb']:>11.0f}{memory['peak_mb']:>9.0f}")
        print("\nms per s: milliseconds per second of audio; first s: the warm-up call (tracing).")
        for engine, points in peaks.items():
            (short, low), (long, high) = min(points), max(points)
            if long > short:
                print(f"{engine}: peak memory grows {(high - low) / (long - short):.2f} MB per second of "
                      f"audio from {short:.0f} s to {long:.0f} s")
        if client:
            print(f"30 s request: REST JSON {client['rest_bytes'] / 2**20:.1f} MB encoded in "
                  f"{1000 * client['rest_encode_s']:.0f} ms; gRPC {client['grpc_bytes'] / 2**20:.1f} MB "
                  f"in {1000 * client['grpc_encode_s']:.0f} ms")
        print(f"command: .venv/bin/python {command.strip()}")


if __name__ == "__main__":
    main()
