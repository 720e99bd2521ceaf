"""Faults on the output side and in the process: full disk, a vanished folder, signals, two writers, broken models.

Each runs the real command (``python -m keras_sa.cli``, the default TFLite
model) on synthesized audio and checks what a user would see: one line on
stderr, the documented exit code, and outputs that are complete or absent
(never a partial file, never a temporary one left behind).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import soundfile as sf

from keras_sa import pretrained

RATE = 44100


def command(*args):
    return [sys.executable, "-m", "keras_sa.cli", *args]


def run_cli(*args, timeout=300):
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout)


def write_noise(path, seconds, channels=2):
    frames = int(seconds * RATE)
    samples = (0.1 * np.random.default_rng(frames).standard_normal((frames, channels))).astype(np.float32)
    sf.write(path, samples, RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def long_song(tmp_path_factory):
    """A minute of stereo noise: long enough to be caught while it is being separated."""
    return write_noise(tmp_path_factory.mktemp("songs") / "long.wav", 60)


@pytest.fixture(scope="module")
def short_song(tmp_path_factory):
    return write_noise(tmp_path_factory.mktemp("songs") / "short.wav", 0.5)


def all_files(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root) for folder, _, names in os.walk(root) for name in names)


def assert_complete(path, frames):
    info = sf.info(path)
    assert info.frames == frames, path
    samples, _ = sf.read(path, dtype="float32")
    assert np.isfinite(samples).all()


def wait_for_temporary_file(process, root, timeout=120):
    """Wait until ``separate`` is writing (a ``.*.tmp`` file exists under ``root``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(name.endswith(".tmp") for name in all_files(root)) if os.path.isdir(root) else False:
            return
        if process.poll() is not None:
            pytest.fail(f"separate ended before writing: {process.communicate()}")
        time.sleep(0.02)
    pytest.fail("separate never started writing")


# ----------------------------------------------------------------------
# the output side


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs, mounted for the test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small_disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_is_one_line_no_partial_file_and_the_batch_goes_on(tmp_path, small_disk, long_song, short_song):
    # The minute of stereo is 21 MB per stem as 32-bit float: far beyond 3 MB; the short file fits.
    result = run_cli("separate", str(long_song), str(short_song), "-o", str(small_disk), "-q")
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"keras-sa: error: {small_disk}/long/") and "No space left on device" in lines[0]
    assert lines[1] == "keras-sa: error: 1 of 2 input(s) failed"
    assert all_files(small_disk) == ["short/accompaniment.wav", "short/vocals.wav"]
    for stem in ("vocals", "accompaniment"):
        assert_complete(small_disk / "short" / f"{stem}.wav", int(0.5 * RATE))


def test_output_folder_removed_while_a_batch_runs(tmp_path, long_song, short_song):
    out = tmp_path / "out"
    process = subprocess.Popen(command("separate", str(long_song), str(short_song), "-o", str(out), "-q"),
                               stderr=subprocess.PIPE, text=True)
    wait_for_temporary_file(process, out)
    shutil.rmtree(out)
    _, err = process.communicate(timeout=300)
    lines = err.splitlines()
    # The song being written fails with one line; the next one is written into the folder made again.
    assert process.returncode == 1
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"keras-sa: error: {out}/long/") and "No such file or directory" in lines[0]
    assert all_files(out) == ["short/accompaniment.wav", "short/vocals.wav"]


def test_two_processes_writing_one_folder_leave_complete_files(tmp_path, long_song, short_song):
    out = tmp_path / "out"
    args = ("separate", str(short_song), str(long_song), "-o", str(out), "-q", "--overwrite")
    first, second = (subprocess.Popen(command(*args), stderr=subprocess.PIPE, text=True) for _ in range(2))
    results = [(process.wait(timeout=600), process.stderr.read()) for process in (first, second)]
    assert results == [(0, ""), (0, "")]
    assert all_files(out) == [f"{song}/{stem}.wav" for song in ("long", "short") for stem in ("accompaniment", "vocals")]
    for song, seconds in (("long", 60), ("short", 0.5)):
        for stem in ("vocals", "accompaniment"):
            assert_complete(out / song / f"{stem}.wav", int(seconds * RATE))


def test_second_writer_without_overwrite_refuses_in_one_line(tmp_path, short_song):
    out = tmp_path / "out"
    assert run_cli("separate", str(short_song), "-o", str(out), "-q").returncode == 0
    result = run_cli("separate", str(short_song), "-o", str(out), "-q")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"keras-sa: error: {out}/short/vocals.wav: exists (use --overwrite)"]


# ----------------------------------------------------------------------
# signals


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def launch(*args, **kwargs):
    """``Popen`` of a command as a terminal starts it in the foreground: SIGINT at its default.

    A shell without job control starts background jobs (and may start this
    suite) with SIGINT ignored, and Python keeps an ignored SIGINT ignored;
    a user's Ctrl-C reaches a foreground command, where it is not.
    """
    return subprocess.Popen(command(*args), preexec_fn=_default_sigint, **kwargs)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_separate_leaves_nothing_half_written(tmp_path, long_song, signum, code):
    out = tmp_path / "out"
    process = launch("separate", str(long_song), "-o", str(out), "-q", stderr=subprocess.PIPE, text=True)
    wait_for_temporary_file(process, out)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code
    assert err == f"keras-sa: interrupted by {signal.Signals(signum).name}\n"
    assert all_files(out) == []
    assert os.listdir(out) == []  # nor the song's folder it had made


def test_sigpipe_during_separate_is_ignored_and_a_closed_stderr_does_not_stop_it(tmp_path, long_song):
    out = tmp_path / "out"
    process = subprocess.Popen(command("separate", str(long_song), "-o", str(out)), stderr=subprocess.PIPE)
    wait_for_temporary_file(process, out)
    process.send_signal(signal.SIGPIPE)  # Python ignores SIGPIPE: a write to a closed pipe raises instead
    process.stderr.read(10)  # the progress bar is drawing
    process.stderr.close()  # the reader goes away (`keras-sa separate ... 2>&1 | head -c 10`)
    assert process.wait(timeout=300) == 0
    for stem in ("vocals", "accompaniment"):
        assert_complete(out / "long" / f"{stem}.wav", 60 * RATE)


def _stream(song):
    return launch("stream", stdin=open(song, "rb"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_stream_is_one_line(long_song, signum, code):
    process = _stream(long_song)
    assert len(process.stdout.read(100_000)) == 100_000  # separating
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code
    assert err.decode() == f"keras-sa: interrupted by {signal.Signals(signum).name}\n"


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_any_other_command_is_one_line(tmp_path, mir1k_root, signum, code):
    """``evaluate`` here: every command, not only separate and stream, ends in one line."""
    process = launch(
        "evaluate", str(mir1k_root), "--baseline", "irm", "--singers", "abjones", "-o", str(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout.readline().startswith("43 clips")  # scoring has begun
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code
    assert err.splitlines()[-1] == f"keras-sa: interrupted by {signal.Signals(signum).name}"
    assert "Traceback" not in err


def test_sigpipe_and_a_closed_stdout_end_stream_quietly(long_song):
    process = _stream(long_song)
    assert len(process.stdout.read(100_000)) == 100_000
    process.send_signal(signal.SIGPIPE)
    process.stdout.close()  # the player quit
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == b""


# ----------------------------------------------------------------------
# broken model files


def _tflite_copy(folder, name, transform):
    source = pretrained.tflite_file("sa_shn_mobile", "dynamic")
    target = folder / f"{name}.tflite"
    target.write_bytes(transform(source.read_bytes()))
    shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))
    return target


def _flip_weight_bytes(data):
    """The model with a few bytes inverted inside its largest constant tensor (weights).

    Still a valid flatbuffer that loads and runs: only its SHA-256 tells.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    largest = b""
    for detail in interpreter.get_tensor_details():
        try:
            values = interpreter.get_tensor(detail["index"]).tobytes()
        except ValueError:  # not a constant: no data before allocation
            continue
        if len(values) > len(largest):
            largest = values
    start = data.find(largest)
    assert len(largest) > 1000 and start > 0
    damaged = bytearray(data)
    for offset in (start + len(largest) // 3, start + len(largest) // 2, start + 2 * len(largest) // 3):
        damaged[offset] ^= 0xFF
    Interpreter(model_content=bytes(damaged)).allocate_tensors()  # still loads
    return bytes(damaged)


def _bad_models(folder):
    """``{model file: expected reason}``."""
    no_contract = _tflite_copy(folder, "no_contract", lambda data: data)
    no_contract.with_suffix(".json").unlink()
    bad_contract = _tflite_copy(folder, "bad_contract", lambda data: data)
    bad_contract.with_suffix(".json").write_text('{"format": "keras_sa.tflite", "model": {"depth": 99}}')
    text_keras = folder / "text.keras"
    text_keras.write_text("not a model\n")
    no_config = folder / "no_config.keras"
    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("config.json", "{}")
    cut_keras = folder / "cut.keras"
    cut_keras.write_bytes(pretrained.resolve("sa_shn_mobile").read_bytes()[:100_000])
    # A contract from before model_sha256: the interpreter is what refuses these bytes.
    old_contract = _tflite_copy(folder, "old_contract_random", lambda data: np.random.default_rng(1).bytes(len(data)))
    contract = json.loads(old_contract.with_suffix(".json").read_text())
    del contract["model_sha256"]
    old_contract.with_suffix(".json").write_text(json.dumps(contract))
    mismatch = "the model file does not match its contract (SHA-256 differs: corrupt or replaced)"
    return {
        _tflite_copy(folder, "truncated", lambda data: data[: len(data) // 8]): mismatch,
        _tflite_copy(folder, "random", lambda data: np.random.default_rng(0).bytes(len(data))): mismatch,
        _tflite_copy(folder, "empty", lambda data: b""): mismatch,
        _tflite_copy(folder, "weights_flipped", _flip_weight_bytes): mismatch,
        old_contract: "not a loadable TFLite model",
        no_contract: "audio contract not found",
        bad_contract: "unreadable audio contract (depth must be a whole number in [1, 16], got 99)",
        text_keras: "unreadable model file (File is not a zip file)",
        no_config: "not a keras_sa model",
        cut_keras: "unreadable model file",
    }


def test_broken_model_files_are_one_line_naming_the_file(tmp_path, short_song):
    for model, reason in _bad_models(tmp_path).items():
        result = run_cli("separate", str(short_song), "-o", str(tmp_path / "out"), "--model", str(model))
        shown = model.with_suffix(".json") if "audio contract" in reason else model
        assert result.returncode == 1, model
        assert result.stderr.splitlines() == [f"keras-sa: error: {shown}: {reason}"] or (
            len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"keras-sa: error: {shown}: {reason}")
        ), result.stderr
    assert not (tmp_path / "out" / "short").exists()
