"""The web demo's speed: the whole page in headless Chromium beside ``keras-sa separate``.

For the 133 s song (stereo 44.1 kHz ogg in ../shared/data/songs), each run is a fresh headless
Debian Chromium (playwright-core, ``web_demo/test/browser/drive_page.mjs``) that opens the page
from ``keras-sa web``'s server on 127.0.0.1 and is timed from the page's load to the stems'
end: loading the page, LiteRT.js and the model, decoding the ogg, and separating it (LiteRT.js
on one WebAssembly thread, the signal chain in the same Web Worker); the browser's own start is
not counted. Beside it, in the same run, the Python default path as a user waits for it: a
fresh ``python -m keras_sa.cli separate SONG -o OUT --overwrite`` process, start to exit.
Printed: the median of ``--repeats`` runs (after one untimed run of each), x real time, the
page's split (load; decode; separation, of it the model, per window), and the peak memory of
each side's whole process tree (the sum of the processes' proportional set sizes, sampled every
50 ms: Chromium's browser, renderer, GPU and utility processes; Python's one process), and the
same for Chromium with the page loaded and idle, what the browser costs before any audio.

Run with background work paused (the figures move with other load):
    .venv/bin/python benchmarks/web.py --repeats 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT.parent / "shared" / "data" / "songs" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
DRIVER = ROOT / "web_demo" / "test" / "browser" / "drive_page.mjs"


def cpu_summary():
    """The CPU's model name and its vector extensions, from /proc/cpuinfo."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16")
    return f"{model}; {os.cpu_count()} CPUs; flags: {' '.join(f for f in wanted if f in flags)}"


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as file:
            return [int(p) for p in file.read().split()]
    except OSError:
        return []


def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as file:
            for line in file:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples the summed PSS of a process and its descendants in a thread; ``peak_mb`` after ``stop()``."""

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self):
        pids, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo.extend(_children(pid))
        return pids

    def _run(self):
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in self._tree()))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


def run_page(url, out, song=SONG):
    """One page run: (seconds from load to stems, report of the file, peak MB of the browser).

    With ``song=None`` the page is loaded and left idle: (load seconds, report, None, peak MB).
    """
    files = ["--file", str(song)] if song else []
    process = subprocess.Popen(
        ["node", str(DRIVER), "--url", url, "--out", str(out), *files, "--no-save"],
        cwd=ROOT / "web_demo", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    memory = PeakMemory(process.pid)
    _, stderr = process.communicate(timeout=900)
    peak = memory.stop()
    if process.returncode:
        sys.exit(f"the page run failed: {stderr[-2000:]}")
    report = json.loads((Path(out) / "report.json").read_text())
    if song is None:
        return report["loadMs"] / 1000, report, None, peak
    (result,) = report["files"]
    if result["phase"] != "done":
        sys.exit(f"the page did not separate the song: {result['error']}")
    return (report["loadMs"] + result["wallMs"]) / 1000, report, result, peak


def run_python(out):
    """One ``keras-sa separate`` run: (wall seconds, peak MB)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_sa.cli", "separate", str(SONG), "-o", str(out), "--overwrite"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    memory = PeakMemory(process.pid)
    _, stderr = process.communicate(timeout=900)
    wall = time.perf_counter() - start
    peak = memory.stop()
    if process.returncode:
        sys.exit(f"keras-sa separate failed: {stderr[-2000:]}")
    return wall, peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if not SONG.is_file():
        sys.exit(f"{SONG}: not found")
    from keras_sa.audio.io import audio_info
    from keras_sa.cli import web

    rate, _, frames = audio_info(SONG)
    seconds = frames / rate
    server = web.make_server(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(cpu_summary())
    print(f"{SONG.name}: {seconds:.1f} s; model {web.DEFAULT_MODEL}; {args.repeats} runs each after one untimed run")
    pages, pythons = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats + 1):
            page = run_page(url, Path(tmp) / f"page{repeat}")
            python = run_python(Path(tmp) / "python")
            if repeat:
                pages.append(page)
                pythons.append(python)
                wall, _, result, peak = page
                stats = result["stats"]
                print(
                    f"  run {repeat}: page {wall:.2f} s ({seconds / wall:.1f}x; separation {stats['separateMs'] / 1000:.2f} s, "
                    f"model {stats['modelMs'] / 1000:.2f} s), {peak:.0f} MB; python {python[0]:.2f} s "
                    f"({seconds / python[0]:.1f}x), {python[1]:.0f} MB",
                    flush=True,
                )
        idle = run_page(url, Path(tmp) / "idle", song=None)
    server.shutdown()

    def median(values):
        return statistics.median(values)

    page_wall = median([p[0] for p in pages])
    load = median([p[1]["loadMs"] for p in pages]) / 1000
    decode = median([p[2]["stats"]["decodeMs"] for p in pages]) / 1000
    separate = median([p[2]["stats"]["separateMs"] for p in pages]) / 1000
    model = median([p[2]["stats"]["modelMs"] for p in pages]) / 1000
    windows = pages[0][2]["stats"]["windows"]
    python_wall = median([p[0] for p in pythons])
    print()
    print("| path | wall time | x real time | page load | decode | separation | of it the model | per window | peak memory |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| web page, headless Chromium, LiteRT.js 1 thread | {page_wall:.2f} s | **{seconds / page_wall:.1f}** | {load:.2f} s "
        f"| {decode:.2f} s | {separate:.2f} s ({seconds / separate:.1f}x) | {model:.2f} s | {1000 * model / windows:.1f} ms "
        f"| {median([p[3] for p in pages]):.0f} MB |"
    )
    print(f"| `keras-sa separate` (default model) | {python_wall:.2f} s | {seconds / python_wall:.1f} | | | | | | "
          f"{median([p[1] for p in pythons]):.0f} MB |")
    print(f"\nthe page takes {page_wall / python_wall:.2f}x the Python command's time")
    print(f"Chromium with the page loaded and idle (model ready, nothing separated): {idle[3]:.0f} MB")


if __name__ == "__main__":
    main()
