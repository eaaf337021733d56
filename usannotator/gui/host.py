"""The plugin host: the one small API through which plugins reach the running application."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from usannotator.core.edits import LockedLabelError, OverwriteRule
from usannotator.core.errors import UserError
from usannotator.core.events import Signal
from usannotator.gui.dialogs import show_error
from usannotator.gui.icons import icon

DOCK_AREAS = {"left": Qt.DockWidgetArea.LeftDockWidgetArea, "right": Qt.DockWidgetArea.RightDockWidgetArea,
              "bottom": Qt.DockWidgetArea.BottomDockWidgetArea, "top": Qt.DockWidgetArea.TopDockWidgetArea}


class Host:
    """What plugins see. See usannotator.plugins.api for the contract."""

    def __init__(self, window):
        self.window = window
        self.document_opened = Signal()     # (document)
        self.document_closed = Signal()     # ()
        self.active_label_changed = Signal()  # (value)
        self.tools = []
        self._tool_group = QActionGroup(window)
        self._tool_group.setExclusive(True)
        self.active_tool = None
        self.overwrite_rule = OverwriteRule.EVERYTHING
        self.docks = []

    # ----- data -----
    @property
    def document(self):
        return self.window.document

    @property
    def state(self):
        return self.window.state

    @property
    def viewers(self):
        return self.window.slice_views

    @property
    def active_label(self) -> int:
        return self.window.label_panel.active_label

    @property
    def runner(self):
        return self.window.runner

    @property
    def plugin_records(self) -> list:
        """The plugins' records, e.g. for usannotator.plugins.segmenters(records): the models the
        loaded plugins offer, without importing those plugins."""
        return list(getattr(self.window, "records", []))

    def apply_edit(self, edit):
        """The document's edit path; protected voxels and bad edits become a status message or dialog."""
        if self.document is None:
            return None
        try:
            return self.document.apply_edit(edit)
        except LockedLabelError as exc:
            self.status(f"Nothing changed: {exc}")
        except UserError as exc:
            self.show_error("Edit refused", str(exc))
        return None

    def wait_for_autosave(self, timeout_s: float = 5.0) -> bool:
        """Wait until every finished edit is on disk (autosave writes in the background). Tools call it
        when a gesture starts, so that a crash loses at most the gesture in progress."""
        return self.window.autosave.wait(timeout_s)

    # ----- GUI additions -----
    def add_dock(self, widget, title: str, area: str = "right"):
        from PySide6.QtWidgets import QDockWidget

        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock_{title}")
        dock.setWidget(widget)
        self.window.addDockWidget(DOCK_AREAS[area], dock)
        # the host's own docks stack on the left; plugin docks share the right side as tabs
        existing = [d for d in self.docks if self.window.dockWidgetArea(d) == DOCK_AREAS[area]]
        if existing and area != "left":
            self.window.tabifyDockWidget(existing[0], dock)
            dock.raise_()
        self.docks.append(dock)
        self.window.menus["View"].addAction(dock.toggleViewAction())
        return dock

    def add_action(self, menu: str, action: QAction) -> QAction:
        action.setParent(self.window)
        self.window.menus[menu].addAction(action)
        self.window.addAction(action)   # shortcuts work wherever the focus is
        return action

    def add_tool(self, tool):
        action = QAction(icon(tool.icon), tool.title, self.window)
        action.setCheckable(True)
        action.setToolTip(tool.tooltip or tool.title)
        if tool.shortcut:
            action.setShortcut(QKeySequence(tool.shortcut))
        action.triggered.connect(lambda checked, t=tool: self.set_active_tool(t))
        self._tool_group.addAction(action)
        self.window.tools_bar.addAction(action)
        self.window.menus["Tools"].addAction(action)
        tool.action = action
        self.tools.append(tool)
        if self.active_tool is None:
            self.set_active_tool(tool)
        return action

    def set_active_tool(self, tool):
        if self.active_tool is not None:
            self.active_tool.deactivated()
        self.active_tool = tool
        tool.action.setChecked(True)
        tool.activated()

    def add_overlay(self, overlay):
        self.state.overlays.append(overlay)
        self.state.overlays_changed.emit()
        return overlay

    def remove_overlay(self, overlay):
        if overlay in self.state.overlays:
            self.state.overlays.remove(overlay)
            self.state.overlays_changed.emit()

    def run_job(self, job, on_result=None, on_partial=None, on_error=None, on_cancel=None):
        """Background work with progress and Cancel in the status bar. Errors become a dialog
        unless on_error handles them."""
        on_error = on_error or (lambda message, details: self.show_error(job.title, message, details))
        return self.runner.submit(job, on_result, on_partial, on_error, on_cancel)

    def settings(self, plugin_name: str) -> QSettings:
        s = QSettings()
        s.beginGroup(f"plugins/{plugin_name}")
        return s

    def show_error(self, title: str, message: str, details: str = ""):
        return show_error(self.window, title, message, details)

    def save_screenshot(self, path: str) -> None:
        """The whole window as shown (VTK views included) as PNG; a UserError when it cannot be written."""
        self.window.save_screenshot(path)

    def status(self, message: str, ms: int = 5000):
        self.window.statusBar().showMessage(message, ms)
