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


@pytest.fixture
def settings_dir(tmp_path, qapp):
    """QSettings of this test only (recent files, window layout, plugin settings)."""
    from PySide6.QtCore import QSettings

    qapp.setOrganizationName("usannotator-tests")
    qapp.setApplicationName("usannotator-tests")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings().clear()
    return tmp_path


@pytest.fixture
def make_window(qtbot, settings_dir):
    """make_window(plugins=[plugin, ...], active=False) opens a real main window with those plugins
    activated (plugin objects, as their modules expose them), made the active window when asked,
    and closes it after the test."""
    from usannotator.gui.app import create_window
    from usannotator.plugins.discovery import PluginRecord

    windows = []

    def make(plugins=(), active=False):
        records = [PluginRecord(p.name, f"{type(p).__module__}:plugin", plugin=p) for p in plugins]
        win = create_window(records=records)
        win.resize(1200, 800)
        win.show()
        qtbot.waitExposed(win)
        windows.append(win)
        if active:   # window shortcuts (number keys, Shift+C...) reach only the active window
            win.activateWindow()
            qtbot.waitUntil(win.isActiveWindow, timeout=5000)
        return win

    yield make
    for win in windows:
        if win.document is not None:
            win.document.modified = False   # closing must not stop on the unsaved-changes question
        win.close()
