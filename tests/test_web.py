"""The web demo end to end: ``keras-sa web`` serving the page, Debian's Chromium driven by playwright-core.

The page separates the real mp3 song in ``../shared/data/songs``; its stems are checked against
the decoded input (length, rate, channels, sum) and against the Python ``Separator`` run on the
same decoded samples with the same model file. Every request the page makes must stay on
127.0.0.1, and the page's own scripts must log no console error. Bad inputs each get their one
line on the page, and Cancel stops the work.

Skipped, with the reason, when node, the npm packages (``npm ci`` in ``web_demo``), Chromium or
the shared data are absent; ``scripts/test.sh`` installs the first three.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile

from keras_sa.cli import web

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "web_demo"
DRIVER = DEMO / "test" / "browser" / "drive_page.mjs"
CHROMIUM = os.environ.get("KERAS_SA_CHROMIUM", "/usr/bin/chromium")
SONG = "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"
MODEL = REPO / "tflite" / "models" / web.DEFAULT_MODEL

#: Stems against Python's Separator on the same decoded samples, signal-to-error ratio per channel.
#: At the model's rate (16 kHz, nothing resampled) the two agree to float rounding: LiteRT.js and
#: Python's LiteRT run the float32 model alike (measured 123.4-123.7 dB, max abs error 1.5e-6).
#: At 44.1 kHz the page resamples with the JavaScript twin of the Java core's filter and Python
#: with soxr; the two filters' slightly different 16 kHz signals reach the float model, whose
#: masks follow them (measured on the mp3: see MIN_SNR_DB_RESAMPLED's comparison in the README).
MIN_SNR_DB_MODEL_RATE = 100.0
MIN_SNR_DB_RESAMPLED = 40.0


def _missing():
    if shutil.which("node") is None:
        return "node is not installed"
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        # Debian 12's own nodejs is 18; playwright-core needs 20 or later.
        return f"node {version} is older than 20, which playwright-core needs"
    if not (DEMO / "node_modules" / "playwright-core").is_dir() or not (DEMO / "node_modules" / "@litertjs").is_dir():
        return f"the npm packages are not installed: run `npm ci` in {DEMO}"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set KERAS_SA_CHROMIUM)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def server():
    """``keras-sa web``'s server on a free port of 127.0.0.1, in a thread."""
    httpd = web.make_server(0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def drive(url, out, files, *flags):
    """Runs the Playwright driver; returns its report."""
    command = ["node", str(DRIVER), "--url", url, "--out", str(out), "--chromium", CHROMIUM, *flags]
    for file in files:
        command += ["--file", str(file)]
    result = subprocess.run(command, cwd=DEMO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((Path(out) / "report.json").read_text())


def assert_local_only(report, url):
    origin = urllib.parse.urlsplit(url).netloc
    assert report["requests"], "no request recorded"
    for request in report["requests"]:
        address = request[len("blob:"):] if request.startswith("blob:") else request
        parts = urllib.parse.urlsplit(address)
        assert parts.scheme == "http" and parts.netloc == origin, f"request left 127.0.0.1: {request}"


def own_console_errors(report):
    """Console errors and warnings from the page's own files (LiteRT.js's WebGPU probe is not ours)."""
    return [
        m for m in report["console"]
        if m["type"] in ("error", "warning") and "/node_modules/" not in m["url"] and not m["url"].startswith("blob:")
    ]


def snr_db(reference, estimate):
    return 10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / np.sum((reference.astype(np.float64) - estimate) ** 2))


@pytest.fixture(scope="module")
def separated_song(server, shared_data, tmp_path_factory):
    song = shared_data / "songs" / SONG
    if not song.is_file():
        pytest.skip(f"{song} not found")
    out = tmp_path_factory.mktemp("web")
    # The same song at the model's rate, as a float WAV (decoded by the page's own WAV reader).
    import soxr

    samples, rate = soundfile.read(song, dtype="float32")
    at_model_rate = out / "song_16k.wav"
    soundfile.write(at_model_rate, soxr.resample(samples, rate, 16000), 16000, subtype="FLOAT")
    screenshot = os.environ.get("KERAS_SA_WEB_SCREENSHOT", str(out / "page.png"))
    return song, out, drive(server, out, [at_model_rate, song], "--screenshot", screenshot)


def compare_with_python(folder):
    """The page's stems and Python's Separator's on the page's decoded input: SNR and max abs error per stem and channel."""
    from keras_sa.separation import Separator

    mixture, rate = soundfile.read(folder / "input.wav", dtype="float32", always_2d=True)
    python = Separator.from_file(MODEL, backend="tflite", threads=1).separate(mixture.T, rate)
    figures = {}
    for name in ("vocals", "accompaniment"):
        stem, _ = soundfile.read(folder / f"{name}.wav", dtype="float32", always_2d=True)
        figures[name] = [
            (snr_db(python[name][c], stem[:, c]), float(np.max(np.abs(python[name][c] - stem[:, c])))) for c in range(stem.shape[1])
        ]
    return figures


def test_page_matches_python_at_the_model_rate(separated_song):
    _, out, report = separated_song
    assert report["files"][0]["phase"] == "done", report["files"][0]["error"]
    figures = compare_with_python(out / "0")
    print("16 kHz, page vs Python (SNR dB, max abs error):", figures)
    for name, channels in figures.items():
        for channel, (snr, error) in enumerate(channels):
            assert snr >= MIN_SNR_DB_MODEL_RATE and error <= 1e-5, f"{name} channel {channel}: {snr:.1f} dB, {error:.2g}"


def test_page_separates_the_mp3_song_as_python_does(separated_song, server):
    song, out, report = separated_song
    result = report["files"][1]
    out = out / "1"
    assert result["phase"] == "done", result["error"]
    assert result["attribution"].startswith('Audio: "Slow Motion Dream" by Steven M Bryant')
    assert result["vocalsName"] == SONG.replace(".mp3", "_vocals.wav")
    mixture, rate = soundfile.read(out / "input.wav", dtype="float32", always_2d=True)
    vocals, vocals_rate = soundfile.read(out / "vocals.wav", dtype="float32", always_2d=True)
    accompaniment, accompaniment_rate = soundfile.read(out / "accompaniment.wav", dtype="float32", always_2d=True)
    info = soundfile.info(song)
    # The input's rate and channels, and its length as the browser decoded it (libsndfile's
    # mp3 decoder may trim the encoder's padding differently: within one mp3 frame).
    assert rate == vocals_rate == accompaniment_rate == info.samplerate
    assert mixture.shape[1] == vocals.shape[1] == accompaniment.shape[1] == info.channels
    assert vocals.shape == accompaniment.shape == mixture.shape
    assert abs(mixture.shape[0] - info.frames) <= 1152 * 2
    np.testing.assert_allclose(vocals + accompaniment, mixture, rtol=0, atol=1e-6)

    figures = compare_with_python(out)
    print("44.1 kHz mp3, page vs Python (SNR dB, max abs error):", figures)
    for name, channels in figures.items():
        for channel, (snr, _) in enumerate(channels):
            assert snr >= MIN_SNR_DB_RESAMPLED, f"{name} channel {channel}: {snr:.1f} dB from Python's Separator"
    assert_local_only(report, server)
    assert not report["pageErrors"]
    assert not own_console_errors(report), own_console_errors(report)


def _truncated_wav(path):
    samples = np.sin(np.linspace(0, 300, 44100 * 2)).astype(np.float32) * 0.3
    soundfile.write(path, np.stack([samples, samples], axis=1), 44100, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _hour_wav(path):
    # An hour of 8 kHz 8-bit silence: 28.8 MB, whose header says so.
    with soundfile.SoundFile(path, "w", 8000, 1, subtype="PCM_U8") as out:
        block = np.zeros(8000 * 60, np.float32)
        for _ in range(60):
            out.write(block)


def test_bad_inputs_get_one_line_each(server, tmp_path):
    from keras_sa.audio.headers import truncation

    text = tmp_path / "notes.txt"
    text.write_text("not audio at all\n" * 100)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.mp3"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50000, dtype=np.uint8).tobytes())
    truncated = tmp_path / "cut.wav"
    _truncated_wav(truncated)
    hour = tmp_path / "hour.wav"
    _hour_wav(hour)
    report = drive(server, tmp_path / "out", [text, empty, noise, truncated, hour])
    errors = {Path(r["file"]).name: r for r in report["files"]}
    assert all(r["phase"] == "error" for r in errors.values()), errors
    assert errors["notes.txt"]["error"] == "notes.txt: not an audio file this browser can decode"
    assert errors["empty.wav"]["error"] == "empty.wav: empty file"
    assert errors["noise.mp3"]["error"].startswith("noise.mp3: ")
    # The same words as the Python package (and the Java core) use.
    assert errors["cut.wav"]["error"] == f"cut.wav: {truncation(truncated)}"
    assert errors["hour.wav"]["error"] == "hour.wav: too long (3600.0 s; the limit is 3600 s)"
    # Refused from its header: the hour is never decoded (seconds, not the minutes a decode takes).
    assert errors["hour.wav"]["wallMs"] < 10000
    assert_local_only(report, server)
    assert not own_console_errors(report), own_console_errors(report)


def test_a_model_that_differs_from_its_contract_is_refused_in_one_line(tmp_path):
    # One byte changed inside the weights: the model would still load and run, giving wrong stems.
    damaged = tmp_path / "damaged.tflite"
    data = bytearray(MODEL.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    shutil.copy(MODEL.with_suffix(".json"), damaged.with_suffix(".json"))
    httpd = web.make_server(0, model=damaged)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        tone = tmp_path / "tone.wav"
        soundfile.write(tone, np.sin(np.arange(16000) / 5.0).astype(np.float32) * 0.1, 16000)
        report = drive(f"http://127.0.0.1:{httpd.server_address[1]}/", tmp_path / "out", [tone])
    finally:
        httpd.shutdown()
        httpd.server_close()
    (result,) = report["files"]
    assert result["phase"] == "error"
    # The same words as the Python package and the Java core use.
    assert result["error"].endswith(
        "model.tflite: the model file does not match its contract (SHA-256 differs: corrupt or replaced)"
    ), result["error"]
    assert "\n" not in result["error"]


def test_cancel_stops_the_work_and_the_page_separates_again(server, shared_data, tmp_path):
    song = shared_data / "songs" / SONG
    if not song.is_file():
        pytest.skip(f"{song} not found")
    report = drive(server, tmp_path, [song, song], "--cancel", "--live")
    cancelled, again = report["files"]
    assert cancelled["phase"] == "cancelled"
    assert 0 < cancelled["progressAtCancel"] < 1
    assert cancelled["progressAfter"] == cancelled["progressAtCancel"], "progress after Cancel"
    assert again["phase"] == "done"
    # Live mode: the accompaniment began to play while the rest was being separated, within
    # about the stream's latency of audio after the file was picked (measured: 0.25 s, decoding
    # included; the 133 s ogg 1.06 s).
    assert again["stats"]["firstAudioMs"] is not None
    assert again["stats"]["firstAudioMs"] < min(again["wallMs"], 3000)


def test_keras_sa_web_serves_the_page_on_localhost(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_sa.cli", "web", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("web demo: http://127.0.0.1:"), line
        url = line.split()[2]
        with urllib.request.urlopen(url) as response:
            assert response.status == 200
            assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert b"js/app.js" in response.read()
        with urllib.request.urlopen(url + "model/model.json") as response:
            assert json.load(response)["quantization"] == "float32"
    finally:
        process.terminate()
        process.wait(timeout=10)
    missing = subprocess.run(
        [sys.executable, "-m", "keras_sa.cli", "web", "--root", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "no web page here" in missing.stderr
