"""Shared fixtures. GUI tests need an X server (run under xvfb-run, as `make test` does)."""

import os
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():  # a checkout elsewhere can point at the shared data
    SHARED = Path(os.environ.get("USANNOTATOR_SHARED", "/work/shared"))
DATA = SHARED / "data"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Settings, caches and autosave journals of a test never touch the user's own."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture
def data_dir():
    if not DATA.exists():
        pytest.fail(f"the shared data folder is missing: {DATA}")
    return DATA


@pytest.fixture
def small_document():
    """A 3-label document on a speckle volume with anisotropic geometry."""
    from usannotator.core import Document, Geometry, Volume

    rng = np.random.default_rng(1)
    image = (rng.random((30, 40, 50)) * 200).astype(np.uint8)
    labels = np.zeros(image.shape, np.uint16)
    labels[5:25, 5:15, 5:20] = 1
    labels[5:25, 5:15, 25:45] = 2
    labels[2:28, 20:35, 5:45] = 3
    geometry = Geometry((0.3, 0.4, 0.5), (10.0, -5.0, 2.0))
    return Document(Volume(image, geometry), labels)
