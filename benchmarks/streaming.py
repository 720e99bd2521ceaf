"""Streaming separation: speed on one thread, latency per bundled model, memory over long streams.

Three measurements, each worker in a fresh process:

- *speed*: the 133 s song from ../shared/data/songs (stereo, 44.1 kHz),
  decoded into memory (resampled to each of ``--rates``), streamed through ``Separator.stream(rate, 2)`` in
  chunks of ``--chunk`` samples (the Python API, one window per predictor
  call as a live stream runs it), ``--repeats`` times after a warm-up on
  another stream: the median wall time and the speed in seconds of audio per
  second. One thread: the LiteRT models run one one-thread interpreter
  (dynamic-range and int8_float_attention conversions of the default model), the Keras
  float model runs with TensorFlow's intra- and inter-op threads set to 1
  and a batch of one window (the predictor pads every call to its batch).
  The ratio is against the Keras float model in the same run; "in the
  model" is the share of the time spent in the predictor (the rest is the
  stream: resampling, STFT, features, masks, inverse STFT, delay line).
- *latency*: ``StreamingSeparator.latency_seconds`` of each bundled model
  at common input rates (computed from its STFT, window hop and the
  resamplers; no audio needed).
- *memory*: the song looped to 60 minutes and streamed in chunks of
  ``--chunk`` samples through the Python API (dynamic-range TFLite model
  and Keras float model); the process's peak resident memory (VmHWM) after
  10 and after 60 minutes of input, and the stream's largest buffers; then
  the same stream as WAV piped through ``keras-sa stream --threads 1``
  (default model and backend; output to /dev/null) and that process's peak
  resident memory after 10 and 60 minutes.

Run:
    .venv/bin/python benchmarks/streaming.py [--repeats 3] [--chunk 4096] [--minutes 10 60]
        [--rates 44100 8000] [--skip speed latency memory cli]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT.parent / "shared" / "data" / "songs" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
PRETRAINED = ROOT / "keras_sa" / "pretrained"
RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000)


def _separator(backend, model):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend == "keras":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras_sa.separation import Separator

    if backend == "keras":
        return Separator.from_file(model, backend="keras", batch_size=1)
    return Separator.from_file(model, backend="tflite", threads=1)


def _stream(separator, samples, rate, chunk):
    stream = separator.stream(rate, samples.shape[0])
    returned = 0
    for first in range(0, samples.shape[1], chunk):
        returned += stream.process(samples[:, first : first + chunk])[0].shape[1]
    returned += stream.flush()[0].shape[1]
    assert returned == samples.shape[1]
    return stream


class _Timed:
    """A predictor that adds up the time spent in the one it wraps."""

    def __init__(self, predictor):
        self.predictor, self.config, self.seconds = predictor, predictor.config, 0.0

    def __call__(self, features):
        start = time.perf_counter()
        masks = self.predictor(features)
        self.seconds += time.perf_counter() - start
        return masks


def speed_worker(backend, model, repeats, chunk, rate):
    from keras_sa.audio import load_audio

    separator = _separator(backend, model)
    separator.predictor = timed = _Timed(separator.predictor)
    samples, _ = load_audio(SONG, sample_rate=rate)
    _stream(separator, samples[:, : rate * 10], rate, chunk)  # warm-up: tracing, first allocations
    times, model_shares = [], []
    for _ in range(repeats):
        timed.seconds = 0.0
        start = time.perf_counter()
        _stream(separator, samples, rate, chunk)
        times.append(time.perf_counter() - start)
        model_shares.append(timed.seconds / times[-1])
    print(json.dumps({"times": times, "model_shares": model_shares, "seconds": samples.shape[1] / rate}))


def _status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB -> MB
    raise KeyError(key)


def memory_worker(backend, model, minutes, chunk):
    import numpy as np

    from keras_sa.audio import load_audio

    separator = _separator(backend, model)
    song, rate = load_audio(SONG)
    stream = separator.stream(rate, song.shape[0])
    marks, fed, largest, started = sorted(minutes), 0, {}, time.perf_counter()
    peaks = []
    position = 0
    while marks:
        piece = song[:, position : position + chunk]
        if piece.shape[1] < chunk:  # loop the song
            position = chunk - piece.shape[1]
            piece = np.concatenate([piece, song[:, :position]], axis=1)
        else:
            position += chunk
        stream.process(piece)
        fed += chunk
        for name, size in stream.buffer_sizes().items():
            largest[name] = max(largest.get(name, 0), size)
        if fed >= marks[0] * 60 * rate:
            peaks.append({"minutes": marks.pop(0), "vmhwm_mb": _status("VmHWM"), "vmrss_mb": _status("VmRSS"),
                          "buffers": dict(largest), "wall_s": time.perf_counter() - started})
    stream.flush()
    print(json.dumps(peaks))


def _child_status(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def cli_memory(minutes, chunk):
    """Pipes the looped song as a WAV stream through ``keras-sa stream``; its peak RSS at each mark."""
    import tempfile

    import numpy as np

    from keras_sa.audio import load_audio
    from keras_sa.audio.wavstream import WavStreamWriter

    song, rate = load_audio(SONG)
    command = [sys.executable, "-m", "keras_sa.cli", "stream", "--stem", "accompaniment", "--threads", "1"]
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors,
                                 cwd=ROOT)
        writer = WavStreamWriter(child.stdin, rate, song.shape[0])
        marks, fed, position, peaks, started = sorted(minutes), 0, 0, [], time.perf_counter()
        try:
            while marks:
                piece = song[:, position : position + chunk]
                if piece.shape[1] < chunk:
                    position = chunk - piece.shape[1]
                    piece = np.concatenate([piece, song[:, :position]], axis=1)
                else:
                    position += chunk
                writer.write(piece)
                fed += chunk
                if fed >= marks[0] * 60 * rate:
                    peaks.append({"minutes": marks.pop(0), "vmhwm_mb": _child_status(child.pid, "VmHWM"),
                                  "vmrss_mb": _child_status(child.pid, "VmRSS"),
                                  "wall_s": time.perf_counter() - started})
            child.stdin.close()
        except BrokenPipeError:
            pass
        if child.wait():
            errors.seek(0)
            sys.exit(f"keras-sa stream failed:\n{errors.read().decode()}")
    return peaks


def _run(*worker_args):
    result = subprocess.run(
        [sys.executable, __file__, "--worker", *map(str, worker_args)],
        capture_output=True, text=True, cwd=ROOT,
    )
    if result.returncode:
        sys.exit(f"worker {worker_args} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def latencies():
    from keras_sa import pretrained
    from keras_sa.models.saving import read_config
    from keras_sa.separation import Separator

    print("\nlatency (StreamingSeparator.latency_seconds, batch_windows=1)")
    print(f"{'model':<16}{'window_hop':>11}" + "".join(f"{rate:>9}" for rate in RATES))
    for name in pretrained.available():
        config = read_config(pretrained.resolve(name))
        separator = Separator(_ConfigOnly(config))
        row = "".join(f"{separator.stream(rate, 1).latency_seconds:>8.3f}s" for rate in RATES)
        print(f"{name:<16}{config.signal.window_hop:>11}{row}")


class _ConfigOnly:
    """The latency needs only the model's configuration, not its weights."""

    def __init__(self, config):
        self.config = config


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=4096, help="input samples per process() call")
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument(
        "--rates", type=int, nargs="+", default=[44100],
        help="input rates of the speed runs (the song is resampled to each before it is streamed)",
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["speed", "latency", "memory", "cli"])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, backend, model, *rest = args.worker
        if kind == "speed":
            speed_worker(backend, model, int(rest[0]), int(rest[1]), int(rest[2]))
        else:
            memory_worker(backend, model, [float(m) for m in rest[1:]], int(rest[0]))
        return

    candidates = [
        ("keras float32", "keras", PRETRAINED / "sa_shn_mobile.keras"),
        ("tflite dynamic", "tflite", PRETRAINED / "sa_shn_mobile_dynamic.tflite"),
        ("tflite int8, float attention", "tflite", PRETRAINED / "sa_shn_mobile_int8_float_attention.tflite"),
    ]
    if "speed" not in args.skip:
        print(f"speed: {SONG.name} (133 s, stereo, resampled from 44.1 kHz to each rate) streamed in chunks "
              f"of {args.chunk} samples, one thread, median of {args.repeats} after a warm-up")
        print(f"{'model':<18}{'rate':>7}{'time':>9}{'x real time':>13}{'vs keras':>10}{'in the model':>14}")
        for rate in args.rates:
            keras_speed = None
            for label, backend, path in candidates:
                result = _run("speed", backend, path, args.repeats, args.chunk, rate)
                median = statistics.median(result["times"])
                speed = result["seconds"] / median
                keras_speed = keras_speed or speed
                share = statistics.median(result["model_shares"])
                print(f"{label:<18}{rate:>7}{median:>8.2f}s{speed:>13.1f}{speed / keras_speed:>10.2f}{share:>13.0%}")
    if "latency" not in args.skip:
        latencies()
    if "memory" not in args.skip:
        print(f"\nmemory: the song looped, chunks of {args.chunk} samples; peak RSS (VmHWM) after each mark")
        print(f"{'model':<18}{'minutes':>8}{'peak RSS':>11}{'RSS':>9}{'wall':>9}  largest buffers")
        for label, backend, path in candidates[:2]:
            for mark in _run("memory", backend, path, args.chunk, *args.minutes):
                buffers = ", ".join(f"{k} {v}" for k, v in mark["buffers"].items())
                print(f"{label:<18}{mark['minutes']:>8g}{mark['vmhwm_mb']:>9.0f}MB{mark['vmrss_mb']:>7.0f}MB"
                      f"{mark['wall_s']:>8.0f}s  {buffers}")
    if "cli" not in args.skip:
        print(f"\nkeras-sa stream --threads 1 (default model and backend), the looped song piped in as WAV "
              f"in chunks of {args.chunk} samples; the command's peak RSS (VmHWM) after each mark")
        print(f"{'minutes':>8}{'peak RSS':>11}{'RSS':>9}{'wall':>9}{'x real time':>13}")
        for mark in cli_memory(args.minutes, args.chunk):
            print(f"{mark['minutes']:>8g}{mark['vmhwm_mb']:>9.0f}MB{mark['vmrss_mb']:>7.0f}MB{mark['wall_s']:>8.0f}s"
                  f"{mark['minutes'] * 60 / mark['wall_s']:>13.1f}")


if __name__ == "__main__":
    main()
