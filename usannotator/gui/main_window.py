"""The main window: three linked slice views and a 3D view, the label panel, menus, plugin host."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QMainWindow, QMessageBox, QProgressBar, QPushButton,
                               QCheckBox, QSlider, QSplitter, QToolBar, QWidget)

from usannotator.core.edits import OverwriteRule
from usannotator.core.errors import UserError
from usannotator.gui.autosave import Autosave
from usannotator.gui.dialogs import PluginsDialog, show_about, show_error
from usannotator.gui.host import Host
from usannotator.gui.icons import icon
from usannotator.gui.jobs import JobRunner
from usannotator.gui.keyslice_strip import KeySliceStrip
from usannotator.gui.label_panel import LabelPanel
from usannotator.gui.slice_view import SliceView
from usannotator.gui.state import ViewState
from usannotator.gui.tools import NavigateTool
from usannotator.gui.volume_view import VolumeView
from usannotator.jobs import Job

MAX_RECENT = 10
VOLUME_FILTER = ("Volumes (*.nii *.nii.gz *.nrrd *.mha *.mhd *.png *.dcm);;Sessions (*.usa.json);;All files (*)")
LABEL_FILTER = "Label maps (*.nii.gz *.nii *.nrrd *.seg.nrrd *.mha);;All files (*)"


class JobWidget(QWidget):
    """A job's progress bar and Cancel button in the status bar; gone when the job ends."""

    def __init__(self, handle, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = handle.title
        self.label = QLabel(handle.title)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(160)
        self.cancel = QPushButton(icon("cancel"), "Cancel")
        self.cancel.setToolTip(f"Stop '{handle.title}'; nothing changes")
        self.cancel.clicked.connect(handle.cancel)
        for w in (self.label, self.bar, self.cancel):
            layout.addWidget(w)
        handle.progressed.connect(self._progress)
        handle.ended.connect(self.deleteLater)

    def _progress(self, fraction, message):
        self.bar.setValue(int(fraction * 1000))
        if message:   # the message goes beside the bar, which keeps only its percentage
            self.label.setText(f"{self.title}: {message}")


class MainWindow(QMainWindow):
    document_loaded = Signal()

    def __init__(self, records=None):
        super().__init__()
        self.setWindowTitle("usannotator")
        self.setAcceptDrops(True)
        self.document = None
        self.phantom = None
        self.state = ViewState()
        self.runner = JobRunner(self, QSettings().value("model/device", "auto"))
        self.runner.started.connect(self._show_job)
        self.menus = {}
        self.host = Host(self)
        self._build_views()
        self._build_menus()
        self._build_docks()
        self._build_status()
        self.autosave = Autosave(self)
        self.navigate_tool = NavigateTool(self.state)
        self.host.add_tool(self.navigate_tool)
        self.records = records if records is not None else []
        self._activate_plugins()
        self._restore_settings()

    # ----- layout -----
    def _build_views(self):
        self.slice_views = [SliceView(axis, self.state, self.host, self) for axis in range(3)]
        self.volume_view = VolumeView(self.state, self)
        grid = QWidget(self)
        layout = QGridLayout(grid)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(4)
        layout.addWidget(self.slice_views[0], 0, 0)
        layout.addWidget(self.volume_view, 0, 1)
        layout.addWidget(self.slice_views[1], 1, 0)
        layout.addWidget(self.slice_views[2], 1, 1)
        self.setCentralWidget(grid)
        for view in self.slice_views:
            view.hovered.connect(self._show_pointer_info)
        self.state.cursor_changed.connect(self._show_cursor_info)

    def _build_menus(self):
        bar = self.menuBar()
        for name in ("File", "Edit", "View", "Tools", "Plugins", "Help"):
            self.menus[name] = bar.addMenu(f"&{name}")
        m = self.menus["File"]
        self._action(m, "Open…", self.open_dialog, QKeySequence.StandardKey.Open, "open", "Open a volume or a session")
        self._action(m, "Open labels…", self.open_labels_dialog, "Ctrl+L", None, "Open a label map for the current volume")
        self._action(m, "Open demo", self.open_demo, None, "demo", "Open the bundled demo phantom with its key slices")
        self.recent_menu = m.addMenu("Recent files")
        m.addSeparator()
        self._action(m, "Save session", self.save_session, QKeySequence.StandardKey.Save, "save",
                     "Save the labels, label table, provenance and view as a session")
        self._action(m, "Save session as…", self.save_session_as, QKeySequence.StandardKey.SaveAs)
        self._action(m, "Export labels…", self.export_labels, "Ctrl+E", None,
                     "Write the label map as NIfTI, NRRD, MetaImage or 3D Slicer .seg.nrrd")
        self._action(m, "Save screenshot…", self.screenshot_dialog, None, "screenshot")
        m.addSeparator()
        self._action(m, "Quit", self.close, QKeySequence.StandardKey.Quit, "quit")

        e = self.menus["Edit"]
        self.undo_action = self._action(e, "Undo", self.undo, QKeySequence.StandardKey.Undo, "undo")
        self.redo_action = self._action(e, "Redo", self.redo, QKeySequence.StandardKey.Redo, "redo")
        self._update_history_actions()

        v = self.menus["View"]
        self._action(v, "Reset views", self.reset_views, "R", "reset", "Fit every view to the window")
        self.outline_action = self._action(v, "Label outlines", lambda on: self.state.set_outline(on), "O", None,
                                           "Show labels as outlines instead of filled areas")
        self.outline_action.setCheckable(True)
        self._action(v, "Auto contrast", lambda: self._auto_contrast(), "A", "contrast")
        v.addSeparator()

        self._action(self.menus["Plugins"], "Plugins…", self.show_plugins, None, "plugins",
                     "Which plugins loaded, and why any failed")
        self._action(self.menus["Help"], "About usannotator", lambda: show_about(self), None, "about")

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        for a in (self.menus["File"].actions()[0], self.undo_action, self.redo_action):
            toolbar.addAction(a)
        self.addToolBar(toolbar)
        self.tools_bar = QToolBar("Tools", self)
        self.tools_bar.setObjectName("toolsToolbar")
        self.addToolBar(self.tools_bar)
        self.rule_box = QComboBox(self)
        for rule in OverwriteRule:
            self.rule_box.addItem(rule.title, rule)
        self.rule_box.setToolTip("What painting may overwrite. Locked labels are protected under every rule.")
        self.rule_box.currentIndexChanged.connect(
            lambda i: setattr(self.host, "overwrite_rule", self.rule_box.itemData(i)))
        self.tools_bar.addWidget(self.rule_box)
        for digit in range(1, 10):
            QShortcut(QKeySequence(str(digit)), self, activated=lambda d=digit: self.label_panel.set_active_label(d))

    def _action(self, menu, text, slot, shortcut=None, icon_name=None, tip=""):
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_docks(self):
        self.label_panel = LabelPanel(self)
        self.label_panel.active_label_changed.connect(lambda v: self.host.active_label_changed.emit(v))
        self.labels_dock = self.host.add_dock(self.label_panel, "Labels", "left")
        self.display_panel = self._display_panel()
        self.host.add_dock(self.display_panel, "Display", "left")
        self.keyslice_strip = KeySliceStrip(self.state, self.host, self)
        self.host.add_dock(self.keyslice_strip, "Key slices", "bottom")

    def _display_panel(self):
        panel = QWidget(self)
        form = QFormLayout(panel)
        self.window_box = QDoubleSpinBox(panel, decimals=1, maximum=1e9, minimum=0.1)
        self.level_box = QDoubleSpinBox(panel, decimals=1, maximum=1e9, minimum=-1e9)
        self.window_box.setToolTip("Contrast window (right-drag horizontally in a view)")
        self.level_box.setToolTip("Contrast level (right-drag vertically in a view)")
        for box in (self.window_box, self.level_box):
            box.editingFinished.connect(lambda: self.state.set_contrast(self.window_box.value(), self.level_box.value()))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, panel)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Label overlay opacity")
        self.opacity_slider.valueChanged.connect(lambda v: self.state.set_label_opacity(v / 100))
        self.outline_box = QCheckBox("Outline only", panel)
        self.outline_box.toggled.connect(self.state.set_outline)
        form.addRow("Window", self.window_box)
        form.addRow("Level", self.level_box)
        form.addRow("Label opacity", self.opacity_slider)
        form.addRow("", self.outline_box)
        self.state.display_changed.connect(self._sync_display_panel)
        return panel

    def _sync_display_panel(self):
        for widget, value in ((self.window_box, self.state.window), (self.level_box, self.state.level),
                              (self.opacity_slider, int(round(self.state.label_opacity * 100))),
                              (self.outline_box, self.state.outline), (self.outline_action, self.state.outline)):
            widget.blockSignals(True)
            widget.setChecked(value) if isinstance(value, bool) else widget.setValue(value)
            widget.blockSignals(False)

    def _build_status(self):
        self.pointer_label = QLabel("")
        self.pointer_label.setObjectName("pointerInfo")
        # permanent, so that temporary messages (left) never hide what is under the pointer
        self.statusBar().addPermanentWidget(self.pointer_label, 1)

    def _show_job(self, handle):
        widget = JobWidget(handle, self)
        self.statusBar().addPermanentWidget(widget)

    # ----- plugins -----
    def _activate_plugins(self):
        for record in self.records:
            if not record.ok:
                continue
            try:
                record.plugin.activate(self.host)
                record.state = "active"
            except Exception as exc:  # noqa: BLE001 - a plugin failing at start-up is reported, not fatal
                record.fail("failed to start", exc)

    def show_plugins(self):
        PluginsDialog(self.records, self).exec()

    def plugins_report(self) -> list:
        return [{"name": r.name, "state": r.state, "ok": r.ok, "error": r.error} for r in self.records]

    # ----- documents -----
    def set_document(self, document, phantom=None):
        if self.document is not None:
            self.host.document_closed.emit()
        for view in self.slice_views + [self.volume_view]:
            view.document = None   # the cursor reset below must not reach views holding the old volume
        self.document = document
        self.phantom = phantom
        self.state.reset(document.volume)
        self.label_panel.set_label_table(document.label_table)
        for view in self.slice_views:
            view.set_document(document)
        self.volume_view.set_document(document)
        document.history_changed.connect(self._update_history_actions)
        document.labels_changed.connect(self._on_labels_changed)
        self._update_history_actions()
        self._update_title()
        self._sync_display_panel()
        self.host.document_opened.emit(document)
        self.document_loaded.emit()

    def _update_title(self, *_):
        if self.document is None:
            self.setWindowTitle("usannotator")
            return
        name = self.document.volume.name or Path(self.document.volume.path or "untitled").name
        self.setWindowTitle(f"{name}{' *' if self.document.modified else ''} — usannotator")

    def _on_labels_changed(self, _region):
        self._update_title()

    def confirm_discard(self) -> bool:
        """Ask before unsaved labels would be lost. True when it is safe to go on."""
        if self.document is None or not self.document.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved labels", "The labels have changes that are not saved. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save_session()
        return answer == QMessageBox.StandardButton.Discard

    def open_path(self, path: str, labels: str | None = None):
        """Open a volume or a session in the background; the window stays responsive."""
        if not self.confirm_discard():
            return None
        path = str(path)
        if path.endswith(".usa.json"):
            return self._load(f"Opening {Path(path).name}", _open_session_job, self._session_loaded, path=path)
        return self._load(f"Opening {Path(path).name}", _open_volume_job, self._volume_loaded,
                          path=path, labels=labels)

    def _load(self, title, run, done, **kwargs):
        def failed(message, details):
            show_error(self, "Could not open", message, details if "Traceback" in details and
                       "UserError" not in details else "")
        return self.runner.submit(Job(title, run, kwargs=kwargs), done, on_error=failed)

    def _volume_loaded(self, result):
        from usannotator.core import Document

        volume, labels, table = result
        doc = Document(volume, labels, table)
        if labels is not None:
            from usannotator.core import Provenance

            doc.provenance = Provenance.from_sparse_labels(doc.labels, volume.sweep_axis)
            doc.labels_path = result[0].metadata.get("labels_path")
        self.set_document(doc)
        if volume.metadata.get("converted_to_grey"):
            self.host.status(f"{volume.path}: colour image converted to grey")
        self._remember(volume.path)

    def _session_loaded(self, result):
        document, view = result
        self.set_document(document)
        self.state.apply_dict(view or {})
        self._remember(document.session_path)

    def open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open volume or session", self._last_dir(), VOLUME_FILTER)
        if path:
            self._set_last_dir(path)
            self.open_path(path)

    def open_labels_dialog(self):
        if self.document is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open labels", self._last_dir(), LABEL_FILTER)
        if path:
            self.open_labels(path)

    def open_labels(self, path: str):
        from usannotator.io import read_labels

        try:
            labels, _, table = read_labels(path, like=self.document.volume)
        except UserError as exc:
            show_error(self, "Could not open labels", str(exc))
            return
        if not self.confirm_discard():
            return
        if table is not None:
            for label in table:
                if label.value in self.document.label_table:
                    self.document.label_table.update(label.value, name=label.name, color=label.color)
        self.document.replace_labels(labels)
        self.document.labels_path = str(path)
        self.host.status(f"Opened labels {Path(path).name}: {len(np.unique(labels)) - 1} labels")

    def open_demo(self):
        if not self.confirm_discard():
            return None
        return self._load("Generating the demo phantom", _demo_job, self._demo_loaded)

    def _demo_loaded(self, result):
        document, phantom = result
        self.set_document(document, phantom)
        keys = document.key_slices(1)
        if len(keys):   # open on a key slice, so the annotations are in view from the start
            middle = keys[np.argmin(np.abs(keys - document.volume.shape[0] // 2))]
            self.state.set_cursor((int(middle),) + self.state.cursor[1:])

    def save_session(self) -> bool:
        if self.document is None:
            return False
        if not self.document.session_path:
            return self.save_session_as()
        return self._save_session_to(self.document.session_path)

    def save_session_as(self) -> bool:
        if self.document is None:
            return False
        suggested = str(Path(self._last_dir()) / f"{_stem(self.document.volume)}.usa.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save session", suggested, "Sessions (*.usa.json)")
        if not path:
            return False
        if not path.endswith(".usa.json"):
            path = path.removesuffix(".json") + ".usa.json"
        return self._save_session_to(path)

    def _save_session_to(self, path) -> bool:
        from usannotator.io import save_session

        try:
            save_session(path, self.document, self.state.to_dict())
        except UserError as exc:
            show_error(self, "Could not save", f"{exc}\nYour labels are still open; nothing was lost.")
            return False
        self.document.session_path = str(path)
        self.document.modified = False
        self._update_title()
        self._remember(path)
        self.host.status(f"Saved {path}")
        return True

    def export_labels(self):
        from usannotator.io import write_labels

        if self.document is None:
            return
        suggested = str(Path(self._last_dir()) / f"{_stem(self.document.volume)}.labels.nii.gz")
        path, _ = QFileDialog.getSaveFileName(self, "Export labels", suggested, LABEL_FILTER)
        if not path:
            return
        try:
            write_labels(path, self.document.labels, self.document.volume.geometry, self.document.label_table)
        except UserError as exc:
            show_error(self, "Could not export", str(exc))
            return
        self.host.status(f"Labels written to {path}")

    # ----- editing -----
    def undo(self):
        if self.document is not None:
            change = self.document.undo()
            if change:
                self.host.status(f"Undone: {change.description}")

    def redo(self):
        if self.document is not None:
            change = self.document.redo()
            if change:
                self.host.status(f"Redone: {change.description}")

    def _update_history_actions(self):
        history = self.document.history if self.document is not None else None
        can_undo = history is not None and history.can_undo()
        can_redo = history is not None and history.can_redo()
        self.undo_action.setEnabled(can_undo)
        self.redo_action.setEnabled(can_redo)
        self.undo_action.setText(f"Undo {history.undo_text()}" if can_undo else "Undo")
        self.redo_action.setText(f"Redo {history.redo_text()}" if can_redo else "Redo")

    # ----- views -----
    def reset_views(self):
        for view in self.slice_views:
            if view.document is not None:
                view.reset_camera()

    def _auto_contrast(self):
        if self.document is not None:
            self.state.auto_contrast(self.document.volume.array)

    def render_all(self):
        for view in self.slice_views:
            if view.document is not None:
                view.render()
        self.volume_view.render()

    def _show_pointer_info(self, point):
        if point is None or self.document is None or not point.inside:
            self._show_cursor_info(self.state.cursor)
            return
        self.pointer_label.setText(self.describe_voxel(point.voxel))

    def _show_cursor_info(self, cursor):
        if self.document is not None:
            self.pointer_label.setText(self.describe_voxel(cursor))

    def describe_voxel(self, voxel) -> str:
        doc = self.document
        world = doc.volume.geometry.index_to_world(voxel)
        value = doc.labels[voxel]
        name = doc.label_table[value].name if value in doc.label_table else ("background" if value == 0 else str(value))
        parts = [f"voxel (z,y,x) {voxel[0]}, {voxel[1]}, {voxel[2]}",
                 "world {:.1f}, {:.1f}, {:.1f} mm".format(*world),
                 f"intensity {doc.volume.array[voxel]:g}", f"label {name}"]
        for overlay in self.state.overlays:
            text = overlay.describe(voxel) if overlay.visible else None
            if text:
                parts.append(text)
        return "   ".join(parts)

    def save_screenshot(self, path: str) -> None:
        """The whole window, as shown (VTK views included), written atomically as PNG."""
        from usannotator.io import atomic_output

        self.render_all()
        image = self.screen().grabWindow(self.winId()).toImage()
        with atomic_output(path) as tmp:
            if not image.save(str(tmp), "PNG"):
                raise UserError("could not write the screenshot", path)

    def screenshot_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", self._last_dir(), "PNG (*.png)")
        if path:
            try:
                self.save_screenshot(path)
            except UserError as exc:
                show_error(self, "Could not save screenshot", str(exc))

    # ----- drag and drop -----
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        if self.document is not None and _looks_like_labels(paths[0], self.document.volume.shape):
            self.open_labels(paths[0])
        else:
            self._set_last_dir(paths[0])
            self.open_path(paths[0])

    # ----- settings -----
    def _restore_settings(self):
        s = QSettings()
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        self.state.label_opacity = float(s.value("view/label_opacity", 0.5))
        self._refresh_recent()

    def _last_dir(self) -> str:
        return str(QSettings().value("files/last_dir", str(Path.home())))

    def _set_last_dir(self, path):
        QSettings().setValue("files/last_dir", str(Path(path).parent))

    def recent_files(self) -> list:
        value = QSettings().value("files/recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, path):
        if not path:
            return
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != path]
        QSettings().setValue("files/recent", [path] + recent[: MAX_RECENT - 1])
        self._refresh_recent()

    def _refresh_recent(self):
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def closeEvent(self, event):
        if not self.confirm_discard():
            event.ignore()
            return
        self.autosave.stop()   # saved or discarded: a normal close leaves no autosave
        s = QSettings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("view/label_opacity", self.state.label_opacity)
        for record in self.records:
            if record.state == "active":
                try:
                    record.plugin.deactivate(self.host)
                except Exception:  # noqa: BLE001 - closing must not fail because of a plugin
                    pass
        self.runner.shutdown()
        for view in self.slice_views:
            view.close_view()
        self.volume_view.close_view()
        event.accept()


# ----- background loaders (run in worker threads: no Qt here) -----
def _open_volume_job(progress, path, labels=None):
    from usannotator.io import read_labels, read_volume

    progress.update(0.1, "reading image")
    volume = read_volume(path)
    label_array, table = None, None
    if labels:
        progress.update(0.6, "reading labels")
        label_array, _, table = read_labels(labels, like=volume)
        volume.metadata["labels_path"] = str(labels)
    progress.update(1.0, "done")
    return volume, label_array, table


def _open_session_job(progress, path):
    from usannotator.io import open_session

    progress.update(0.1, "reading session")
    return open_session(path)


def _demo_job(progress):
    from usannotator.demo import demo_document

    progress.update(0.05, "generating phantom")
    return demo_document()


def _stem(volume) -> str:
    name = Path(volume.path).name if volume.path else (volume.name or "untitled")
    for ext in (".igs.mha", ".nii.gz", ".seg.nrrd", ".nii", ".nrrd", ".mha", ".mhd", ".png"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name.replace(" ", "_")


def _looks_like_labels(path, shape) -> bool:
    """A dropped file is taken as labels when it is an integer volume of the open image's shape."""
    from usannotator.io import describe_file

    try:
        info = describe_file(path)
    except UserError:
        return False
    return tuple(info.get("size_numpy_zyx", ())) == tuple(shape) and "int" in str(info.get("dtype", "")) and \
        bool(info.get("label_values"))
