"""Starting the GUI: the Qt application, plugins, the first document, and the screenshot mode."""

from __future__ import annotations

import json
import os
import sys
import time


def create_app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("usannotator")
    app.setApplicationName("usannotator")
    app.setWindowIcon(_application_icon())
    return app


def _application_icon():
    from pathlib import Path

    from PySide6.QtGui import QIcon

    # resources/ sits beside the package, from source and inside the bundle alike
    return QIcon(str(Path(__file__).resolve().parents[2] / "resources" / "icons" / "usannotator.svg"))


def create_window(records=None):
    from usannotator.gui.main_window import MainWindow
    from usannotator.plugins import discover

    return MainWindow(discover() if records is None else records)


def wait_for_jobs(app, window, timeout_s: float = 120.0) -> None:
    """Process events until the window's background jobs are done (screenshot mode, tests)."""
    deadline = time.monotonic() + timeout_s
    while window.runner.active and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


def run_gui(args) -> int:
    from usannotator.core.errors import UserError

    if args.file and not os.path.exists(args.file):
        raise UserError("no such file or folder", args.file)
    app = create_app()
    window = create_window()
    window.show()
    failures = []
    window.runner.started.connect(lambda h: h.failed.connect(lambda m, d: failures.append(m)))
    if not (args.file or args.demo or args.screenshot):
        window.autosave.offer_pending()   # autosaves left by a session that did not close normally
    if args.demo:
        window.open_demo()
    elif args.file:
        window.open_path(args.file, labels=args.labels)
    if not args.screenshot:
        return app.exec()
    wait_for_jobs(app, window)
    if failures:
        raise UserError(failures[0])
    for _ in range(5):  # let layouts settle and every view draw before grabbing
        app.processEvents()
        time.sleep(0.05)
    window.reset_views()
    window.save_screenshot(args.screenshot)
    if args.plugins_report:
        with open(args.plugins_report, "w", encoding="utf-8") as f:
            json.dump(window.plugins_report(), f, indent=2)
    if window.document is not None:
        window.document.modified = False  # a screenshot run saves nothing, so asks nothing
    window.close()
    return 0
