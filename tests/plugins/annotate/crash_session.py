"""A real window in its own process, for the crash test (test_gui_crash.py).

    python crash_session.py paint IMAGE SPARSE OUT N
        Opens IMAGE with its SPARSE labels, paints N brush strokes with real mouse events (on the three
        views in turn), writes the labels after each finished stroke to OUT/expected.npy, then starts
        stroke N+1, prints PAINTING and waits to be killed.
    python crash_session.py recover OUT
        Starts as the application does (offering every pending autosave), chooses Restore, writes the
        labels to OUT/recovered.npy and the status line to OUT/report.txt, then closes normally
        (discarding the restored changes, so that nothing asks to save them).
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from tests.plugins.annotate.gui_driver import screen_pos  # noqa: E402
from usannotator.gui.app import create_app, create_window  # noqa: E402
from usannotator.plugins.discovery import PluginRecord  # noqa: E402
from usannotator_plugins import annotate  # noqa: E402


def wait_for(app, condition, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def start():
    app = create_app()
    window = create_window(records=[PluginRecord("annotate", "usannotator_plugins.annotate:plugin",
                                                 plugin=annotate.plugin)])
    window.resize(1200, 800)
    window.show()
    wait_for(app, window.isVisible)
    return app, window


def path_of(i: int):
    """Stroke i: a short diagonal, different on every stroke."""
    return [(8 + 2 * (i % 10), 6 + i % 7), (12 + 2 * (i % 10), 20 + i % 9), (10 + 2 * (i % 10), 30)]


def paint(image, sparse, out, n):
    app, window = start()
    window.open_path(image, labels=sparse)
    wait_for(app, lambda: window.document is not None and window.autosave.journal is not None)
    window.reset_views()
    next(t for t in window.host.tools if t.name == "brush").action.trigger()
    annotate.plugin.gui.brush.set_radius(2)
    for i in range(n + 1):
        window.label_panel.set_active_label(1 + i % 3)
        view = window.slice_views[i % 3]
        points = [screen_pos(view, r, c) for r, c in path_of(i)]
        QTest.mousePress(view.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for p in points[1:]:
            QTest.mouseMove(view.canvas, p)
        if i == n:
            break   # the stroke being drawn when the process dies
        QTest.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
        np.save(out / "expected.tmp.npy", window.document.labels)
        os.replace(out / "expected.tmp.npy", out / "expected.npy")
    assert len(window.document.history) == n
    region, values = view.label_preview
    assert (values != window.document.labels[region]).any(), "the unfinished stroke would change nothing"
    print("PAINTING", flush=True)
    while True:
        app.processEvents()
        time.sleep(0.01)


def recover(out):
    app, window = start()
    window.autosave.offer_pending()     # what the application does at start-up
    wait_for(app, lambda: window.autosave.offer is not None and window.autosave.offer.isVisible())
    (out / "offer.txt").write_text(window.autosave.offer.text() + "\n" + window.autosave.offer.informativeText())
    window.autosave.offer.choose("restore")
    wait_for(app, lambda: window.document is not None and window.autosave.journal is not None)
    np.save(out / "recovered.npy", window.document.labels)
    (out / "report.txt").write_text(window.statusBar().currentMessage())
    window.document.modified = False    # the user discards the restored changes and quits
    window.close()
    app.processEvents()


if __name__ == "__main__":
    if sys.argv[1] == "paint":
        paint(sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]))
    else:
        recover(Path(sys.argv[2]))
