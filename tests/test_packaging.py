"""The package as a user installs it: a built wheel in a fresh virtual environment.

The wheel must carry the bundled models, so that ``keras-sa separate`` works from
any folder without the source tree. The fresh environment gets the wheel alone
(``--no-deps``) and borrows the dependencies of the test environment through a
``.pth`` path entry: installing TensorFlow again would take minutes.
"""

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    (path,) = out.glob("keras_sa-*.whl")
    return path


def test_wheel_carries_the_bundled_models(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = sorted(p.name for p in (REPO / "keras_sa" / "pretrained").iterdir()
                     if p.suffix in (".keras", ".tflite", ".json", ".md"))
    assert bundled, "no bundled models in the source tree"
    for name in bundled:
        assert f"keras_sa/pretrained/{name}" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "android_demo/")) for n in names)


def test_installed_wheel_separates_from_any_folder(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=600)
    # Dependencies from the test environment, after the fresh site-packages, so that
    # keras_sa itself can only come from the wheel.
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    rate = 22050
    t = np.arange(rate * 2) / rate
    song = np.stack([np.sin(2 * np.pi * 220 * t), 0.5 * np.sin(2 * np.pi * 330 * t)], axis=1)
    soundfile.write(str(work / "song.wav"), (0.3 * song).astype(np.float32), rate, subtype="FLOAT")
    where = subprocess.run([str(python), "-c", "import keras_sa; print(keras_sa.__file__)"], cwd=work,
                           check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(env_dir))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(env_dir / "bin" / "keras-sa"), "separate", "song.wav", "-o", "out"],
                            cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    vocals, vocals_rate = soundfile.read(str(work / "out" / "song" / "vocals.wav"), dtype="float32")
    accompaniment, _ = soundfile.read(str(work / "out" / "song" / "accompaniment.wav"), dtype="float32")
    assert vocals_rate == rate and vocals.shape == song.shape
    np.testing.assert_allclose(vocals + accompaniment, 0.3 * song, atol=1e-6)
