"""The fuzz harnesses in CI: each one briefly under atheris, and every input that once crashed one.

The long run (a million executions per harness) is ``scripts/fuzz.py``;
``docs/reliability.md`` has its figures. What counts as a crash is defined
in ``fuzz/harnesses.py``: an undocumented exception, a warning, more than
1 s, or allocations beyond the per-input bound.
"""

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fuzz"))

import harnesses  # noqa: E402
import seeds  # noqa: E402

REGRESSIONS = sorted((REPO / "fuzz" / "regressions").glob("*/*"))


@pytest.fixture(scope="module")
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


def _check(name, data):
    harness = harnesses.get(name)
    start = time.perf_counter()
    harness(data)  # raises on an undocumented exception, a warning or the memory bound
    seconds = time.perf_counter() - start
    assert seconds < harnesses.TIME_LIMIT_S, f"{name}: {len(data)}-byte input took {seconds:.2f} s"


@pytest.mark.parametrize("path", REGRESSIONS, ids=[f"{p.parent.name}/{p.name}" for p in REGRESSIONS])
def test_regression_input(path, traced):
    _check(path.parent.name, path.read_bytes())


@pytest.mark.parametrize("name", harnesses.NAMES)
def test_seeds_parse_cleanly(name, traced):
    for data in seeds.SEEDS[name]():
        _check(name, data)


def test_a_size_field_cannot_allocate_what_it_claims(traced):
    """A WAV stream whose fmt chunk claims 4 GB, and one with 65535 channels of float64."""
    fmt_claims_4gb = b"RIFF\xff\xff\xff\xffWAVEfmt \xfe\xff\xff\xff" + b"\0" * 64
    wide = (b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00" + bytes.fromhex("0300ffff401f0000") + b"\0\0\0\0"
            + (65535 * 8 % 65536).to_bytes(2, "little") + b"\x40\x00" + b"data\xff\xff\xff\xff" + b"\0" * 1024)
    for data in (fmt_claims_4gb, wide):
        _check("wavstream", data)


@pytest.mark.parametrize("name", harnesses.NAMES)
def test_harness_runs_under_atheris(name, tmp_path):
    pytest.importorskip("atheris")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fuzz.py"), name, "--seconds", "3", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, (summary, (tmp_path / name / "log.txt").read_text()[-3000:])
    assert summary["executions"] > 100 and summary["coverage_edges"] > 10
    assert summary["crashes"] == summary["timeouts"] == summary["out_of_memory"] == summary["chatter_lines"] == 0
