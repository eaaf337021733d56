"""The Confidence dock: the map as a heat overlay on the slice views, computed in the background slice
by slice, and the review list of slices whose drawn borders run mostly through low confidence.

Every number comes from the Qt-free plugin: `volume.confidence_volume` (the command line's path, with
its disk cache) and `review.review_list`. The dock only runs them as host jobs and shows the results.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QPushButton, QSlider, QTableWidget,
                               QTableWidgetItem, QToolButton, QVBoxLayout, QWidget)

from usannotator.gui.overlays import OverlayLegend, SliceOverlay
from usannotator.gui.widgets import combo, note, number
from usannotator.jobs import Job
from usannotator_plugins.confidence.algorithm import DEFAULTS, PRESETS, looks_fan_shaped
from usannotator_plugins.confidence.review import LOW_CONFIDENCE, MOSTLY, label_border, review_list
from usannotator_plugins.confidence.volume import (cache_key, confidence_volume, default_workers, read_cached,
                                                   sweep_stack, user_cache_dir)

SETTINGS_GROUP = "confidence"
TOGGLE_SHORTCUT = "Shift+C"
CUSTOM = "custom"
REDRAW_MS = 150          # slices arrive many per second; the views redraw at most this often
REVIEW_DELAY_MS = 800    # after label edits the review list waits for a pause in the editing
TIPS = {
    "alpha": "Depth attenuation (alpha): intensity changes count more the deeper they lie, so confidence "
             "falls faster below deep interfaces as alpha grows. Default 2.",
    "beta": "Edge sensitivity (beta): how strongly an intensity change (bone, fascia) stops the signal. "
            "Higher: darker shadows below bright reflectors. Default 90.",
    "gamma": "Beam-width penalty (gamma) on sideways steps: higher keeps confidence along each scan line "
             "(sharper shadow edges), lower lets it spread sideways. Default 0.05; the reference images "
             "used 0.03 (neck) and 0.06 (femur).",
    "sink": "Where the signal is taken to be lost (the walk's sinks) at the bottom of each slice",
    "preset": "Named parameter sets: the method's defaults, and the two settings of the thesis for maps "
              "fed to networks (as an input channel, as a loss weight)",
    "threshold": "Confidence under this value counts as low: the overlay can show only these areas (with "
                 "a cyan line at the threshold) and the review list looks for borders in them. Default 0.1.",
    "share": "List a slice when more than this share of a muscle's border on it lies in low confidence",
}
SINK_TIPS = {"all": "the whole bottom row (the reference setting)",
             "mid": "the middle pixel of the bottom row only",
             "min": "the darkest bottom-row pixels, away from the side edges"}
COLUMNS = ("Slice", "Muscle", "Low\nborder", "Border\npixels")
FAN_WARNING = "Fan-shaped frames: the map is approximate"
FAN_TIP = ("These frames look fan-shaped (a scan-converted convex probe). The method assumes parallel "
           "vertical scan lines, so the map is only approximate here.")


# ----- jobs (worker threads: no Qt here) ---------------------------------------------------------

def cached_maps(progress, volume, alpha, beta, gamma, sink):
    """The maps of these parameters from the plugin's disk cache, or None; nothing is computed.
    The key is the one `confidence_volume` writes (a GUI test reopens a computed volume to keep them
    in step)."""
    progress.update(0.0, "looking for cached confidence maps")
    stack, restore = sweep_stack(volume)
    params = {"alpha": float(alpha), "beta": float(beta), "gamma": float(gamma), "sink": sink}
    maps = read_cached(user_cache_dir(), cache_key(stack, params), stack.shape)
    return None if maps is None else restore(maps)


def review_job(progress, labels, confidence, threshold, min_share, sweep_axis):
    """The review list, counting only border pixels whose confidence is known (not NaN: computed,
    inside the field of view)."""
    progress.update(0.0, "finding borders in low confidence")
    return review_list(labels, confidence, threshold, min_share, sweep_axis, inside=~np.isnan(confidence))


def jump_target(labels, confidence, item, threshold, sweep_axis):
    """Where to put the cursor for a review item: on its slice, the muscle's low-confidence border
    pixel nearest their middle, so every view shows the doubtful part. None when the muscle is gone
    from that slice (the labels changed since the list was made)."""
    border = label_border((np.take(labels, item.slice, axis=sweep_axis) == item.label)[None])[0]
    low = border & (np.take(confidence, item.slice, axis=sweep_axis) < threshold)
    points = np.argwhere(low if low.any() else border)
    if not len(points):
        return None
    nearest = points[np.argmin(((points - points.mean(axis=0)) ** 2).sum(axis=1))]
    return tuple(int(v) for v in np.insert(nearest, sweep_axis, item.slice))


# ----- the dock -----------------------------------------------------------------------------------

class ConfidenceDock(QWidget):
    """Parameters and Compute, the overlay's display, and the review list."""

    def __init__(self, host):
        super().__init__()
        self.host = host
        self.settings = host.settings(SETTINGS_GROUP)
        self.overlay = SliceOverlay("confidence", "Confidence", (0.0, 1.0), 0.5)
        self.handle = None           # the running map job
        self._run = 0                # which compute the arriving slices belong to; older ones are dropped
        self._stack = None           # the overlay's map, seen in solver order (sweep, depth, lateral)
        self._field = None           # (depth, lateral): pixels inside the scanned field of view
        self._slices_done = 0
        self.shown_parameters = None  # the parameters of complete maps on show, else None
        self.items = []               # the review list shown
        self._redraw = _single_shot(self, REDRAW_MS, self.overlay.changed.emit)
        self._review_later = _single_shot(self, REVIEW_DELAY_MS, self.refresh_review)
        layout = QVBoxLayout(self)
        for group in (self._parameters_group(), self._display_group(), self._review_group()):
            layout.addWidget(group)
        self.toggle_action = self._toggle_action()
        self._restore_settings()
        self._connect_changes()
        host.document_opened.connect(self._document_opened)
        host.document_closed.connect(self._document_closed)
        self._update_enabled()

    # ----- building -----
    def _parameters_group(self):
        box = QGroupBox("Parameters", self)
        form = QFormLayout(box)
        self.preset_box = combo(box, (*PRESETS, CUSTOM), TIPS["preset"])
        self.alpha_box = number(box, 0.01, 20.0, 2, 0.1, DEFAULTS["alpha"], TIPS["alpha"])
        self.beta_box = number(box, 1.0, 2000.0, 1, 10.0, DEFAULTS["beta"], TIPS["beta"])
        self.gamma_box = number(box, 0.0, 1.0, 3, 0.01, DEFAULTS["gamma"], TIPS["gamma"])
        self.sink_box = combo(box, tuple(SINK_TIPS), TIPS["sink"], SINK_TIPS)
        for name, widget in (("Preset", self.preset_box), ("Depth attenuation α", self.alpha_box),
                             ("Edge sensitivity β", self.beta_box), ("Sideways penalty γ", self.gamma_box),
                             ("Sinks", self.sink_box)):
            form.addRow(name, widget)
        self.compute_button = QPushButton("Compute", box)
        self.compute_button.setToolTip("Compute the map of every slice in the background (maps computed "
                                       "before with these parameters come from the disk cache at once)")
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = QPushButton("Cancel", box)
        self.cancel_button.setToolTip("Stop computing; nothing is kept")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.compute_button)
        row.addWidget(self.cancel_button)
        form.addRow(row)
        self.state_label = note(box, "Not computed.")
        form.addRow(self.state_label)
        self.warning = note(box, "")
        self.warning.setStyleSheet("color: #c06000")
        self.warning.setToolTip(FAN_TIP)
        form.addRow(self.warning)
        return box

    def _display_group(self):
        box = QGroupBox("Overlay", self)
        form = QFormLayout(box)
        self.toggle_button = QToolButton(box)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, box)
        self.opacity_slider.setRange(5, 100)
        self.opacity_slider.setToolTip("Opacity of the confidence colours over the image")
        self.threshold_box = number(box, 0.01, 0.99, 2, 0.01, LOW_CONFIDENCE, TIPS["threshold"])
        self.below_box = QCheckBox("Show only low confidence", box)
        self.below_box.setToolTip("Colour only the pixels under the threshold, outlined in cyan: the areas "
                                  "where the image says little")
        self.legend = OverlayLegend(self.overlay, box)
        self.legend.setToolTip("0: no signal reached the pixel (shadow); 1: all of it (just under the skin)")
        form.addRow(self.toggle_button)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow("Low below", self.threshold_box)
        form.addRow(self.below_box)
        form.addRow(self.legend)
        form.addRow(note(box, "dark: little signal reached (shadow, depth) · bright: well insonified"))
        return box

    def _review_group(self):
        box = QGroupBox("Review list", self)
        layout = QVBoxLayout(box)
        form = QFormLayout()
        self.share_box = number(box, 0.05, 0.95, 2, 0.05, MOSTLY, TIPS["share"])
        form.addRow("Border in low confidence over", self.share_box)
        layout.addLayout(form)
        self.review_table = QTableWidget(0, len(COLUMNS), box)
        self.review_table.setHorizontalHeaderLabels(COLUMNS)
        self.review_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.review_table.verticalHeader().setVisible(False)
        self.review_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.review_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.review_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.review_table.setToolTip("Slices whose drawn border runs mostly through low confidence, worst "
                                     "first; click one to go there")
        # a click on the row already selected jumps again (after the user scrolled away)
        self.review_table.cellClicked.connect(lambda row, _column: self.jump_to(row))
        self.review_table.currentCellChanged.connect(lambda row, *_: self.jump_to(row))
        layout.addWidget(self.review_table, 1)
        self.review_note = note(box, "Compute the map to list the slices to review.")
        layout.addWidget(self.review_note)
        return box

    def _toggle_action(self):
        action = QAction("Confidence map", self)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(TOGGLE_SHORTCUT))
        action.setToolTip(f"Show the confidence map over the image ({TOGGLE_SHORTCUT})")
        action.toggled.connect(self._visibility_changed)
        action.triggered.connect(self._switched_on_by_user)
        self.host.add_action("View", action)
        self.toggle_button.setDefaultAction(action)
        return action

    def _connect_changes(self):
        self.preset_box.currentIndexChanged.connect(self._preset_chosen)
        for box in (self.alpha_box, self.beta_box, self.gamma_box):
            box.valueChanged.connect(self._parameters_changed)
        self.sink_box.currentIndexChanged.connect(self._parameters_changed)
        self.opacity_slider.valueChanged.connect(self._display_changed)
        self.below_box.toggled.connect(self._display_changed)
        self.threshold_box.valueChanged.connect(self._threshold_changed)
        self.share_box.valueChanged.connect(self._threshold_changed)

    # ----- settings -----
    def _restore_settings(self):
        s = self.settings
        for key, box in self._numbers().items():
            box.setValue(s.value(key, box.value(), type=float))
        self.sink_box.setCurrentText(str(s.value("sink", DEFAULTS["sink"])))
        self.opacity_slider.setValue(s.value("opacity", 50, type=int))
        self.below_box.setChecked(s.value("below_only", False, type=bool))
        # off until asked for: switching it on then computes the map (or takes it from the cache)
        self.toggle_action.setChecked(s.value("visible", False, type=bool))
        self._select_matching_preset()
        self._display_changed()

    def _numbers(self) -> dict:
        """Setting name -> its spin box (which starts at the default)."""
        return {"alpha": self.alpha_box, "beta": self.beta_box, "gamma": self.gamma_box,
                "threshold": self.threshold_box, "min_share": self.share_box}

    def _save_settings(self):
        s = self.settings
        for key, box in self._numbers().items():
            s.setValue(key, box.value())
        s.setValue("sink", self.sink_box.currentText())
        s.setValue("opacity", self.opacity_slider.value())
        s.setValue("below_only", self.below_box.isChecked())
        s.setValue("visible", self.toggle_action.isChecked())

    # ----- parameters -----
    def parameters(self) -> dict:
        return {"alpha": self.alpha_box.value(), "beta": self.beta_box.value(), "gamma": self.gamma_box.value(),
                "sink": self.sink_box.currentText()}

    def _preset_chosen(self, _index):
        values = PRESETS.get(self.preset_box.currentText())
        if values is None:
            return
        for key, box in (("alpha", self.alpha_box), ("beta", self.beta_box), ("gamma", self.gamma_box)):
            box.blockSignals(True)
            box.setValue(values[key])
            box.blockSignals(False)
        self._parameters_changed()

    def _select_matching_preset(self):
        current = self.parameters()
        name = next((n for n, v in PRESETS.items() if all(np.isclose(current[k], v[k]) for k in v)), CUSTOM)
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentText(name)
        self.preset_box.blockSignals(False)

    def _parameters_changed(self, *_):
        self._select_matching_preset()
        self._save_settings()
        self._show_state()

    # ----- display -----
    def _display_changed(self, *_):
        below = self.threshold_box.value() if self.below_box.isChecked() else None
        self.overlay.set(opacity=self.opacity_slider.value() / 100, below=below, contour=below)
        self._save_settings()

    def _threshold_changed(self, *_):
        self._display_changed()
        if self.shown_parameters is not None:
            self._review_later.start()

    def _visibility_changed(self, on: bool):
        self.overlay.set(visible=on)
        self._save_settings()

    def _switched_on_by_user(self, on: bool):
        """Switching the map on when there is none yet computes it: the user asked to see it."""
        if on and self.host.document is not None and self.handle is None and self._slices_done == 0 \
                and self.shown_parameters is None:
            self.compute()

    # ----- document -----
    def _document_opened(self, document):
        self._stop()
        self._new_map(document.volume)
        # added once a document is open: the views make an overlay's actors only while they show one
        if self.overlay in self.host.state.overlays:
            self.overlay.changed.emit()
        else:
            self.host.add_overlay(self.overlay)
        document.labels_changed.connect(self._labels_changed)
        self._clear_maps()
        self._look_up_cache(document)
        self._update_enabled()

    def _new_map(self, volume):
        """An empty (NaN) map for the volume, with a view of it in the order slices arrive in."""
        self.overlay.volume_map = np.full(volume.shape, np.nan, np.float32)
        self._stack = sweep_stack(replace(volume, array=self.overlay.volume_map))[0]
        # spec 6.1: pixels that are zero in every slice lie outside the scanned field: no map there
        slices = sweep_stack(volume)[0]
        self._field = (slices != 0).any(axis=0)
        self.warning.setText(FAN_WARNING if looks_fan_shaped(slices[len(slices) // 2]) else "")

    def _document_closed(self):
        self._stop()
        self.overlay.volume_map = self._stack = self._field = None
        self.warning.setText("")
        self._clear_maps()
        self._update_enabled()

    def _labels_changed(self, _region=None):
        if self.shown_parameters is not None:
            self._review_later.start()

    def _look_up_cache(self, document):
        """Maps computed before for this volume and these parameters show at once on opening it."""
        run, parameters = self._run, self.parameters()
        job = Job("Looking up confidence maps", cached_maps, kwargs={"volume": document.volume, **parameters})
        self.host.run_job(job, on_result=lambda maps: self._found_in_cache(run, parameters, maps),
                          on_error=lambda message, _details: self.host.status(
                              f"Cached confidence maps not read: {message}"))

    def _found_in_cache(self, run, parameters, maps):
        if maps is not None:
            self._computed(run, parameters, maps)

    # ----- computing -----
    def compute(self):
        """Compute the maps of every slice as a background job; slices show as they are done."""
        document = self.host.document
        if document is None:
            return None
        self._stop()
        self._clear_maps()
        self.toggle_action.setChecked(True)      # asked for: shown as it comes
        run, parameters = self._run, self.parameters()
        job = Job("Confidence map", confidence_volume,
                  kwargs={"volume": document.volume, **parameters, "workers": default_workers(leave_a_core_free=True)})
        self.handle = self.host.run_job(
            job, on_result=lambda maps: self._computed(run, parameters, maps),
            on_partial=lambda payload: self._slice_computed(run, payload),
            on_error=lambda message, details: self._failed(run, message, details),
            on_cancel=lambda: self._cancelled(run))
        self.handle.ended.connect(lambda: self._job_ended(run))
        self.state_label.setText(f"Computing: 0 of {len(self._stack)} slices…")
        self._update_enabled()
        return self.handle

    def cancel(self):
        if self.handle is not None:
            self.handle.cancel()

    def _stop(self):
        """Cancel the running job and ignore whatever it still sends."""
        self.cancel()
        self.handle = None
        self._run += 1

    def _slice_computed(self, run, payload):
        if run != self._run or self._stack is None:
            return
        self._stack[payload["slice"]] = np.where(self._field, payload["map"], np.nan)
        self._slices_done += 1
        self.state_label.setText(f"Computing: {self._slices_done} of {len(self._stack)} slices…")
        if not self._redraw.isActive():
            self._redraw.start()

    def _computed(self, run, parameters, maps):
        if run != self._run or self.overlay.volume_map is None or maps.shape != self.overlay.volume_map.shape:
            return
        self.overlay.volume_map[...] = maps
        self._stack[:, ~self._field] = np.nan
        self.shown_parameters = parameters
        self._redraw.stop()
        self.overlay.changed.emit()
        self._show_state()
        self.refresh_review()

    def _cancelled(self, run):
        if run == self._run:
            self._clear_maps()
            self.state_label.setText("Cancelled: nothing was kept.")

    def _failed(self, run, message, details):
        if run == self._run:
            self._clear_maps()
            self.state_label.setText("Failed.")
            self.host.show_error("Confidence map failed", message, "" if "UserError" in details else details)

    def _job_ended(self, run):
        if run == self._run:
            self.handle = None
        self._update_enabled()

    def _clear_maps(self):
        if self.overlay.volume_map is not None:
            self.overlay.volume_map.fill(np.nan)
        self._slices_done = 0
        self.shown_parameters = None
        self._redraw.stop()
        self.overlay.changed.emit()
        self._show_review([])
        self.review_note.setText("Compute the map to list the slices to review.")
        self._show_state()

    def _show_state(self):
        shown = self.shown_parameters
        if shown is None:
            self.state_label.setText("Not computed.")
        elif shown == self.parameters():
            self.state_label.setText("Computed for these parameters.")
        else:
            self.state_label.setText("The map shown is for α {alpha:g}, β {beta:g}, γ {gamma:g}, sinks {sink}: "
                                     "Compute to update it.".format(**shown))

    def _update_enabled(self):
        has_document = self.host.document is not None
        self.compute_button.setEnabled(has_document and self.handle is None)
        self.cancel_button.setEnabled(self.handle is not None)

    # ----- review list -----
    def refresh_review(self):
        """List again, in the background (a few tenths of a second on a demo volume)."""
        document = self.host.document
        if document is None or self.shown_parameters is None:
            return None
        run = self._run
        job = Job("Review list", review_job, kwargs={
            "labels": document.labels.copy(), "confidence": self.overlay.volume_map.copy(),
            "threshold": self.threshold_box.value(), "min_share": self.share_box.value(),
            "sweep_axis": document.sweep_axis})
        return self.host.run_job(job, on_result=lambda items: self._reviewed(run, items))

    def _reviewed(self, run, items):
        if run != self._run or self.host.document is None:
            return
        self._show_review(items)
        self.review_note.setText(f"{len(items)} to review, worst first." if items else
                                 "No muscle border runs mostly through low confidence.")

    def _show_review(self, items):
        self.items = list(items)
        table = self.review_table
        table.blockSignals(True)
        table.setRowCount(len(self.items))
        for row, item in enumerate(self.items):
            name, colour = self._label_name(item.label)
            cells = (str(item.slice), name, f"{100 * item.share:.0f} %", str(item.border_pixels))
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column != 1:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, column, cell)
            table.item(row, 1).setIcon(_swatch(colour))
        table.blockSignals(False)

    def _label_name(self, value):
        table = self.host.document.label_table if self.host.document is not None else None
        if table is not None and value in table:
            return table[value].name, table[value].color
        return str(value), (128, 128, 128)

    def jump_to(self, row: int):
        """Put the cursor on the review item's slice, at its border in low confidence."""
        document = self.host.document
        if document is None or not 0 <= row < len(self.items):
            return
        item = self.items[row]
        voxel = jump_target(document.labels, self.overlay.volume_map, item, self.threshold_box.value(),
                            document.sweep_axis)
        if voxel is None:           # the muscle is gone from that slice: at least go to the slice
            voxel = list(self.host.state.cursor)
            voxel[document.sweep_axis] = item.slice
        self.host.state.set_cursor(voxel)

    def shutdown(self):
        """The window is closing: stop the job and every pending redraw, and take the overlay off the
        views before their render windows go."""
        self._stop()
        self._redraw.stop()
        self._review_later.stop()
        self.shown_parameters = None
        self.host.remove_overlay(self.overlay)


# ----- small widgets ---------------------------------------------------------------------------------

def _single_shot(parent, ms, slot) -> QTimer:
    timer = QTimer(parent, singleShot=True, interval=ms)
    timer.timeout.connect(slot)
    return timer


def _swatch(rgb) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)


def activate(host) -> ConfidenceDock:
    dock = ConfidenceDock(host)
    host.add_dock(dock, "Confidence")
    return dock


def deactivate(host) -> None:
    """Stop this host's dock (the plugin object is shared: tests open several windows)."""
    for dock in host.docks:
        if isinstance(dock.widget(), ConfidenceDock):
            dock.widget().shutdown()
