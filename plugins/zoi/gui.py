"""The Interpolation dock: fill a muscle between its key slices, preview the result, then apply it.

Every number comes from the Qt-free plugin: `make_job` computes the result on a snapshot in the
background and `result_to_edit` turns it into the one undoable edit (source INTERPOLATED). The dock
only runs the job, draws the would-be muscles' outline on the recomputed slices, and applies or
drops the result. The document is untouched until Apply.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from usannotator.core.geometry import SLICE_AXES
from usannotator.gui.overlays import CategoryOverlay
from usannotator.gui.widgets import combo, note, number
from usannotator_plugins.zoi.algorithm import METHOD_TITLES, METHODS
from usannotator_plugins.zoi.document import key_slices_of, make_job, result_to_edit
from usannotator_plugins.zoi.morphological import available as morphological_available
from usannotator_plugins.zoi.zero_order import (DEFAULT_SIGMA, DEFAULT_SOURCE_RULE, DEFAULT_THRESHOLD,
                                                SMOOTH_AXES, SOURCE_RULES)

SETTINGS_GROUP = "zoi"
INTERPOLATE_SHORTCUT = "Ctrl+I"
REFRESH_MS = 300     # brush strokes change the labels many times a second; the volumes wait for a pause
# The preview outline is the label's colour mixed this far towards white: it reads as "that muscle,
# but not yet real" and stays distinct from the drawn label colours beneath it.
PREVIEW_WHITENESS = 0.55
METHOD_TIPS = {
    "zoi": "Zero-order interpolation with smoothing (the thesis' recipe): each gap slice copies a key "
           "mask, then a 7-tap Gaussian smooths the staircase. Mask only: never leaks into other tissue.",
    "sdf": "Shape-based: signed distance maps of the key masks blended along the sweep. Follows a "
           "muscle that grows or shrinks between keys.",
    "morphological": "ITK's morphological contour interpolation (3D Slicer's \"Fill between slices\").",
}
MORPHOLOGICAL_MISSING = ("Needs the optional package itk-morphologicalcontourinterpolation "
                         "(pip install itk-morphologicalcontourinterpolation)")
PARAMETER_TIPS = {
    "source_rule": "Which key mask a gap slice copies. nearest (default): the nearer key slice; smallest: "
                   "the smaller of the two masks, the thesis' literal wording (shrinks a muscle whose "
                   "section changes); previous: the key slice before the gap",
    "smooth_axes": "Axes of the 7-tap Gaussian. 3d (default): along the sweep too, which is what softens "
                   "the steps between copied slices; 2d: in-plane only (the literal 7x7); none: no smoothing",
    "sigma": f"Standard deviation of the Gaussian in voxels. Default {DEFAULT_SIGMA:g}, the value common "
             "tools derive for a 7-tap kernel",
    "threshold": f"Smoothed occupancy at or above this becomes muscle. Default {DEFAULT_THRESHOLD:g}, which "
                 "keeps the volume of a smoothed straight edge unchanged",
}


# ----- the preview overlay (pure numpy; the slice views call it) -----------------------------------

def inner_border(plane: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another value keep their value, the rest become 0: each region's
    one-pixel outline, drawn on its own side of the edge."""
    padded = np.pad(plane, 1, mode="edge")     # the slice's edge is not an outline
    centre = padded[1:-1, 1:-1]
    edge = ((padded[:-2, 1:-1] != centre) | (padded[2:, 1:-1] != centre)
            | (padded[1:-1, :-2] != centre) | (padded[1:-1, 2:] != centre))
    return np.where(edge, plane, 0)


def preview_colour(colour) -> tuple:
    return tuple(int(round(c + (255 - c) * PREVIEW_WHITENESS)) for c in colour)


class PreviewOverlay(CategoryOverlay):
    """The outline of each muscle as the interpolation would leave it, on the slices it recomputes.

    Computed per shown slice from the live label map with the result pasted in, so no full-volume
    copy is made (a thesis-sized map is half a gigabyte). The document is only read.
    """

    def __init__(self, document, result):
        table = document.label_table
        categories = {label: (f"{table[label].name if label in table else label} (interpolated)",
                              preview_colour(table[label].color if label in table else (255, 255, 0)))
                      for label in result.slices_written}
        super().__init__("zoi_preview", "Interpolation preview", categories)
        self.document, self.result = document, result
        n = document.labels.shape[result.sweep_axis]
        self.written = {label: np.isin(np.arange(n), zs) for label, zs in result.slices_written.items()}

    def slice(self, axis: int, index: int):
        outline = self._outline(axis, index)
        row_axis, col_axis = SLICE_AXES[axis]
        return outline.T if row_axis > col_axis else outline

    def value_at(self, voxel):
        outline = self._outline(0, voxel[0])
        value = int(outline[voxel[1], voxel[2]])
        return value if value in self.categories else None

    def new_plane(self, axis: int, index: int) -> np.ndarray:
        """The labels of one plane (remaining axes in numpy order) after the result is applied."""
        plane = np.take(self.document.labels, index, axis=axis).copy()
        region, result = self.result.region, self.result
        if region[axis].start <= index < region[axis].stop:
            row = index - region[axis].start
            inside = tuple(s for a, s in enumerate(region) if a != axis)
            np.copyto(plane[inside], np.take(result.values, row, axis=axis),
                      where=np.take(result.changed, row, axis=axis))
        return plane

    def _outline(self, axis: int, index: int) -> np.ndarray:
        plane = self.new_plane(axis, index)
        border = inner_border(plane)
        sweep = self._sweep_index(axis, index, plane.shape)
        shown = np.zeros(plane.shape, bool)
        for label, written in self.written.items():
            shown |= (border == label) & written[sweep]
        return np.where(shown, border, 0).astype(np.float32)

    def _sweep_index(self, axis, index, shape) -> np.ndarray:
        """The sweep index of every pixel of a plane, broadcastable to its shape."""
        sweep = self.result.sweep_axis
        if axis == sweep:
            return np.full(shape, index)
        position = [a for a in range(3) if a != axis].index(sweep)
        return np.arange(shape[position]).reshape((-1, 1) if position == 0 else (1, -1))


def volume_change_ml(document, result) -> dict:
    """{label: (ml now, ml after the result is applied)} for every label the result recomputes."""
    voxel_ml = document.volume.geometry.voxel_volume_ml
    old = document.labels[result.region][result.changed]
    new = result.values[result.changed]
    changes = {}
    for label in result.slices_written:
        before = document.label_voxels(label)
        after = before + int(np.count_nonzero(new == label)) - int(np.count_nonzero(old == label))
        changes[label] = (before * voxel_ml, after * voxel_ml)
    return changes


# ----- the dock -----------------------------------------------------------------------------------

class InterpolationDock(QWidget):
    """Method and parameters, the labels to fill with their volumes, Interpolate, then Apply or Discard."""

    def __init__(self, host):
        super().__init__()
        self.host = host
        self.settings = host.settings(SETTINGS_GROUP)
        self.document = None
        self.handle = None           # the running job
        self.preview = None          # the PreviewOverlay on show
        self.checks = {}             # label -> its checkbox
        self.volume_labels = {}      # label -> its "ml" text
        self._unchecked = set()      # labels the user switched off: kept across rebuilds of the list
        self._stale = False          # the labels changed while the job ran: its result is out of date
        self._refresh_later = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._refresh_later.timeout.connect(self._rebuild_labels)
        layout = QVBoxLayout(self)
        for group in (self._method_group(), self._labels_group(), self._run_group()):
            layout.addWidget(group)
        layout.addStretch(1)
        self._make_actions()
        self._restore_settings()
        self._connect_settings()
        host.document_opened.connect(self._document_opened)
        host.document_closed.connect(lambda: self._document_opened(None))
        self._document_opened(host.document)

    # ----- building -----
    def _method_group(self):
        box = QGroupBox("Method", self)
        form = QFormLayout(box)
        self.method_box = QComboBox(box)
        for method in METHODS:
            self.method_box.addItem(METHOD_TITLES[method], method)
            self.method_box.setItemData(self.method_box.count() - 1, METHOD_TIPS[method],
                                        Qt.ItemDataRole.ToolTipRole)
        if not morphological_available():
            self._disable_method("morphological", MORPHOLOGICAL_MISSING)
        self.method_box.setToolTip("How the slices between key slices are filled")
        form.addRow("Method", self.method_box)
        self.rule_box = combo(box, SOURCE_RULES, PARAMETER_TIPS["source_rule"])
        self.smooth_box = combo(box, SMOOTH_AXES, PARAMETER_TIPS["smooth_axes"])
        self.sigma_box = number(box, 0.1, 10.0, 2, 0.1, DEFAULT_SIGMA, PARAMETER_TIPS["sigma"])
        self.threshold_box = number(box, 0.05, 0.95, 2, 0.05, DEFAULT_THRESHOLD, PARAMETER_TIPS["threshold"])
        self.zoi_rows = (("Copy from", self.rule_box), ("Smoothing", self.smooth_box),
                         ("Sigma (voxels)", self.sigma_box), ("Threshold", self.threshold_box))
        for name, widget in self.zoi_rows:
            form.addRow(name, widget)
        return box

    def _disable_method(self, method, reason):
        item = self.method_box.model().item(METHODS.index(method))
        item.setEnabled(False)
        item.setToolTip(reason)

    def _labels_group(self):
        box = QGroupBox("Labels", self)
        box.setToolTip("Each ticked muscle is filled from its first to its last key slice. Key slices and "
                       "locked muscles never change.")
        self.labels_grid = QGridLayout(box)
        self.labels_note = note(box, "Open a volume with key slices.")
        self.labels_grid.addWidget(self.labels_note, 0, 0, 1, 2)
        return box

    def _run_group(self):
        box = QGroupBox("Run", self)
        layout = QVBoxLayout(box)
        self.interpolate_button = _button(box, "Interpolate", self.interpolate)
        self.cancel_button = _button(box, "Cancel", self.cancel, "Stop computing; nothing changes")
        self.apply_button = _button(box, "Apply", self.apply_preview)
        self.discard_button = _button(box, "Discard", self.discard_preview)
        for pair in ((self.interpolate_button, self.cancel_button), (self.apply_button, self.discard_button)):
            row = QHBoxLayout()
            for button in pair:
                row.addWidget(button)
            layout.addLayout(row)
        self.progress_bar = QProgressBar(box)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setVisible(False)
        layout.addWidget(self.progress_bar)
        self.state_label = note(box, "")
        layout.addWidget(self.state_label)
        return box

    def _make_actions(self):
        self.interpolate_action = self._action(
            "Interpolate", [INTERPOLATE_SHORTCUT], self.interpolate,
            f"Fill the ticked muscles between their key slices and preview the result ({INTERPOLATE_SHORTCUT})")
        # Enter and Esc act only while a preview is on show (the actions are disabled otherwise), so
        # they take nothing from the other tools the rest of the time.
        self.apply_action = self._action("Apply interpolation", ["Return", "Enter"], self.apply_preview,
                                         "Write the previewed result as one undoable edit (Enter)")
        self.discard_action = self._action("Discard interpolation", ["Esc"], self.discard_preview,
                                           "Drop the preview; nothing changes (Esc)")
        for button, action in ((self.interpolate_button, self.interpolate_action),
                               (self.apply_button, self.apply_action), (self.discard_button, self.discard_action)):
            button.setToolTip(action.toolTip())

    def _action(self, title, keys, slot, tip) -> QAction:
        action = QAction(title, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return self.host.add_action("Tools", action)

    # ----- settings -----
    def _restore_settings(self):
        s = self.settings
        method = str(s.value("method", "zoi"))
        index = self.method_box.findData(method)
        if index < 0 or not self.method_box.model().item(index).isEnabled():
            index = 0                  # e.g. morphological chosen before ITK was uninstalled
        self.method_box.setCurrentIndex(index)
        self.rule_box.setCurrentText(str(s.value("source_rule", DEFAULT_SOURCE_RULE)))
        self.smooth_box.setCurrentText(str(s.value("smooth_axes", "3d")))
        self.sigma_box.setValue(s.value("sigma", DEFAULT_SIGMA, type=float))
        self.threshold_box.setValue(s.value("threshold", DEFAULT_THRESHOLD, type=float))
        self._method_changed()

    def _connect_settings(self):
        self.method_box.currentIndexChanged.connect(self._method_changed)
        for combo in (self.method_box, self.rule_box, self.smooth_box):
            combo.currentIndexChanged.connect(self._save_settings)
        for spin in (self.sigma_box, self.threshold_box):
            spin.valueChanged.connect(self._save_settings)

    def _save_settings(self):
        self.settings.setValue("method", self.method)
        for key, value in self.parameters().items():
            self.settings.setValue(key, value)
        self.settings.sync()

    def _method_changed(self):
        for _name, widget in self.zoi_rows:
            widget.setEnabled(self.method == "zoi")

    # ----- inputs -----
    @property
    def method(self) -> str:
        return self.method_box.currentData()

    def parameters(self) -> dict:
        """The ZOI settings as shown (the other methods take none)."""
        return {"source_rule": self.rule_box.currentText(), "smooth_axes": self.smooth_box.currentText(),
                "sigma": self.sigma_box.value(), "threshold": self.threshold_box.value()}

    def selected_key_slices(self) -> dict:
        keys = key_slices_of(self.document) if self.document is not None else {}
        return {label: zs for label, zs in keys.items() if label in self.checks and self.checks[label].isChecked()}

    # ----- the document -----
    def _document_opened(self, document):
        self._drop_preview(None)
        self.cancel()
        if self.document is not None:
            for signal in self._document_signals(self.document):
                signal.disconnect(self._document_changed)
        self.document = document
        if document is not None:
            for signal in self._document_signals(document):
                signal.connect(self._document_changed)
        self._unchecked.clear()
        self._rebuild_labels()
        self._update_enabled()

    @staticmethod
    def _document_signals(document):
        return document.labels_changed, document.provenance_changed, document.label_table.changed

    def _document_changed(self, *_):
        """Any change to labels, key slices or locks makes a preview (or a running job) out of date."""
        if self.handle is not None:
            self._stale = True
        self._drop_preview("Interpolation preview dropped: the labels changed. Press Interpolate again.")
        self._refresh_later.start()    # counting voxels reads the whole map: once per pause, not per stroke

    def _rebuild_labels(self):
        for widget in (*self.checks.values(), *self.volume_labels.values()):
            widget.deleteLater()
        self.checks, self.volume_labels = {}, {}
        document = self.document
        keys = key_slices_of(document) if document is not None else {}
        locked = document.label_table.locked_values() if document is not None else set()
        labels = sorted(set(keys) | (set(document.provenance.labels()) & locked)) if document is not None else []
        self.labels_note.setVisible(not labels)
        for row, label in enumerate(labels, start=1):
            self._add_label_row(row, label, keys.get(label), label in locked)
        self._show_volumes()
        self._update_enabled()

    def _add_label_row(self, row, label, keys, locked):
        name = self.document.label_table[label].name if label in self.document.label_table else str(label)
        check = QCheckBox(name, self)
        check.setChecked(not locked and label not in self._unchecked)
        check.setEnabled(not locked)
        check.setToolTip("Locked: interpolation never changes it" if locked
                         else f"Key slices {_ranges(keys)}")
        check.toggled.connect(lambda on, value=label: self._label_toggled(value, on))
        volume = QLabel(self)
        volume.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.labels_grid.addWidget(check, row, 0)
        self.labels_grid.addWidget(volume, row, 1)
        self.checks[label], self.volume_labels[label] = check, volume

    def _label_toggled(self, label, on):
        (self._unchecked.discard if on else self._unchecked.add)(label)
        self._update_enabled()

    def _show_volumes(self):
        """ml now, or now → after while a preview is on show."""
        if self.document is None:
            return
        changes = volume_change_ml(self.document, self.preview.result) if self.preview is not None else {}
        voxel_ml = self.document.volume.geometry.voxel_volume_ml
        for label, text in self.volume_labels.items():
            if label in changes:
                before, after = changes[label]
                text.setText(f"{before:.2f} → <b>{after:.2f}</b> ml")
            else:
                text.setText(f"{self.document.label_voxels(label) * voxel_ml:.2f} ml")

    # ----- running -----
    def interpolate(self):
        keys = self.selected_key_slices()
        if self.document is None or self.handle is not None or not keys:
            return
        self._drop_preview(None)
        settings = self.parameters() if self.method == "zoi" else {}
        job = make_job(self.document, self.method, key_slices=keys, **settings)
        self._stale = False
        self.handle = self.host.run_job(job, on_result=self._finished, on_error=self._failed,
                                        on_cancel=self._cancelled)
        self.handle.progressed.connect(self._progressed)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.state_label.setText(f"Interpolating ({METHOD_TITLES[self.method]})…")
        self._update_enabled()

    def cancel(self):
        if self.handle is not None:
            self.handle.cancel()

    def _progressed(self, fraction, message):
        self.progress_bar.setValue(int(100 * fraction))
        self.state_label.setText(f"Interpolating: {message}")

    def _job_ended(self, text):
        self.handle = None
        self.progress_bar.setVisible(False)
        self.state_label.setText(text)
        self._update_enabled()

    def _finished(self, result):
        if self._stale or self.document is None:
            self._job_ended("")
            self.host.status("Interpolation dropped: the labels changed while it ran. Press Interpolate again.")
            return
        self._job_ended(self._summary(result))
        if not result.written:
            self.host.status("Nothing to interpolate: each ticked muscle needs two key slices with a gap")
            return
        self.preview = self.host.add_overlay(PreviewOverlay(self.document, result))
        self._go_to_preview(result)
        self._show_volumes()
        self._update_enabled()

    def _summary(self, result) -> str:
        if not result.written:
            return "Nothing to interpolate."
        slices = ", ".join(f"{self.checks[label].text() if label in self.checks else label} {len(zs)}"
                           for label, zs in result.slices_written.items())
        return (f"Preview: slices recomputed {slices}; {result.n_changed} voxels change. "
                "Apply (Enter) or Discard (Esc).")

    def _failed(self, message, details):
        self._job_ended("")
        self.host.show_error("Interpolation failed", message, details)

    def _cancelled(self):
        self._job_ended("")
        self.host.status("Interpolation cancelled: nothing changed")

    def _go_to_preview(self, result):
        """Show a recomputed slice if the current one has nothing to preview."""
        sweep = result.sweep_axis
        cursor = list(self.host.state.cursor)
        if any(cursor[sweep] in zs for zs in result.slices_written.values()):
            return
        first = min(result.slices_written, key=lambda label: result.slices_written[label][0])
        zs = result.slices_written[first]
        cursor[sweep] = int(zs[len(zs) // 2])
        self.host.state.set_cursor(tuple(cursor))

    # ----- preview -----
    def apply_preview(self):
        if self.preview is None:
            return
        result = self.preview.result
        self._drop_preview(None)       # first: the edit's own change signal must not find a preview
        change = self.host.apply_edit(result_to_edit(result))
        names = ", ".join(self.checks[label].text() for label in result.slices_written if label in self.checks)
        self.host.status(f"Interpolated {names}" if change is not None else "Interpolation changed nothing")
        self.state_label.setText("")

    def discard_preview(self):
        if self.preview is not None:
            self._drop_preview("Interpolation preview discarded: nothing changed")
            self.state_label.setText("")

    def _drop_preview(self, message):
        if self.preview is None:
            return
        self.host.remove_overlay(self.preview)
        self.preview = None
        if message:
            self.host.status(message)
        self._show_volumes()
        self._update_enabled()

    def _update_enabled(self):
        running, previewing = self.handle is not None, self.preview is not None
        can_run = self.document is not None and not running and any(
            check.isChecked() for check in self.checks.values())
        self.interpolate_action.setEnabled(can_run)
        self.interpolate_button.setEnabled(can_run)
        self.cancel_button.setEnabled(running)
        for button, action in ((self.apply_button, self.apply_action), (self.discard_button, self.discard_action)):
            button.setEnabled(previewing)
            action.setEnabled(previewing)


# ----- small helpers -----------------------------------------------------------------------------------

def _ranges(values) -> str:
    """'3, 10–12, 20' for [3, 10, 11, 12, 20]."""
    values = [int(v) for v in (values if values is not None else [])]
    parts, start = [], None
    for i, v in enumerate(values):
        start = v if start is None else start
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(v) if start == v else f"{start}–{v}")
            start = None
    return ", ".join(parts) or "none"


def _button(parent, text, slot, tip="") -> QPushButton:
    button = QPushButton(text, parent)
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button


def activate(host) -> InterpolationDock:
    dock = InterpolationDock(host)
    host.add_dock(dock, "Interpolation")
    return dock
