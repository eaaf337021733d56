"""The annotation plugin in the window: painting tools on every slice view, key-slice actions, and the
Annotation and Statistics docks.

Every gesture is turned into an Edit by the Qt-free functions of `tools` and `keyslices` (the command
line uses the same ones) and applied with ONE host.apply_edit when it ends: one undo step and one
autosave record per stroke. While the mouse moves, the stroke is previewed on the views; each dab of
the preview goes through the document's own edit path on a copy of its box (`would_write`), so what
the user sees follows the locks and the overwrite rule exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox,
                               QHeaderView, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from usannotator.core import Document, LockedLabelError, Volume
from usannotator.core.errors import UserError
from usannotator.core.geometry import slice_region
from usannotator.gui.icons import icon
from usannotator.gui.tools import SliceTool
from usannotator_plugins.annotate import keyslices, tools
from usannotator_plugins.annotate.stats import LabelStatistics
from usannotator_plugins.annotate.tools import ViewSlice

MAX_RADIUS = 250.0      # voxels; a larger brush is clipped to the image anyway


# ----- what an edit would write, without writing it -----

def would_write(doc, edit) -> tuple:
    """(labels of edit.region after doc.apply_edit(edit), why nothing could be written or ""), with doc
    unchanged: the same edit is applied to a Document holding a copy of that box and the same label
    table, so locks, hidden labels and the overwrite rule count exactly as they will."""
    box = doc.labels[edit.region]
    scratch = Document(Volume(np.empty(box.shape, np.uint8), sweep_axis=doc.sweep_axis), box, doc.label_table)
    local = dataclasses.replace(edit, region=tuple(slice(0, n) for n in box.shape))
    try:
        scratch.apply_edit(local)
    except LockedLabelError as exc:
        return scratch.labels, str(exc)
    return scratch.labels, ""


class Preview:
    """What a gesture in progress would write, drawn over the labels on every slice view."""

    def __init__(self, host, region):
        self.host = host
        self.region = region                     # the box any piece of the gesture can reach
        self.values = host.document.labels[region].copy()
        self.touched = None                      # the box of the pieces drawn so far

    def _touch(self, box) -> None:
        old = self.touched or box
        self.touched = tuple(slice(min(a.start, b.start), max(a.stop, b.stop)) for a, b in zip(old, box))

    def add(self, edit) -> None:
        """Draw one more piece (a dab, a segment of outline)."""
        if edit is None:
            return
        written, _ = would_write(self.host.document, edit)
        inside = tuple(slice(e.start - r.start, e.stop - r.start) for e, r in zip(edit.region, self.region))
        changed = written != self.host.document.labels[edit.region]
        self.values[inside][changed] = written[changed]
        self._touch(edit.region)
        self._show(edit.region)

    def reset(self) -> None:
        if self.touched is not None:
            self.values[:] = self.host.document.labels[self.region]
            self._show(self.touched)
            self.touched = None

    def clear(self) -> None:
        """Stop drawing it: only views that showed part of it redraw."""
        for view in self.host.viewers:
            view.set_label_preview(None, self.touched or tuple(slice(0, 0) for _ in range(3)))

    def _show(self, changed) -> None:
        for view in self.host.viewers:
            view.set_label_preview((self.region, self.values), changed)


def slice_box(shape, where: ViewSlice, reach: int = 0) -> tuple:
    """The (z, y, x) box of a view's slice, `reach` slices thick on each side (a 3D brush's sphere)."""
    rows, cols = where.rows_cols
    box = list(slice_region(where.axis, where.index, slice(0, shape[rows]), slice(0, shape[cols])))
    box[where.axis] = slice(max(where.index - reach, 0), min(where.index + reach + 1, shape[where.axis]))
    return tuple(box)


# ----- settings the tools share -----

class BrushSettings(QObject):
    """Brush and eraser size (radius in voxels), the 3D toggle, and the eraser's and fill's options."""

    changed = Signal()

    def __init__(self, settings):
        super().__init__()
        self._settings = settings
        self.radius = min(max(float(settings.value("brush_radius", 5.0)), tools.MIN_RADIUS), MAX_RADIUS)
        self.sphere = False
        self.erase_active_only = False
        self.fill_bounded_by = "label"

    def set_radius(self, radius: float) -> None:
        radius = round(min(max(float(radius), tools.MIN_RADIUS), MAX_RADIUS), 1)
        if radius != self.radius:
            self.radius = radius
            self._settings.setValue("brush_radius", radius)
            self.changed.emit()

    def grow(self, steps: float) -> None:
        """[ and ], Alt+wheel: one voxel at a time while small, about 15% at a time when large."""
        step = max(1.0, round(0.15 * self.radius))
        self.set_radius(self.radius + step * steps)

    def set_sphere(self, on: bool) -> None:
        if bool(on) != self.sphere:
            self.sphere = bool(on)
            self.changed.emit()


# ----- tools -----

class AnnotationTool(SliceTool):
    """What the painting tools share: the document, the active label and rule, and saying why nothing
    changed in the status bar."""

    def __init__(self, host, brush: BrushSettings, plugin_gui):
        self.host = host
        self.brush = brush
        self.gui = plugin_gui

    @property
    def doc(self):
        return self.host.document

    def begin(self, view) -> bool:
        """A gesture starts: the previous one is on disk first, so a crash loses at most this one."""
        if self.doc is None:
            return False
        self.host.wait_for_autosave()
        self.gui.last_view = view
        return True

    def say(self, message: str) -> None:
        self.host.status(message)

    def refuse(self, exc: Exception) -> None:
        self.say(f"Nothing changed: {exc}")

    paints = True     # writes the active label (the eraser does not): warn when that label is hidden

    def finish(self, make, missed: str = "the gesture did not reach the image"):
        """Apply a finished gesture's edit, make() (one undo step), or say why it changes nothing."""
        try:
            edit = make()
        except (UserError, LockedLabelError) as exc:
            self.refuse(exc)
            return None
        if edit is None:
            self.say(f"Nothing changed: {missed}")
            return None
        written, refusal = would_write(self.doc, edit)
        if np.array_equal(written, self.doc.labels[edit.region]):
            self.say(f"Nothing changed: {refusal or edit.description + ' found nothing to change'}")
            return None
        change = self.host.apply_edit(edit)
        if change is not None:
            warning = tools.label_warning(self.doc, self.host.active_label) if self.paints else ""
            self.say(change.description + (f" — {warning}" if warning else ""))
        return change


@dataclass
class Stroke:
    """A brush or eraser stroke in progress: its slice, what was chosen when it started, its points."""

    where: ViewSlice
    radius: float
    sphere: bool
    label: object
    rule: object
    points: list = field(default_factory=list)
    preview: Preview | None = None


class StrokeTool(AnnotationTool):
    """A tool whose gesture is one drag: each piece is previewed as it is drawn, and the document
    changes once, on release (one undo step, one journal record)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.stroke = None

    def piece(self, stroke: Stroke, points):
        """The edit previewed for the stretch of the drag between `points`."""
        raise NotImplementedError

    def final_edit(self, stroke: Stroke):
        """The one edit applied when the drag ends."""
        raise NotImplementedError

    def drag(self, view, point):
        stroke = self.stroke
        if stroke is None or (point.row, point.col) == stroke.points[-1]:
            return
        stroke.preview.add(self.piece(stroke, [stroke.points[-1], (point.row, point.col)]))
        stroke.points.append((point.row, point.col))

    def release(self, view, point):
        if self.stroke is None:
            return
        self.drag(view, point)
        stroke, self.stroke = self.stroke, None
        stroke.preview.clear()
        self.finish(lambda: self.final_edit(stroke))

    def deactivated(self):
        if self.stroke is not None:
            self.stroke.preview.clear()
            self.stroke = None


class BrushTool(StrokeTool):
    name = "brush"
    title = "Brush"
    icon = "fa5s.paint-brush"
    shortcut = "B"
    tooltip = ("Brush (B): paint the active label. Size: [ and ] or Alt+wheel; 3D brush: Tools menu. "
               "One stroke is one undo step.")

    def cursor_radius(self):
        return self.brush.radius

    def wheel(self, steps: float) -> None:
        self.brush.grow(steps)

    def edit(self, stroke: Stroke, points):
        return tools.brush(self.doc, stroke.where, points, stroke.radius, stroke.label, sphere=stroke.sphere,
                           rule=stroke.rule)

    def press(self, view, point):
        self.deactivated()
        if not self.begin(view):
            return
        where = ViewSlice(point.axis, point.index)
        stroke = Stroke(where, self.brush.radius, self.brush.sphere, self._label(), self.host.overwrite_rule,
                        [(point.row, point.col)])
        try:
            first = self.edit(stroke, stroke.points)    # refuses a locked label or no label right away
        except (UserError, LockedLabelError) as exc:
            self.refuse(exc)
            return
        reach = int(np.ceil(stroke.radius)) if stroke.sphere else 0
        stroke.preview = Preview(self.host, slice_box(self.doc.labels.shape, where, reach))
        stroke.preview.add(first)
        self.stroke = stroke

    def piece(self, stroke, points):
        return self.edit(stroke, points)    # through self.edit, so the eraser's own edit is used

    def final_edit(self, stroke):
        return self.edit(stroke, stroke.points)

    def _label(self):
        return self.host.active_label


class EraserTool(BrushTool):
    name = "eraser"
    title = "Eraser"
    icon = "fa5s.eraser"
    shortcut = "E"
    paints = False
    tooltip = ("Eraser (E): set voxels back to background (every unlocked label, or only the active one: "
               "see the Annotation panel). Same size as the brush.")

    def edit(self, stroke: Stroke, points):
        return tools.erase(self.doc, stroke.where, points, stroke.radius, label=stroke.label,
                           sphere=stroke.sphere, rule=stroke.rule)

    def _label(self):
        return self.host.active_label if self.brush.erase_active_only else None


class FreehandTool(StrokeTool):
    name = "freehand"
    title = "Freehand fill"
    icon = "fa5s.pen-fancy"
    shortcut = "F"
    tooltip = "Freehand fill (F): draw a closed outline; releasing the button fills it with the active label."

    def press(self, view, point):
        self.deactivated()
        if not self.begin(view):
            return
        try:
            label = tools.active_label(self.doc, self.host.active_label, self.host.overwrite_rule)
        except (UserError, LockedLabelError) as exc:
            self.refuse(exc)
            return
        where = ViewSlice(point.axis, point.index)
        self.stroke = Stroke(where, tools.MIN_RADIUS, False, label, self.host.overwrite_rule,
                             [(point.row, point.col)], Preview(self.host, slice_box(self.doc.labels.shape, where)))
        self.stroke.preview.add(self._outline(self.stroke.points))

    def piece(self, stroke, points):
        """The outline drawn so far, with the thinnest pen (it is part of what the fill writes)."""
        return tools.brush(self.doc, stroke.where, points, tools.MIN_RADIUS, stroke.label, rule=stroke.rule)

    def final_edit(self, stroke):
        return tools.freehand_fill(self.doc, stroke.where, stroke.points, stroke.label, rule=stroke.rule)

    def _outline(self, points):
        return self.piece(self.stroke, points)


class PolygonTool(FreehandTool):
    name = "polygon"
    title = "Polygon fill"
    icon = "fa5s.draw-polygon"
    shortcut = "P"
    tooltip = "Polygon fill (P): click the corners; double-click or Enter fills it with the active label, Esc cancels."

    def press(self, view, point):
        corner = (point.row, point.col)
        if self.stroke is not None and self.stroke.where != ViewSlice(point.axis, point.index):
            self.cancel()                        # corners of one polygon lie on one slice
        if self.stroke is None:
            super().press(view, point)
            if self.stroke is not None:
                self.say("Polygon: click the next corner; double-click or Enter fills, Esc cancels")
            return
        if corner != self.stroke.points[-1]:
            self.stroke.points.append(corner)
            self.stroke.preview.reset()
            self.stroke.preview.add(self._outline(self.stroke.points))

    def drag(self, view, point):
        pass

    def release(self, view, point):
        pass

    def double_click(self, view, point):
        if self.stroke is None:
            return
        self.press(view, point)
        self.close()

    def key(self, view, key) -> bool:
        if self.stroke is None:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close()
            return True
        if key == Qt.Key.Key_Escape:
            self.cancel()
            self.say("Polygon cancelled")
            return True
        return False

    def close(self):
        stroke, self.stroke = self.stroke, None
        stroke.preview.clear()
        self.finish(lambda: tools.polygon_fill(self.doc, stroke.where, stroke.points, stroke.label, rule=stroke.rule))

    def cancel(self):
        self.deactivated()


class FloodFillTool(AnnotationTool):
    name = "flood_fill"
    title = "Flood fill"
    icon = "fa5s.fill-drip"
    shortcut = "G"
    tooltip = ("Flood fill (G): click inside a closed outline to fill it with the active label "
               "(or the clicked region bounded by any label: see the Annotation panel).")

    def press(self, view, point):
        if not self.begin(view):
            return
        where, seed = ViewSlice(point.axis, point.index), (point.row, point.col)
        self.finish(lambda: tools.flood_fill(self.doc, where, seed, self.host.active_label,
                                             bounded_by=self.brush.fill_bounded_by, rule=self.host.overwrite_rule),
                    missed="the clicked voxel already holds the active label" if point.inside
                    else "click inside the image")


# ----- docks -----

class StatisticsTable(QTableWidget):
    """Per label: voxels, volume in ml, key slices, extent along the sweep (LabelStatistics)."""

    COLUMNS = ("Label", "Voxels", "Volume (ml)", "Key slices", "Slices", "Extent (mm)")

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setObjectName("labelStatistics")
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setToolTip("Updated as you paint. Slices: first and last along the sweep; extent: their distance.")

    def show_statistics(self, rows) -> None:
        self.setRowCount(len(rows))
        for r, s in enumerate(rows):
            span = f"{s.first_slice}–{s.last_slice}" if s.first_slice is not None else "—"
            cells = (s.name, f"{s.voxels:,}", f"{s.volume_ml:.2f}", str(s.key_slices), span, f"{s.extent_mm:.1f}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)


class AnnotationGui:
    """Everything the plugin adds to the window, and its reactions to documents opening and closing."""

    def __init__(self, host):
        self.host = host
        self.brush = BrushSettings(host.settings("annotate"))
        self.last_view = None
        self.statistics = None
        self.tools = [cls(host, self.brush, self) for cls in
                      (BrushTool, EraserTool, PolygonTool, FreehandTool, FloodFillTool)]
        for tool in self.tools:
            host.add_tool(tool)
        self.actions = self._make_actions()
        self.panel = self._make_panel()
        self.panel_dock = host.add_dock(self.panel, "Annotation", "right")
        self.table = StatisticsTable()
        self.statistics_dock = host.add_dock(self.table, "Statistics", "right")
        self.panel_dock.raise_()
        host.document_opened.connect(self._on_document_opened)
        host.document_closed.connect(self._on_document_closed)
        if host.document is not None:
            self._on_document_opened(host.document)

    def close(self) -> None:
        self._on_document_closed()

    # ----- actions -----
    def _make_actions(self) -> dict:
        specs = [  # (key, menu, text, shortcuts, icon, tooltip, slot)
            ("fill_holes", "Edit", "Fill holes on this slice", ["H"], "fa5s.fill",
             "Fill the holes of the active label on the slice last painted (or the cross-section)", self.fill_holes),
            ("clear_key", "Edit", "Clear key slice", ["Shift+Del"], "fa5s.broom",
             "Erase the active label on the current sweep slice; it stays a key slice (absent here)",
             self.clear_key_slice),
            ("unmark_key", "Edit", "Unmark key slice", ["Ctrl+Shift+K"], "fa5s.unlink",
             "Keep the voxels but make the current slice an ordinary one for the active label",
             self.unmark_key_slice),
            ("mark_key", "Edit", "Mark as key slice", ["Ctrl+K"], "fa5s.key",
             "Accept the current slice of the active label as drawn (a key slice)", self.mark_key_slice),
            ("next_key", "View", "Next key slice", ["Ctrl+Right", "."], "fa5s.step-forward",
             "Go to the next key slice of any label along the sweep", lambda: self.go_to_key_slice(+1)),
            ("previous_key", "View", "Previous key slice", ["Ctrl+Left", ","], "fa5s.step-backward",
             "Go to the previous key slice of any label along the sweep", lambda: self.go_to_key_slice(-1)),
            ("smaller", "Tools", "Smaller brush", ["["], "fa5s.search-minus", "Make the brush and eraser smaller",
             lambda: self.brush.grow(-1)),
            ("larger", "Tools", "Larger brush", ["]"], "fa5s.search-plus", "Make the brush and eraser larger",
             lambda: self.brush.grow(+1)),
            ("sphere", "Tools", "3D brush (sphere)", ["Shift+B"], "fa5s.cube",
             "Brush and eraser paint a sphere reaching the neighbouring slices instead of a disk",
             self.brush.set_sphere),
        ]
        actions = {}
        for key, menu, text, shortcuts, icon_name, tip, slot in specs:
            action = QAction(icon(icon_name), text)
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setToolTip(f"{tip} ({', '.join(shortcuts)})")
            action.setStatusTip(tip)
            action.setCheckable(key == "sphere")
            action.triggered.connect(slot)
            actions[key] = self.host.add_action(menu, action)
        self.brush.changed.connect(lambda: actions["sphere"].setChecked(self.brush.sphere))
        return actions

    def _make_panel(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        brush = QGroupBox("Brush and eraser")
        form = QFormLayout(brush)
        self.radius_box = QDoubleSpinBox(minimum=tools.MIN_RADIUS, maximum=MAX_RADIUS, decimals=1, suffix=" voxels")
        self.radius_box.setValue(self.brush.radius)
        self.radius_box.setToolTip("Brush radius ([ and ], or Alt+wheel over a view)")
        self.radius_box.valueChanged.connect(self.brush.set_radius)
        self.brush.changed.connect(lambda: self.radius_box.setValue(self.brush.radius))
        sphere = QCheckBox("3D brush (sphere)")
        sphere.setToolTip(self.actions["sphere"].toolTip())
        sphere.toggled.connect(self.brush.set_sphere)
        self.brush.changed.connect(lambda: sphere.setChecked(self.brush.sphere))
        only = QCheckBox("Eraser removes only the active label")
        only.toggled.connect(lambda on: setattr(self.brush, "erase_active_only", on))
        form.addRow("Radius", self.radius_box)
        form.addRow(sphere)
        form.addRow(only)
        layout.addWidget(brush)
        fill = QGroupBox("Flood fill")
        fill_form = QFormLayout(fill)
        bounded = QComboBox()
        bounded.addItem("Inside an outline of the active label", "label")
        bounded.addItem("The clicked region, bounded by any other label", "any")
        bounded.currentIndexChanged.connect(lambda i: setattr(self.brush, "fill_bounded_by", bounded.itemData(i)))
        fill_form.addRow("Fill", bounded)
        layout.addWidget(fill)
        keys = QGroupBox("Key slices (current sweep slice, active label)")
        grid = QGridLayout(keys)
        for i, key in enumerate(("previous_key", "next_key", "mark_key", "unmark_key", "clear_key", "fill_holes")):
            button = QPushButton(self.actions[key].icon(), self.actions[key].text())
            button.setToolTip(self.actions[key].toolTip())
            button.clicked.connect(self.actions[key].trigger)
            grid.addWidget(button, i // 2, i % 2)
        layout.addWidget(keys)
        layout.addStretch(1)
        return panel

    # ----- documents -----
    def _on_document_opened(self, document) -> None:
        self._on_document_closed()
        self.statistics = LabelStatistics(document)
        self.statistics.changed.connect(self._show_statistics)
        document.label_table.changed.connect(self._on_table_changed)
        self._show_statistics()

    def _on_document_closed(self) -> None:
        for tool in self.tools:
            tool.deactivated()
        if self.statistics is not None:
            self.statistics.close()
            self.statistics.doc.label_table.changed.disconnect(self._on_table_changed)
            self.statistics = None
        self.last_view = None

    def _on_table_changed(self, _value=None) -> None:
        self._show_statistics()

    def _show_statistics(self) -> None:
        if self.statistics is not None:
            self.table.show_statistics(self.statistics.all())

    # ----- slice actions -----
    def current_sweep_slice(self) -> int:
        return self.host.state.cursor[self.host.document.sweep_axis]

    def _apply(self, make) -> None:
        """Run a key-slice or fill action: make() -> Edit or None; refusals go to the status bar."""
        if self.host.document is None:
            return
        try:
            edit = make()
        except (UserError, LockedLabelError, ValueError) as exc:
            self.host.status(f"Nothing changed: {exc}")
            return
        if edit is None:
            self.host.status("Nothing changed: there is nothing to do on this slice")
            return
        change = self.host.apply_edit(edit)
        if change is not None:
            self.host.status(change.description)

    def fill_holes(self) -> None:
        def make():
            view = self.last_view or self.host.viewers[self.host.document.sweep_axis]
            where = ViewSlice(view.axis, view.index)
            return tools.fill_holes(self.host.document, where, self.host.active_label, rule=self.host.overwrite_rule)
        self._apply(make)

    def clear_key_slice(self) -> None:
        self._apply(lambda: keyslices.clear_key_slice(self.host.document, self.host.active_label,
                                                      self.current_sweep_slice()))

    def unmark_key_slice(self) -> None:
        self._apply(lambda: keyslices.unmark_key_slice(self.host.document, self.host.active_label,
                                                       self.current_sweep_slice()))

    def mark_key_slice(self) -> None:
        self._apply(lambda: keyslices.mark_key_slice(self.host.document, self.host.active_label,
                                                     self.current_sweep_slice()))

    def go_to_key_slice(self, direction: int) -> None:
        doc = self.host.document
        if doc is None:
            return
        z = self.current_sweep_slice()
        found = (keyslices.next_key_slice if direction > 0 else keyslices.previous_key_slice)(doc, z)
        if found is None:
            self.host.status(f"No key slice {'after' if direction > 0 else 'before'} slice {z}")
            return
        cursor = list(self.host.state.cursor)
        cursor[doc.sweep_axis] = found
        self.host.state.set_cursor(cursor)
        self.host.status(f"Key slice {found}")
