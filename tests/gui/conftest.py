import numpy as np
import pytest
from PySide6.QtCore import QSettings

pytestmark = pytest.mark.gui


@pytest.fixture
def settings_dir(tmp_path, qapp):
    qapp.setOrganizationName("usannotator-tests")
    qapp.setApplicationName("usannotator-tests")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings().clear()
    return tmp_path


@pytest.fixture
def window(qtbot, settings_dir):
    from usannotator.gui.app import create_window

    win = create_window(records=[])
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.document is not None:
        win.document.modified = False
    win.close()
