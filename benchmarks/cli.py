"""Time to stems: the ``keras-sa separate`` command as a user waits for it.

Every run is a fresh process, ``python -m keras_sa.cli separate INPUT... -o
OUT --overwrite -q``, timed from its start to its exit: interpreter start,
imports, model load, interpreter creation or tracing, decoding, separation
and writing both stems are all in. For each model configuration and input,
the command runs ``--repeats`` times (after one untimed run that warms the
page cache); printed are the median wall time, the speed (seconds of audio
per second of wall time, "x real time"), the median peak resident memory
of the process (``ru_maxrss`` from ``os.wait4``, the child alone), its
CPU time (user + system, all threads: on a shared machine it moves less
with other load than the wall time does) and the wall-time ratio against the ``--baseline`` configuration on the same input
in the same run.

Beside the command's figure, each configuration's steady state: a fresh
process loads the separator, separates the 133 s song once to warm up, then
``--repeats`` more times (``keras_sa.separation.separate_file``, the code
behind the command: decode, separate, write); its median is the speed once
start-up is paid.

Configurations: ``default`` (no flags: the bundled dynamic-range TFLite
model), ``int8`` (``--model sa_shn_mobile_int8_float_attention``, int8 input and output), ``keras`` (``--backend
keras``, the float model). Inputs: ``song``, the 133 s stereo 44.1 kHz ogg
in ../shared/data/songs; ``long``, the same repeated to 10 minutes as a
FLAC in a temporary folder; ``batch``, 10 copies of the song in one command.

Run (each under 10 minutes on a 2-core CPU; the README's table is these three):
    .venv/bin/python benchmarks/cli.py --configs default int8 keras --inputs song --repeats 3
    .venv/bin/python benchmarks/cli.py --configs default keras --inputs long --repeats 2
    .venv/bin/python benchmarks/cli.py --configs default --inputs batch --repeats 2 --baseline default

Where one command's time goes (start-up, decoding, model, writing, the
streaming core; see :func:`breakdown_worker`):
    .venv/bin/python benchmarks/cli.py --breakdown default

An earlier conversion beside the default (``git show REV:PATH > FILE`` for the
model and its ``.json`` contract), as configuration ``file``:
    .venv/bin/python benchmarks/cli.py --configs default file --model-file FILE --inputs song --baseline file
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT.parent / "shared" / "data" / "songs" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
CONFIGS = {
    "default": [],
    "int8": ["--model", "sa_shn_mobile_int8_float_attention"],
    "keras": ["--backend", "keras"],
    "file": None,  # --model-file FILE: another model, an earlier conversion say
}
BATCH = 10


def make_inputs(names, folder):
    """``{name: (paths, seconds of audio)}`` for the inputs asked for, made in a child process.

    This process stays small that way: a child's ``ru_maxrss`` counts the
    memory it inherits at fork, so a parent holding the decoded 10-minute
    song would inflate every command's peak.
    """
    command = [sys.executable, __file__, "--make-inputs", str(folder), *names]
    result = subprocess.run(command, env=environment(), capture_output=True, text=True, check=True)
    made = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: ([Path(p) for p in paths], seconds) for name, (paths, seconds) in made.items()}


def make_inputs_worker(names, folder):
    """In the child: writes the inputs into ``folder``; prints them as JSON."""
    import numpy as np
    import soundfile as sf

    from keras_sa.audio import audio_info, load_audio

    rate, _, frames = audio_info(SONG)
    inputs = {}
    if "song" in names:
        inputs["song"] = ([SONG], frames / rate)
    if "long" in names:
        samples, rate = load_audio(SONG)
        repeats = -(-600 * rate // samples.shape[1])
        long = np.tile(samples, repeats)[:, : 600 * rate]
        path = folder / "song_10min.flac"
        sf.write(path, long.T, rate, subtype="PCM_24")
        inputs["long"] = ([path], 600.0)
    if "batch" in names:
        batch = folder / "batch"
        batch.mkdir()
        paths = []
        for index in range(BATCH):
            path = batch / f"song{index:02d}{SONG.suffix}"
            path.symlink_to(SONG)
            paths.append(path)
        inputs["batch"] = (paths, BATCH * frames / rate)
    print(json.dumps({name: ([str(p) for p in paths], seconds) for name, (paths, seconds) in inputs.items()}))


def environment():
    """The user's environment: no TF_CPP_MIN_LOG_LEVEL, this checkout importable."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_command(paths, flags, out):
    """One ``keras-sa separate`` process: ``(wall seconds, peak RSS in MB, CPU seconds)``."""
    command = [sys.executable, "-m", "keras_sa.cli", "separate", *map(str, paths), "-o", str(out),
               "--overwrite", "-q", *flags]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode()
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {error.strip()}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def steady_worker(flags, path, repeats, out):
    """In the child: warm separations of ``path`` after start-up; prints one JSON line."""
    from keras_sa.cli import build_parser
    from keras_sa.cli.common import load_separator
    from keras_sa.separation import separate_file

    args = build_parser().parse_args(["separate", str(path), "-o", str(out), *flags])
    separator = load_separator(args.model, args.backend, args.threads)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        seconds = separate_file(separator, path, out)
        times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "times": times[1:]}))


class _Stages:
    """Wall and CPU seconds (all threads) spent inside wrapped calls, by stage."""

    def __init__(self):
        self.totals = {}

    def wrap(self, name, function):
        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                total = self.totals.setdefault(name, [0.0, 0.0])
                total[0] += time.perf_counter() - wall
                total[1] += time.process_time() - cpu

        return timed


def breakdown_worker(flags, path, out):
    """In the child: where one command's time goes, stage by stage; prints a table.

    Start-up (imports, model load) is timed as the command pays it; then
    ``separate_file`` runs twice and the second, warm run is split into
    decoding (``read_blocks``), the model (the predictor's calls), writing
    (``AudioWriter.write``) and the rest, the streaming core (resampling,
    STFT, windows, masks, overlap-add).
    """
    wall, cpu = time.perf_counter(), time.process_time()
    from keras_sa.cli import build_parser
    from keras_sa.cli.common import load_separator
    from keras_sa import separation

    imported = time.perf_counter() - wall, time.process_time() - cpu
    args = build_parser().parse_args(["separate", str(path), "-o", str(out), *flags])
    separator = load_separator(args.model, args.backend, args.threads)
    loaded = time.perf_counter() - wall - imported[0], time.process_time() - cpu - imported[1]
    separation.separate_file(separator, path, out)

    stages = _Stages()
    predictor = separator.predictor
    separator.predictor = stages.wrap("model", predictor)
    read_blocks, writer = separation.read_blocks, separation.AudioWriter

    def timed_blocks(*args, **kwargs):
        blocks = read_blocks(*args, **kwargs)

        class Blocks:
            __next__ = staticmethod(stages.wrap("decode", blocks.__next__))
            close = staticmethod(blocks.close)

            def __iter__(self):
                return self

        return Blocks()

    class TimedWriter(writer):
        def write(self, samples):
            return stages.wrap("write", super().write)(samples)

    separation.read_blocks, separation.AudioWriter = timed_blocks, TimedWriter
    wall, cpu = time.perf_counter(), time.process_time()
    seconds = separation.separate_file(separator, path, out)
    total = time.perf_counter() - wall, time.process_time() - cpu
    separation.read_blocks, separation.AudioWriter = read_blocks, writer
    core = [total[i] - sum(stage[i] for stage in stages.totals.values()) for i in (0, 1)]
    print(f"{' '.join(flags) or 'default'}: {seconds:.0f} s of audio; start-up and one warm separate_file")
    print("| stage | wall | CPU (all threads) |")
    print("|---|---|---|")
    for name, (stage_wall, stage_cpu) in [("imports", imported), ("model load", loaded)] + list(
        stages.totals.items()
    ) + [("streaming core (the rest)", core), ("separate_file, total", total)]:
        print(f"| {name} | {stage_wall:.2f} s | {stage_cpu:.2f} s |")


def steady(flags, repeats, out):
    command = [sys.executable, __file__, "--steady-worker", json.dumps(flags), str(SONG), str(repeats), str(out)]
    result = subprocess.run(command, env=environment(), capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["seconds"] / statistics.median(report["times"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["default", "keras"], choices=list(CONFIGS))
    parser.add_argument("--inputs", nargs="+", default=["song", "long"], choices=["song", "long", "batch"])
    parser.add_argument("--baseline", default="keras", choices=list(CONFIGS),
                        help="the configuration the ratios are against (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-file", metavar="FILE",
                        help="the model of configuration 'file' (a .tflite file with its contract, or .keras)")
    parser.add_argument("--breakdown", choices=list(CONFIGS),
                        help="instead: where the time of one command goes, stage by stage, on the song")
    parser.add_argument("--steady-worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--make-inputs", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configs = dict(CONFIGS)
    if args.model_file:
        configs["file"] = ["--model", str(Path(args.model_file).resolve())]
    elif "file" in [*args.configs, args.baseline, args.breakdown]:
        parser.error("configuration 'file' needs --model-file")
    if args.make_inputs:
        make_inputs_worker(args.make_inputs[1:], Path(args.make_inputs[0]))
        return
    if args.breakdown:
        with tempfile.TemporaryDirectory(prefix="keras_sa_cli_bench_") as folder:
            breakdown_worker(configs[args.breakdown], SONG, Path(folder))
        return
    if args.steady_worker:
        flags, path, repeats, out = args.steady_worker
        steady_worker(json.loads(flags), Path(path), int(repeats), Path(out))
        return
    if not SONG.is_file():
        raise SystemExit(f"{SONG}: not found (the shared data folder beside the checkout)")

    with tempfile.TemporaryDirectory(prefix="keras_sa_cli_bench_") as folder:
        folder = Path(folder)
        inputs = make_inputs(args.inputs, folder)
        results = {}
        for config in args.configs:
            flags = configs[config]
            steady_speed = steady(flags, args.repeats, folder / "steady")
            for name, (paths, seconds) in inputs.items():
                out = folder / "out"
                run_command(paths, flags, out)  # warms the page cache and any first-run work
                runs = [run_command(paths, flags, out) for _ in range(args.repeats)]
                shutil.rmtree(out, ignore_errors=True)
                wall = statistics.median(r[0] for r in runs)
                results[config, name] = {
                    "audio_s": seconds, "wall_s": wall, "speed": seconds / wall, "steady": steady_speed,
                    "peak_mb": statistics.median(r[1] for r in runs), "walls": [round(r[0], 2) for r in runs],
                    "cpu_s": statistics.median(r[2] for r in runs),
                }
                print(f"# {config} {name}: {results[config, name]}", file=sys.stderr, flush=True)

    print(f"keras-sa separate, fresh process per command, median of {args.repeats} "
          f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end)")
    print()
    print("| configuration | input | audio | wall time | x real time | steady x real time | CPU time | peak RSS "
          f"| speed-up vs {args.baseline} |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (config, name), row in results.items():
        base = results.get((args.baseline, name))
        ratio = f"{base['wall_s'] / row['wall_s']:.2f}" if base else "n/a"
        print(f"| {config} | {name} | {row['audio_s']:.0f} s | {row['wall_s']:.2f} s | {row['speed']:.1f} "
              f"| {row['steady']:.1f} | {row['cpu_s']:.2f} s | {row['peak_mb']:.0f} MB | {ratio} |")
    print()
    print("steady: in-process, warm, the 133 s song (decode, separate, write), median of the repeats.")
    print("CPU time: user + system seconds of the command's process, all threads (less sensitive to other load).")


if __name__ == "__main__":
    main()
