"""Shared test fixtures."""

from pathlib import Path

import pytest

# The project reads real audio from ../shared/data beside the checkout; it is
# never copied into the repository (see its README.md).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """The shared data folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mir1k_root(shared_data):
    """The MIR-1K stems (``<clip>/vocals.opus``, ``accompaniment.opus``)."""
    root = shared_data / "mir1k"
    if not root.is_dir():
        pytest.skip(f"MIR-1K stems not found at {root}")
    return root
