"""The Borders dock: the reference border split into distinct and completed parts, coloured on the
slice views by whether a prediction found it, a per-muscle table of the figures, and the attention
(activation) maps of a segmenter on each kind of border, side by side.

Every number comes from the Qt-free `analysis.analyse` (the command line's path too); the work runs
as host jobs, so the window stays responsive and Cancel leaves everything as it was. Results are kept
with the sweep axis first, as the analysis computes them; `SweepFirst` moves them back for display.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QPushButton, QScrollArea, QSpinBox,
                               QTableWidget, QTableWidgetItem, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from usannotator.core.errors import UserError
from usannotator.core.geometry import slice_of
from usannotator.gui.overlays import CategoryOverlay, SliceOverlay
from usannotator.gui.widgets import combo
from usannotator.jobs import Job
from usannotator_plugins.borders.analysis import analyse
from usannotator_plugins.borders.metrics import DEFAULT_TOLERANCE_MM, voxel_scores, metrics_csv
from usannotator_plugins.borders.outputs import SweepFirst, to_json, write_all
from usannotator_plugins.borders.split import KINDS, SplitParameters, label_border

LABEL_FILTER = "Label maps (*.nii.gz *.nii *.nrrd *.seg.nrrd *.mha);;All files (*)"
TOGGLE_SHORTCUT = "Shift+D"  # D for distinct/completed; Shift+B is the 3D brush

# Overlay categories. Hue tells the kind (warm = distinct, cool = completed; the thesis draws distinct
# borders red and completed ones blue), brightness whether the prediction found it (dark = recovered).
DISTINCT_FOUND, DISTINCT_MISSED, COMPLETED_FOUND, COMPLETED_MISSED, DISTINCT, COMPLETED = range(1, 7)
CATEGORIES = {
    DISTINCT_FOUND: ("distinct, recovered", (215, 25, 28)),
    DISTINCT_MISSED: ("distinct, missed", (255, 205, 0)),
    COMPLETED_FOUND: ("completed, recovered", (35, 85, 255)),
    COMPLETED_MISSED: ("completed, missed", (0, 235, 235)),
    DISTINCT: ("distinct", (215, 25, 28)),            # no prediction: the kind only
    COMPLETED: ("completed", (35, 85, 255)),
}
KIND_COLOURS = {"distinct": CATEGORIES[DISTINCT][1], "completed": CATEGORIES[COMPLETED][1]}
SCALES = {"joint": "both maps on one scale", "each map": "each map on its own scale"}
COLUMNS = ("Muscle", "Kind", "Share\n%", "Recovered\n%", "Mean\nmm", "P95\nmm")
COLUMN_TIPS = ("", "Distinct: a visible edge lies on the border. Completed: drawn without one.",
               "Part of the muscle's reference border that is of this kind",
               "Border voxels of this kind with the predicted border within the tolerance (hover a cell for "
               "its share of the whole border, the thesis' figure)",
               "Mean distance from these border voxels to the predicted border",
               "95th percentile of that distance")


# ----- jobs (worker threads: no Qt here) -----------------------------------------------------------------

def analysis_job(progress, image, labels, spacing_zyx, prediction, parameters, tolerance_mm, sweep_axis):
    """`analyse` on sweep-first arrays, and the overlay's categories (sweep first too)."""
    axes = SweepFirst(sweep_axis)
    image, labels, prediction = axes.arrays(image, labels, prediction)
    spacing = axes.order(spacing_zyx)
    result = analyse(progress, image, labels, spacing, prediction, parameters, tolerance_mm)
    progress.check()
    return result, border_categories(result.split, prediction, spacing, tolerance_mm)


def border_categories(split, prediction, spacing_zyx, tolerance_mm) -> np.ndarray:
    """uint8 map: each reference border voxel's kind and, with a prediction, whether it was recovered."""
    distinct, border = split.distinct > 0, split.border > 0
    out = np.zeros(border.shape, np.uint8)
    if prediction is None:
        out[distinct] = DISTINCT
        out[border & ~distinct] = COMPLETED
        return out
    found = recovered(split, prediction, spacing_zyx, tolerance_mm)
    # each kind's "missed" category is its "recovered" one plus one
    out[border] = np.where(distinct, DISTINCT_FOUND, COMPLETED_FOUND)[border] + ~found[border]
    return out


def recovered(split, prediction, spacing_zyx, tolerance_mm) -> np.ndarray:
    """Border voxels whose predicted border lies within the tolerance: the metrics' own hit rule and
    distances (metrics.voxel_scores), so the colours always agree with the table."""
    predicted_border = label_border(np.asarray(prediction), split.parameters.mode)
    found = np.zeros(split.distinct.shape, bool)
    for muscle in split.muscles:
        scores = voxel_scores(split, prediction, predicted_border, muscle, spacing_zyx)
        if scores is not None:          # a muscle the prediction lacks stays "missed"
            found[split.border == muscle] = scores["distance"] <= tolerance_mm
    return found


def read_prediction_job(progress, path, volume):
    from usannotator.io import read_labels

    progress.update(0.1, "reading the prediction")
    return read_labels(path, like=volume)[0]


def layers_job(progress, segmenter, models, device):
    """{layer name: caveat} in the segmenter's order (first = its default)."""
    from usannotator_plugins.borders.activation import layer_caveat

    model = _model(segmenter, device, models)
    return {name: layer_caveat(model, module) for name, module in segmenter.layers(model).items()}


def activation_job(progress, segmenter, models, device, **kwargs):
    from usannotator_plugins.borders.activation import border_activation_maps

    return border_activation_maps(progress, segmenter, device=device, model=_model(segmenter, device, models),
                                  **kwargs)


def _model(segmenter, device, models: dict):
    """The segmenter's model on `device`, loaded once and kept (only the model thread touches `models`)."""
    import torch

    key = (segmenter.name, device)
    if key not in models:
        models.clear()                     # one model in memory at a time
        with torch.inference_mode(False):  # weights made under inference mode could not be differentiated
            models[key] = segmenter.load(device)
    return models[key]


# ----- overlays --------------------------------------------------------------------------------------------

class AttentionOverlay(SliceOverlay):
    """One kind's attention maps on the sweep slices where they were computed (nothing elsewhere:
    a map of zeros would darken every other slice)."""

    def __init__(self, sweep_axis: int):
        super().__init__("borders-attention", "Attention", (0.0, 1.0), 0.5)
        self.sweep_axis = sweep_axis
        self.maps: dict = {}              # sweep index -> (rows, cols) map, normalised

    def slice(self, axis, index):
        plane = self.maps.get(index) if axis == self.sweep_axis else None
        # as a one-slice volume, so that slice_of orients it exactly as the views expect
        return None if plane is None else slice_of(np.expand_dims(plane, self.sweep_axis), axis, 0)

    def value_at(self, voxel):
        plane = self.maps.get(voxel[self.sweep_axis])
        if plane is None:
            return None
        return float(plane[tuple(v for a, v in enumerate(voxel) if a != self.sweep_axis)])


# ----- the side-by-side maps ----------------------------------------------------------------------------------

class ActivationPanel(QWidget):
    """Distinct | completed attention maps of one slice, 50 % over the B-mode slice, on one colour scale."""

    def __init__(self, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.images, self._shown = {}, None
        for column, kind in enumerate(KINDS):
            caption = QLabel(f"<b>{kind.capitalize()}</b> border", self)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            image = QLabel(self)
            image.setAlignment(Qt.AlignmentFlag.AlignCenter)
            image.setMinimumSize(120, 90)
            image.setObjectName(f"attention_{kind}")
            grid.addWidget(caption, 0, column)
            grid.addWidget(image, 1, column)
            self.images[kind] = image
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        grid.addWidget(self.message, 2, 0, 1, 2)
        self.show_message("Compute the attention maps to see them here.")

    def show_message(self, text: str) -> None:
        self._shown = None
        for image in self.images.values():
            image.clear()
            image.setText("—")
        self.message.setText(text)

    def show_maps(self, grey, maps: dict, masks: dict, spacing_rc, note: str = "") -> None:
        """grey: (rows, cols) in 0..1; maps: kind -> normalised map or None (no border of that kind)."""
        self._shown = (grey, maps, masks, spacing_rc)
        self.message.setText(note)
        self._draw()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._shown is not None:
            self._draw()

    def _draw(self):
        grey, maps, masks, (sr, sc) = self._shown
        width = max(120, (self.width() - 12) // 2)
        height = max(1, int(round(width * grey.shape[0] * sr / (grey.shape[1] * sc))))
        for kind, image in self.images.items():
            if maps[kind] is None:
                image.clear()
                image.setText(f"no {kind} border\non this slice")
                continue
            rgb = heat_over(grey, maps[kind], masks[kind], KIND_COLOURS[kind])
            image.setPixmap(QPixmap.fromImage(_qimage(rgb)).scaled(
                width, height, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation))


def scaled_maps(s, scale: str = "joint") -> dict:
    """kind -> the slice's map in 0..1, or None where the slice has no border of that kind."""
    from usannotator_plugins.borders.activation import per_map_normalise

    raw = {"distinct": s.distinct, "completed": s.completed}
    if scale == "joint":
        joint = dict(zip(KINDS, s.normalised()))
        return {kind: None if raw[kind] is None else joint[kind] for kind in KINDS}
    return {kind: None if raw[kind] is None else per_map_normalise(raw[kind]) for kind in KINDS}


def heat_over(grey, heat, mask, mask_colour, opacity: float = 0.5) -> np.ndarray:
    """RGB uint8: the heat map (the views' colour map) blended over the grey slice, and the border
    pixels whose score made the map (M) in their kind's colour, so the reader sees what was asked."""
    colours = _heat_colours()
    index = np.clip(np.nan_to_num(heat) * (len(colours) - 1), 0, len(colours) - 1).astype(int)
    rgb = (1 - opacity) * grey[..., None] * 255 + opacity * colours[index]
    rgb[mask] = mask_colour
    return np.ascontiguousarray(rgb.astype(np.uint8))


_HEAT = []


def _heat_colours() -> np.ndarray:
    """(256, 3) colours of the slice views' heat map, taken from their VTK table (one colour map)."""
    if not _HEAT:
        from usannotator.render.images import heat_lookup_table

        table = heat_lookup_table(1.0)
        _HEAT.append(np.array([table.GetTableValue(i)[:3] for i in range(table.GetNumberOfTableValues())]) * 255)
    return _HEAT[0]


def _qimage(rgb: np.ndarray) -> QImage:
    h, w, _ = rgb.shape
    return QImage(rgb.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _swatch(rgb) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)


def _number(value) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


# ----- the dock ------------------------------------------------------------------------------------------------

class BordersDock(QTabWidget):
    """Two pages: the borders (prediction, parameters, overlay, table, export) and the attention maps."""

    def __init__(self, host):
        super().__init__()
        self.host = host
        self.prediction = self.prediction_path = None
        self.result = self.activation = self.axes = None
        self._models: dict = {}                  # filled and read on the model thread only
        self._layers_for = None                  # the segmenter whose layers the combo lists
        self.overlay = CategoryOverlay("borders", "Border", CATEGORIES)
        self.attention_overlay = None
        self.addTab(_page(self._prediction_group(), self._parameters_group(), self._results_group(),
                          self._export_group()), "Borders")
        self.addTab(_page(self._attention_group()), "Attention")
        self.currentChanged.connect(self._tab_shown)
        self.setMinimumWidth(400)
        self.toggle_action = self._toggle_action()
        host.document_opened.connect(self._document_opened)
        host.document_closed.connect(self._document_closed)
        host.state.cursor_changed.connect(self._show_attention)
        host.state.display_changed.connect(self._show_attention)   # the panel's slice follows the contrast
        self._refresh_segmenters()
        self._update_enabled()

    # ----- building -----
    def _prediction_group(self):
        box = QGroupBox("Prediction", self)
        row = QHBoxLayout(box)
        self.prediction_label = QLabel("none: the split only", box)
        self.prediction_label.setWordWrap(True)
        choose = QPushButton("Open…", box)
        choose.setToolTip("A predicted label map of the same geometry as the image, scored against the "
                          "document's labels (the reference)")
        choose.clicked.connect(self.choose_prediction)
        self.clear_prediction_button = QPushButton("Clear", box)
        self.clear_prediction_button.clicked.connect(lambda: self._set_prediction(None, None))
        row.addWidget(self.prediction_label, 1)
        row.addWidget(choose)
        row.addWidget(self.clear_prediction_button)
        return box

    def _parameters_group(self):
        d = SplitParameters()
        box = QGroupBox("Parameters", self)
        form = QFormLayout(box)
        self.sigma_box = _spin(QDoubleSpinBox(box), 0.0, 5.0, d.sigma_px, 0.25,
                               "Gaussian smoothing of the slice before the Sobel edge strength, in pixels")
        self.percentile_box = _spin(QDoubleSpinBox(box), 50.0, 99.9, d.edge_percentile, 1.0,
                                    "A border voxel is distinct when the edge strength near it is above this "
                                    "percentile of the edge strength over the whole volume")
        self.edge_tol_box = _spin(QSpinBox(box), 0, 5, d.tol_px, 1,
                                  "Look for an edge this many pixels around each border voxel (drawn borders "
                                  "often sit a pixel beside the bright line)")
        self.tolerance_box = _spin(QDoubleSpinBox(box), 0.0, 20.0, DEFAULT_TOLERANCE_MM, 0.25,
                                   "A reference border voxel counts as recovered when the predicted border "
                                   "lies this close, in mm")
        form.addRow("Smoothing (px)", self.sigma_box)
        form.addRow("Edge threshold (percentile)", self.percentile_box)
        form.addRow("Edge tolerance (px)", self.edge_tol_box)
        form.addRow("Distance tolerance (mm)", self.tolerance_box)
        self.compute_button = QPushButton("Compute borders", box)
        self.compute_button.setToolTip("Split the reference border and score the prediction (background job)")
        self.compute_button.clicked.connect(self.compute)
        form.addRow(self.compute_button)
        return box

    def _results_group(self):
        box = QGroupBox("Borders", self)
        layout = QVBoxLayout(box)
        self.toggle_button = QToolButton(box)
        self.legend = QLabel(box)
        layout.addWidget(self.toggle_button)
        layout.addWidget(self.legend)
        self.table = QTableWidget(0, len(COLUMNS), box)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table)
        self.notes = QLabel(box)
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #c06000")
        layout.addWidget(self.notes)
        return box

    def _attention_group(self):
        box = QGroupBox("Attention", self)
        layout = QVBoxLayout(box)
        self.attention_reason = QLabel(box)
        self.attention_reason.setWordWrap(True)
        layout.addWidget(self.attention_reason)
        self.attention_controls = QWidget(box)
        form = QFormLayout(self.attention_controls)
        form.setContentsMargins(0, 0, 0, 0)
        self.segmenter_box = QComboBox(box)
        self.segmenter_box.currentIndexChanged.connect(self._load_layers)
        self.layer_box = QComboBox(box)
        self.layer_box.setToolTip("The network layer whose activations are weighted; the segmenter's default first")
        self.layer_box.currentIndexChanged.connect(self._show_caveat)
        self.caveat = QLabel(box)
        self.caveat.setWordWrap(True)
        self.caveat.setStyleSheet("color: #c06000")
        self.label_box = QComboBox(box)
        self.label_box.setToolTip("The muscle whose border pixels are scored")
        self.target_box = combo(box, ("muscle", "background"), "The logit differentiated: the muscle's, or "
                                 "background (the thesis authors' choice)")
        self.weights_box = combo(box, ("global", "per-pixel"), "global: one weight per channel (Seg-Grad-CAM); "
                                  "per-pixel: gradient times activation (HiResCAM), which separates the kinds "
                                  "better in small networks")
        self.range_box = _spin(QSpinBox(box), 0, 100, 0, 1, "Slices on each side of the current one (0: the "
                               "current slice only); the maps of every computed slice follow the cursor")
        self.attention_button = QPushButton("Compute attention maps", box)
        self.attention_button.clicked.connect(self.compute_attention)
        for name, widget in (("Model", self.segmenter_box), ("Layer", self.layer_box), ("", self.caveat),
                             ("Muscle", self.label_box), ("Target", self.target_box),
                             ("Weights", self.weights_box), ("± slices", self.range_box)):
            form.addRow(name, widget)
        form.addRow(self.attention_button)
        layout.addWidget(self.attention_controls)
        self._attention_display(box, layout)
        return box

    def _attention_display(self, box, layout):
        """The two maps side by side, their colour scale, and the choice to show one on the slice view."""
        self.panel = ActivationPanel(box)
        layout.addWidget(self.panel)
        self.scale_box = combo(box, tuple(SCALES), "joint: both maps on one scale, so colours compare across "
                                "them (the default); each map: each on its own, which shows a weak map's shape")
        self.scale_box.currentIndexChanged.connect(self._rescale)
        self.show_on_views = combo(box, ("off", *KINDS), "Show one of the two maps over the cross-section view")
        self.show_on_views.currentIndexChanged.connect(self._sync_attention_overlay)
        row = QFormLayout()
        row.addRow("Colour scale", self.scale_box)
        row.addRow("On the slice view", self.show_on_views)
        layout.addLayout(row)

    def _export_group(self):
        box = QGroupBox("Export", self)
        row = QHBoxLayout(box)
        self.export_button = QPushButton("Results…", box)
        self.export_button.setToolTip("distinct.nii.gz, completed.nii.gz, split.json and, with a prediction, "
                                      "metrics.json and metrics.csv: the files of `usannotator borders`")
        self.export_button.clicked.connect(self.export_dialog)
        png = QPushButton("View as PNG…", box)
        png.setToolTip("A screenshot of the whole window")
        png.clicked.connect(self.screenshot_dialog)
        row.addWidget(self.export_button)
        row.addWidget(png)
        return box

    def _toggle_action(self):
        action = QAction("Border overlay", self)
        action.setCheckable(True)
        action.setChecked(True)
        action.setShortcut(QKeySequence(TOGGLE_SHORTCUT))
        action.setToolTip(f"Show the distinct and completed borders on the slice views ({TOGGLE_SHORTCUT})")
        action.toggled.connect(lambda on: self.overlay.set(visible=on))
        self.host.add_action("View", action)
        self.toggle_button.setDefaultAction(action)
        return action

    # ----- document -----
    def _document_opened(self, document):
        self.axes = SweepFirst(document.sweep_axis)
        document.labels_changed.connect(self._labels_changed)
        self._set_prediction(None, None)
        self._update_enabled()

    def _document_closed(self):
        self._set_prediction(None, None)
        self._clear_results()
        self.axes = None
        self._update_enabled()

    def _labels_changed(self, _region=None):
        if self.result is not None:
            self.notes.setText("The labels changed since the borders were computed: compute them again.")

    def _update_enabled(self):
        has_document = self.host.document is not None
        self.compute_button.setEnabled(has_document)
        self.clear_prediction_button.setEnabled(self.prediction is not None)
        self.export_button.setEnabled(self.result is not None)
        self.toggle_action.setEnabled(self.result is not None)
        self.attention_button.setEnabled(self.result is not None and self.layer_box.count() > 0)
        self.attention_button.setToolTip("" if self.result is not None else "Compute the borders first")

    # ----- prediction -----
    def choose_prediction(self):
        if self.host.document is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open a prediction", "", LABEL_FILTER)
        if path:
            self.open_prediction(path)

    def open_prediction(self, path):
        """Read in the background; a file that does not line up with the image is refused with a dialog."""
        document = self.host.document
        job = Job(f"Reading {Path(path).name}", read_prediction_job, kwargs={"path": str(path),
                                                                            "volume": document.volume})
        return self.host.run_job(job, on_result=lambda labels: self._prediction_read(document, path, labels),
                                 on_error=self._failed("Could not use the prediction"))

    def _prediction_read(self, document, path, labels):
        if document is self.host.document:
            self._set_prediction(labels, path)

    def _failed(self, title):
        def show(message, details):
            # a UserError says all there is to say; anything else keeps its traceback one click away
            self.host.show_error(title, message, "" if "UserError" in details else details)
        return show

    def _set_prediction(self, labels, path):
        self.prediction, self.prediction_path = labels, path
        if labels is None:
            self.prediction_label.setText("none: the split only")
        else:
            values = ", ".join(str(int(v)) for v in np.unique(labels) if v)
            self.prediction_label.setText(f"{Path(path).name} (labels {values or 'none'})")
            if self.result is not None:
                self.notes.setText("A new prediction: compute the borders again to score it.")
        self._update_enabled()

    # ----- the analysis -----
    def split_parameters(self) -> SplitParameters:
        return SplitParameters(sigma_px=self.sigma_box.value(), tol_px=self.edge_tol_box.value(),
                               edge_percentile=self.percentile_box.value())

    def compute(self):
        document = self.host.document
        if document is None:
            return None
        job = Job("Border analysis", analysis_job, kwargs={
            "image": document.volume.array, "labels": document.labels.copy(),
            "spacing_zyx": document.volume.geometry.spacing_zyx, "prediction": self.prediction,
            "parameters": self.split_parameters(), "tolerance_mm": self.tolerance_box.value(),
            "sweep_axis": document.sweep_axis})
        self.compute_button.setEnabled(False)
        handle = self.host.run_job(job, on_result=lambda r: self._analysed(document, r),
                                   on_error=self._failed("Border analysis failed"))
        handle.ended.connect(self._update_enabled)
        return handle

    def _analysed(self, document, outcome):
        if document is not self.host.document:
            return
        self.result, categories = outcome
        self._clear_attention()
        self.overlay.volume_map = self.axes.back(categories)
        if self.overlay not in self.host.state.overlays:
            self.host.add_overlay(self.overlay)
        self.overlay.set(visible=self.toggle_action.isChecked())
        self._fill_legend()
        self._fill_table()
        self.notes.setText("\n".join(self.result.warnings))
        self._fill_labels()
        self._update_enabled()
        self.host.status("Border analysis done")

    def _clear_results(self):
        self.result = None
        self.host.remove_overlay(self.overlay)
        self.overlay.volume_map = None
        self.table.setRowCount(0)
        self.legend.clear()
        self.notes.clear()
        self.label_box.clear()
        self._clear_attention()

    def _fill_legend(self):
        """One row per kind: with a prediction, recovered | missed; without, the kind alone."""
        scored = self.result.metrics is not None
        rows = ((DISTINCT_FOUND, DISTINCT_MISSED), (COMPLETED_FOUND, COMPLETED_MISSED)) if scored else \
            ((DISTINCT,), (COMPLETED,))
        cell = '<td><span style="color: rgb{1}">&#9632;</span>&nbsp;{0}&nbsp;&nbsp;</td>'
        self.legend.setText("<table>" + "".join("<tr>" + "".join(cell.format(*CATEGORIES[v]) for v in row) + "</tr>"
                                                for row in rows) + "</table>")

    def _names(self) -> dict:
        table = self.host.document.label_table
        return {v: table[v].name for v in table.values()}

    def _fill_table(self):
        rows = list(self._table_rows())
        self.table.setRowCount(len(rows))
        for r, (cells, tip, colour) in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight if c > 1 else Qt.AlignmentFlag.AlignLeft)
                if c == 3:
                    item.setToolTip(tip)
                if c == 1:
                    item.setIcon(_swatch(colour))
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        self._fit_table_height()

    def _fit_table_height(self):
        """Every row in view: the page scrolls, not a small table inside it."""
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        frame = 2 * self.table.frameWidth() + self.table.horizontalHeader().height()
        self.table.setFixedHeight(rows + frame + 2)

    def _table_rows(self):
        """(cells, tooltip of the recovered cell, kind colour) per muscle (then all muscles) and kind."""
        names, split, metrics = self._names(), self.result.split, self.result.metrics
        shares = split.shares()
        for muscle in [*split.muscles, "all"]:
            figures = None if metrics is None else (metrics["all"] if muscle == "all" else metrics["muscles"][muscle])
            for kind in KINDS:
                colour = KIND_COLOURS[kind]
                name, share = names.get(muscle, str(muscle)), _number(shares[muscle][kind])
                if figures is None:
                    yield [name, kind, share, "—", "—", "—"], "no prediction", colour
                    continue
                f = figures[kind]
                tip = (f"{_number(f['recovered_of_total'])} % of the whole border of {name} "
                       f"(border true positives, both kinds: {_number(figures['btp'])} %)")
                yield [name, kind, share, _number(f["recall"]), _number(f["mean_dist_mm"]),
                       _number(f["p95_dist_mm"])], tip, colour

    # ----- attention -----
    def _refresh_segmenters(self):
        from usannotator_plugins.borders.activation import available_segmenters

        usable, why = available_segmenters(self.host.plugin_records)
        self.segmenter_box.blockSignals(True)
        self.segmenter_box.clear()
        for segmenter in usable:
            self.segmenter_box.addItem(segmenter.title, segmenter)
        self.segmenter_box.blockSignals(False)
        self.attention_controls.setEnabled(bool(usable))
        self.show_on_views.setEnabled(bool(usable))
        self.attention_reason.setText(f"Attention maps are off: {why}. The split and the metrics work without "
                                      "a model." if not usable else "")
        self.attention_reason.setVisible(not usable)

    def _tab_shown(self, index):
        if index == 1 and self._layers_for is None:   # load a model only once someone looks at the maps
            self._load_layers()

    def _load_layers(self, *_):
        segmenter = self.segmenter_box.currentData()
        if segmenter is None or segmenter is self._layers_for:
            return
        self._layers_for = segmenter
        self.layer_box.clear()
        job = Job(f"Loading {segmenter.title}", layers_job, uses_model=True,
                  kwargs={"segmenter": segmenter, "models": self._models})
        self.host.run_job(job, on_result=lambda layers: self._layers_loaded(segmenter, layers),
                          on_error=lambda message, details: self._model_failed(segmenter, message))

    def _layers_loaded(self, segmenter, layers: dict):
        if segmenter is not self.segmenter_box.currentData():
            return
        for i, (name, caveat) in enumerate(layers.items()):
            self.layer_box.addItem(f"{name} (default)" if i == 0 else name, (name, caveat))
        self._update_enabled()

    def _model_failed(self, segmenter, message):
        self._layers_for = None
        self.attention_reason.setText(f"{segmenter.title} could not be loaded: {message}")
        self.attention_reason.setVisible(True)
        self._update_enabled()

    def _show_caveat(self, *_):
        data = self.layer_box.currentData()
        self.caveat.setText(data[1] if data else "")
        self.caveat.setVisible(bool(data and data[1]))

    def _fill_labels(self):
        names = self._names()
        self.label_box.clear()
        for muscle in self.result.split.muscles:
            self.label_box.addItem(names.get(muscle, str(muscle)), muscle)
        self.label_box.setCurrentIndex(max(self.label_box.findData(self.host.active_label), 0))

    def attention_slices(self) -> list:
        z = self.host.state.cursor[self.axes.axis]
        n = self.range_box.value()
        return [s for s in range(z - n, z + n + 1) if 0 <= s < self.result.split.distinct.shape[0]]

    def compute_attention(self):
        label, slices, split = self.label_box.currentData(), self.attention_slices(), self.result.split
        if label is None or not any(np.any(split.border[z] == label) for z in slices):
            self.host.status(f"No border of {self.label_box.currentText()} on these slices")
            return None
        image, labels = self.axes.arrays(self.host.document.volume.array, self.host.document.labels)
        kwargs = {"segmenter": self.segmenter_box.currentData(), "models": self._models, "image": image,
                  "labels": labels.copy(), "distinct": split.distinct, "completed": split.completed,
                  "label": label, "slices": slices, "layer": self.layer_box.currentData()[0],
                  "target": self.target_box.currentText(), "weights": self.weights_box.currentText()}
        job = Job("Attention maps", activation_job, uses_model=True, kwargs=kwargs)
        self.attention_button.setEnabled(False)
        handle = self.host.run_job(job, on_result=lambda r: self._attention_done(self.result, r),
                                   on_error=self._failed("Attention maps failed"))
        handle.ended.connect(self._update_enabled)
        return handle

    def _attention_done(self, result, activation):
        if result is not self.result:       # the borders were computed again meanwhile
            return
        self.activation = activation
        self._sync_attention_overlay()
        self._show_attention()

    def _rescale(self, *_):
        self._show_attention()
        self._sync_attention_overlay()

    def _clear_attention(self):
        self.activation = None
        self.panel.show_message("Compute the attention maps to see them here.")
        self._sync_attention_overlay()

    def _show_attention(self, *_):
        if self.activation is None or self.axes is None:
            return
        z = self.host.state.cursor[self.axes.axis]
        s = self.activation.slices.get(z)
        if s is None:
            done = sorted(self.activation.slices)
            self.panel.show_message(f"No maps for slice {z + 1}; computed for slice(s) "
                                    f"{', '.join(str(v + 1) for v in done) or 'none'}.")
        elif s.coincide:
            self.panel.show_message(f"Slice {z + 1}: {self.activation.message or 'the maps coincide'}.")
        else:
            self.panel.show_maps(*self._panel_inputs(z, s), self._attention_note(z, s))

    def _panel_inputs(self, z, s):
        image = self.axes.array(self.host.document.volume.array)[z].astype(np.float32)
        low = self.host.state.level - self.host.state.window / 2
        grey = np.clip((image - low) / self.host.state.window, 0, 1)
        maps = scaled_maps(s, self.scale_box.currentText())
        split, label = self.result.split, self.activation.label
        masks = {kind: split.kind(kind)[z] == label for kind in KINDS}
        spacing = self.axes.order(self.host.document.volume.geometry.spacing_zyx)
        return grey, maps, masks, spacing[1:]

    def _attention_note(self, z, s) -> str:
        parts = [f"Slice {z + 1}, {self.label_box.itemText(self.label_box.findData(self.activation.label))}, "
                 f"layer {self.activation.layer}; {SCALES[self.scale_box.currentText()]} (dark = none, bright = most)."]
        if s.empty:
            parts.append(f"No positive evidence at this layer for the {' and '.join(s.empty)} border.")
        if self.activation.message:
            parts.append(self.activation.message)
        return " ".join(parts)

    def _sync_attention_overlay(self, *_):
        kind = self.show_on_views.currentText()
        if self.activation is None or kind == "off" or self.axes is None:
            if self.attention_overlay is not None:
                self.host.remove_overlay(self.attention_overlay)
            return
        if self.attention_overlay is None or self.attention_overlay.sweep_axis != self.axes.axis:
            self.attention_overlay = AttentionOverlay(self.axes.axis)
        scale = self.scale_box.currentText()
        pairs = {z: scaled_maps(s, scale) for z, s in self.activation.slices.items() if not s.coincide}
        self.attention_overlay.maps = {z: maps[kind] for z, maps in pairs.items() if maps[kind] is not None}
        self.attention_overlay.title = f"Attention ({kind})"
        if self.attention_overlay not in self.host.state.overlays:
            self.host.add_overlay(self.attention_overlay)
        self.attention_overlay.changed.emit()

    # ----- export -----
    def export_dialog(self):
        folder = QFileDialog.getExistingDirectory(self, "Export the border analysis into")
        if folder:
            self.export(folder)

    def export(self, folder) -> list:
        """The command line's files, from this result: the split as label maps, the metrics as JSON and CSV."""
        document, result = self.host.document, self.result
        geometry, names = document.volume.geometry, self._names()
        sources = {"image": document.volume.path, "labels": document.labels_path,
                   "prediction": None if self.prediction_path is None else str(self.prediction_path)}
        files = {f"{kind}.nii.gz": ("labels", self.axes.back(result.split.kind(kind)), geometry) for kind in KINDS}
        files["split.json"] = ("text", to_json({**result.split.summary(), "names": names, **sources}))
        if result.metrics is not None:
            files["metrics.json"] = ("text", to_json({**result.metrics, "names": names, **sources}))
            files["metrics.csv"] = ("text", metrics_csv(result.metrics, names))
        try:
            write_all(folder, files)
        except UserError as exc:
            self.host.show_error("Could not export", str(exc))
            return []
        self.host.status(f"Border analysis written to {folder}")
        return sorted(files)

    def screenshot_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save the view as PNG", "borders.png", "PNG (*.png)")
        if path:
            try:
                self.host.save_screenshot(path)
            except UserError as exc:
                self.host.show_error("Could not save the screenshot", str(exc))


def _page(*groups) -> QScrollArea:
    body = QWidget()
    layout = QVBoxLayout(body)
    for group in groups:
        layout.addWidget(group)
    layout.addStretch(1)
    page = QScrollArea()
    page.setWidget(body)
    page.setWidgetResizable(True)
    page.setFrameShape(QScrollArea.Shape.NoFrame)
    return page


def _spin(box, low, high, value, step, tip):
    box.setRange(low, high)
    box.setSingleStep(step)
    if isinstance(box, QDoubleSpinBox):
        box.setDecimals(2)
    box.setValue(value)
    box.setToolTip(f"{tip} (default {value:g})")
    return box


def activate(host) -> BordersDock:
    dock = BordersDock(host)
    host.add_dock(dock, "Borders")
    return dock
