"""The IFSS-Net dock: propagate key-slice masks through the volume as a model job, watch the slices
arrive in a preview overlay, write the result as one undoable edit, and after hand corrections
recompute only the stretches next to them (spec ifss-net.md section 8).

All the computing is the Qt-free plugin's (`propagate.Propagator`, `adapt.adapt`); this module only
runs it on the host's model thread and shows what comes back. Torch is imported inside the jobs,
so activating the plugin never loads it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from usannotator.core.errors import UserError
from usannotator.gui.overlays import CategoryOverlay
from usannotator.gui.widgets import note, number
from usannotator.jobs import Job
from usannotator_plugins.ifss.config import ADAPT_STEPS, SPEC_THRESHOLD, THRESHOLD

SETTINGS_GROUP = "ifss"
PROPAGATE_SHORTCUT = "Ctrl+P"   # free: File uses Ctrl+O/S/L/E/Q, tools single letters, docks Shift+letter
DEVICES = ("auto", "cpu", "cuda")
REDRAW_MS = 100                 # slices arrive tens per second; the views redraw at most this often
PREVIEW_THRESHOLD = 0.5         # preview only: one chain's own probability (near 0 or 1) >= 0.5;
                                # the written labels use propagate.THRESHOLD on the blend
SHIPPED = "shipped lite weights"


# ----- jobs (the model thread: no Qt here) ------------------------------------------------------------

def _on_device(propagator, device: str, preference: str) -> None:
    """Point the propagator at the device this run uses: the preference when one is set, else the
    model thread's (which is the CPU again after the host fell back from an out-of-memory GPU)."""
    from usannotator.jobs import choose_device

    try:
        wanted = choose_device(device if preference == "auto" else preference)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    propagator.requested_device = wanted
    if propagator.model is not None and propagator.device != wanted:
        propagator.device = wanted
        propagator.use_model(propagator.model)     # moves it; chains cached for the old device go


def run_propagation(progress, device="cpu", *, propagator, inputs, labels_to_run, corrections, preference):
    """A full propagation, or (with `corrections` {label: [z]}) only the intervals next to them."""
    _on_device(propagator, device, preference)
    intervals = None
    if corrections:
        intervals = intervals_next_to(corrections, inputs["key_slices"], inputs["image"].shape[0])
        labels_to_run = sorted(intervals)
    return propagator.propagate(progress, labels_to_run=labels_to_run, intervals=intervals, **inputs)


def intervals_next_to(corrections: dict, key_slices: dict, n_slices: int) -> dict:
    """{label: intervals} that the corrected key slices split (spec 8.6), each interval once."""
    from usannotator_plugins.ifss.propagate import intervals_around

    found = {}
    for label, zs in corrections.items():
        keys = [int(k) for k in key_slices[label]]
        ivs = {iv for z in zs for iv in intervals_around(keys, label, z, n_slices)}
        if ivs:
            found[label] = sorted(ivs, key=lambda iv: iv.low)
    return found


def run_weights_load(progress, device="cpu", *, path, preference):
    """A propagator for a weights file, its model loaded (so a bad file fails here, clearly)."""
    from usannotator_plugins.ifss.propagate import Propagator
    from usannotator_plugins.ifss.weights import read_weights_file

    progress.update(0.0, "reading the weights")
    config_name = read_weights_file(path)["config"].name    # lite or full, checked in full by load_model
    propagator = Propagator(path, device, config_name=config_name)
    _on_device(propagator, device, preference)
    propagator.ensure_model()
    return propagator


def run_adaptation(progress, device="cpu", *, propagator, inputs, steps, preference):
    from usannotator_plugins.ifss.adapt import adapt

    _on_device(propagator, device, preference)
    return adapt(progress, propagator, inputs["image"], inputs["labels"], inputs["key_slices"], steps)


def _inputs(document) -> dict:
    from usannotator_plugins.ifss.propagate import document_inputs   # imports torch: only when a job starts

    return document_inputs(document)


# ----- what changed since the last run ----------------------------------------------------------------

def slice_digests(labels: np.ndarray) -> list:
    """Per sweep slice, {label: digest of its mask}: enough to tell later which muscles changed where."""
    out = []
    for plane in labels:
        out.append({int(v): hashlib.blake2b(np.packbits(plane == v).tobytes(), digest_size=16).digest()
                    for v in np.unique(plane) if v})
    return out


@dataclass
class LastRun:
    """The document as the last propagation left it: which slices it may later recompute alone."""

    labels_run: tuple
    keys: dict           # {label: set of key slices}
    digests: list        # slice_digests of the label map

    @classmethod
    def of(cls, document, labels_run) -> "LastRun":
        return cls(tuple(labels_run), _keys(document), slice_digests(document.labels))

    def corrections(self, document, labels_run) -> dict | None:
        """{label: [z]} of key slices drawn or corrected since this run, or None when anything else
        changed (an undo, another tool, a key slice unmarked, other muscles asked for): then
        everything is propagated again."""
        if tuple(labels_run) != self.labels_run:
            return None
        keys_now = _keys(document)
        found = {}
        for label, z in self._changed(document, keys_now):
            if z not in keys_now.get(label, ()):
                return None                      # a filled slice changed: not a hand correction
            if label in labels_run:
                found.setdefault(label, []).append(z)
        return found

    def _changed(self, document, keys_now) -> set:
        """(label, z) whose mask changed, or that became or stopped being a key slice."""
        changed = set()
        for z, (before, now) in enumerate(zip(self.digests, slice_digests(document.labels))):
            changed |= {(v, z) for v in set(before) | set(now) if before.get(v) != now.get(v)}
        for label in set(self.keys) | set(keys_now):
            changed |= {(label, z) for z in self.keys.get(label, set()) ^ keys_now.get(label, set())}
        return changed


def _keys(document) -> dict:
    return {v: set(int(z) for z in document.key_slices(v)) for v in document.provenance.labels()}


# ----- the preview overlay ----------------------------------------------------------------------------

class PreviewOverlay(CategoryOverlay):
    """Slices as the chains compute them, in each muscle's colour, drawn over the labels."""

    def __init__(self):
        super().__init__("ifss_preview", "IFSS-Net preview", {1: ("", (255, 255, 255))}, opacity=0.7)

    def reset(self, document) -> None:
        table = document.label_table
        self.categories = {v: (f"{table[v].name} (propagating)", tuple(table[v].color)) for v in table.values()}
        self.value_range = (0.0, float(max(self.categories, default=1)))
        self.volume_map = np.zeros(document.labels.shape, np.float32)

    def clear(self) -> None:
        if self.volume_map is not None:
            self.volume_map.fill(0)
        self.changed.emit()

    def show_slices(self, label: int, slices, probability) -> None:
        """The chain's newest estimate of these slices replaces what the preview had for this muscle."""
        for z, p in zip(slices, probability):
            row = self.volume_map[int(z)]
            row[row == label] = 0
            row[(p >= PREVIEW_THRESHOLD) & (row == 0)] = label


# ----- the dock ---------------------------------------------------------------------------------------

class IFSSDock(QWidget):
    def __init__(self, host):
        super().__init__()
        self.host = host
        self.settings = host.settings(SETTINGS_GROUP)
        self.overlay = PreviewOverlay()
        self.propagator = None      # per document and weights; holds the model and the chain cache
        self.weights_path = None    # None: the shipped lite weights
        self.adapted_steps = 0
        self.last_run = None
        self.last_result = None     # the PropagationResult last written
        self.handle = None
        self._run = 0               # which job arriving results belong to; older ones are dropped
        self.partials = 0           # slices shown by the running propagation (tests, the state line)
        self.label_boxes = {}
        self._redraw = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw.timeout.connect(self.overlay.changed.emit)
        layout = QVBoxLayout(self)
        for group in (self._labels_group(), self._model_group(), self._run_group(), self._adapt_group()):
            layout.addWidget(group)
        layout.addStretch(1)
        self.propagate_action = self._propagate_action()
        host.document_opened.connect(self._document_opened)
        host.document_closed.connect(self._document_closed)
        self._update_enabled()

    # ----- building -----
    def _labels_group(self):
        self.labels_box = QGroupBox("Muscles", self)
        QHBoxLayout(self.labels_box)
        self.labels_box.setToolTip("The muscles to propagate; locked ones are never written")
        return self.labels_box

    def _model_group(self):
        box = QGroupBox("Model", self)
        form = QFormLayout(box)
        self.weights_label = note(box, SHIPPED)
        self.load_button = QPushButton("Load weights…", box)
        self.load_button.setToolTip("Use an IFSS-Net weights file (lite or full configuration)")
        self.load_button.clicked.connect(self.choose_weights)
        self.shipped_button = QPushButton("Shipped", box)
        self.shipped_button.setToolTip("Go back to the shipped lite weights")
        self.shipped_button.clicked.connect(self.use_shipped_weights)
        row = QHBoxLayout()
        row.addWidget(self.load_button)
        row.addWidget(self.shipped_button)
        self.device_box = QComboBox(box)
        self.device_box.addItems(DEVICES)
        self.device_box.setCurrentText(str(self.settings.value("device", "auto")))
        self.device_box.setToolTip("auto: an NVIDIA GPU when there is one, else the CPU")
        self.device_box.currentTextChanged.connect(self._device_chosen)
        self.device_label = note(box, "–")
        form.addRow("Weights", self.weights_label)
        form.addRow(row)
        form.addRow("Device", self.device_box)
        form.addRow("In use", self.device_label)
        return box

    def _run_group(self):
        box = QGroupBox("Propagation", self)
        form = QFormLayout(box)
        self.corrections_box = QCheckBox("Recompute only around corrections", box)
        self.corrections_box.setChecked(self.settings.value("only_corrections", True, type=bool))
        self.corrections_box.setToolTip("After a propagation, slices corrected by hand become key slices; "
                                        "propagating again then recomputes only the stretches next to them")
        self.corrections_box.toggled.connect(lambda on: self.settings.setValue("only_corrections", on))
        self.threshold_box = number(
            box, 0.05, 1.0, 2, 0.05, self.settings.value("threshold", THRESHOLD, type=float),
            f"A voxel becomes the muscle where the blended probability reaches this (default {THRESHOLD}, "
            f"measured best for the shipped weights; the spec's {SPEC_THRESHOLD} gives smaller muscles). "
            "Changing it and propagating again reuses the computed slices.")
        self.threshold_box.valueChanged.connect(lambda v: self.settings.setValue("threshold", v))
        self.propagate_button = QPushButton("Propagate", box)
        self.propagate_button.setToolTip(f"Carry the key-slice masks through the volume ({PROPAGATE_SHORTCUT})")
        self.propagate_button.clicked.connect(self.propagate)
        self.cancel_button = QPushButton("Cancel", box)
        self.cancel_button.setToolTip("Stop; the labels stay as they were")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.propagate_button)
        row.addWidget(self.cancel_button)
        self.state_label = note(box, "Open a volume with key slices.")
        form.addRow(self.corrections_box)
        form.addRow("Threshold", self.threshold_box)
        form.addRow(row)
        form.addRow(self.state_label)
        return box

    def _adapt_group(self):
        box = QGroupBox("Adapt to this volume", self)
        form = QFormLayout(box)
        self.steps_box = QSpinBox(box, minimum=1, maximum=5000, singleStep=50, value=ADAPT_STEPS)
        self.steps_box.setToolTip("Fine-tuning steps on this volume's key slices (a few hundred at most)")
        self.adapt_button = QPushButton("Adapt to this volume", box)
        self.adapt_button.setToolTip("Fine-tune the weights on this volume's key slices before propagating; "
                                     "the adapted weights stay with this volume only")
        self.adapt_button.clicked.connect(self.adapt)
        self.adapt_label = note(box, "")
        form.addRow("Steps", self.steps_box)
        form.addRow(self.adapt_button)
        form.addRow(self.adapt_label)
        return box

    def _propagate_action(self):
        action = QAction("IFSS-Net: propagate", self)
        action.setShortcut(QKeySequence(PROPAGATE_SHORTCUT))
        action.setToolTip(f"Propagate the key slices with IFSS-Net ({PROPAGATE_SHORTCUT})")
        action.triggered.connect(self.propagate)
        return self.host.add_action("Tools", action)

    # ----- document -----
    def _document_opened(self, document):
        self._stop()
        self.propagator = None
        self.adapted_steps = 0
        self.last_run = None
        self.overlay.reset(document)
        if self.overlay not in self.host.state.overlays:
            self.host.add_overlay(self.overlay)
        self._fill_label_boxes(document)
        self.adapt_label.setText("")
        self.state_label.setText("Ready: draw each muscle on a few key slices, then Propagate.")
        self._show_weights()
        self._update_enabled()

    def _document_closed(self):
        self._stop()
        self.propagator = None
        self.last_run = None
        self.overlay.volume_map = None
        self._update_enabled()

    def _fill_label_boxes(self, document):
        layout = self.labels_box.layout()
        for box in self.label_boxes.values():
            layout.removeWidget(box)
            box.deleteLater()
        self.label_boxes = {}
        for value in document.label_table.values():
            box = QCheckBox(document.label_table[value].name, self.labels_box)
            box.setChecked(True)
            layout.addWidget(box)
            self.label_boxes[value] = box

    def labels_to_run(self, document) -> list:
        """The ticked muscles that may be written and have key slices to start from."""
        locked = document.label_table.locked_values()
        return [v for v, box in self.label_boxes.items()
                if box.isChecked() and v not in locked and len(document.key_slices(v))]

    # ----- propagation -----
    def propagate(self):
        document = self.host.document
        if document is None or self.handle is not None:
            return None
        labels_run = self.labels_to_run(document)
        if not labels_run:
            self.host.show_error("IFSS-Net", "Nothing to propagate: tick an unlocked muscle that has key slices.")
            return None
        corrections = self._corrections(document, labels_run)
        job = Job("IFSS-Net: propagate", run_propagation, uses_model=True, kwargs={
            "propagator": self._propagator(), "inputs": _inputs(document), "labels_to_run": labels_run,
            "corrections": corrections, "preference": self.device_box.currentText()})
        run = self._start_run()
        self.handle = self.host.run_job(
            job, on_result=lambda result: self._propagated(run, labels_run, result),
            on_partial=lambda payload: self._slices_arrived(run, payload),
            on_error=lambda message, details: self._failed(run, "Propagation failed", message, details),
            on_cancel=lambda: self._cancelled(run))
        self._watch(run, self.handle)
        self.state_label.setText(self._starting_text(corrections))
        return self.handle

    def _corrections(self, document, labels_run):
        if self.last_run is None or not self.corrections_box.isChecked():
            return None
        return self.last_run.corrections(document, labels_run) or None

    @staticmethod
    def _starting_text(corrections) -> str:
        if not corrections:
            return "Propagating…"
        slices = sorted({z for zs in corrections.values() for z in zs})
        return f"Recomputing around the corrected slice{'s' * (len(slices) > 1)} {', '.join(map(str, slices))}…"

    def _propagator(self):
        if self.propagator is None:
            from usannotator_plugins.ifss.propagate import Propagator

            self.propagator = Propagator(self.weights_path, self.device_box.currentText())
        self.propagator.threshold = self.threshold_box.value()
        return self.propagator

    def _slices_arrived(self, run, payload):
        if run != self._run or self.overlay.volume_map is None:
            return
        self.overlay.show_slices(payload["label"], payload["slices"], payload["probability"])
        self.partials += 1
        if not self._redraw.isActive():
            self._redraw.start()

    def _propagated(self, run, labels_run, result):
        if run != self._run or self.host.document is None:
            return
        change = self.host.apply_edit(result.to_edit())
        self.last_result = result
        self.overlay.clear()
        self.last_run = LastRun.of(self.host.document, labels_run)
        self.device_label.setText(result.device)
        summary = (f"{'Propagated' if change is not None else 'Nothing changed'}: "
                   f"{len(result.recomputed_slices)} slices in {result.seconds:.1f} s on {result.device} "
                   f"({result.chains_computed} chains computed, {result.chains_reused} reused).")
        self.state_label.setText(" ".join([summary, *result.messages]))

    # ----- weights and device -----
    def choose_weights(self):
        path, _ = QFileDialog.getOpenFileName(self, "IFSS-Net weights", "", "IFSS-Net weights (*.pt);;All files (*)")
        return self.load_weights(path) if path else None

    def load_weights(self, path):
        """Check and load a weights file in the background; the current weights stay until it succeeds."""
        if self.handle is not None:
            return None
        job = Job("IFSS-Net: load weights", run_weights_load, uses_model=True,
                  kwargs={"path": str(path), "preference": self.device_box.currentText()})
        run = self._start_run()
        self.handle = self.host.run_job(
            job, on_result=lambda propagator: self._weights_loaded(run, str(path), propagator),
            on_error=lambda message, details: self._failed(run, "Could not load the weights", message, details),
            on_cancel=lambda: self._cancelled(run))
        self._watch(run, self.handle)
        return self.handle

    def _weights_loaded(self, run, path, propagator):
        if run != self._run:
            return
        self.weights_path, self.propagator = path, propagator
        self._weights_changed()
        self.state_label.setText(f"Loaded {propagator.config_name} weights.")

    def use_shipped_weights(self):
        if self.handle is None and (self.weights_path or self.adapted_steps):
            self.weights_path, self.propagator = None, None
            self._weights_changed()

    def _weights_changed(self):
        self.adapted_steps = 0
        self.last_run = None        # other weights: everything is propagated again
        self.adapt_label.setText("")
        self._show_weights()
        self._update_enabled()

    def _show_weights(self):
        name = SHIPPED if self.weights_path is None else self.weights_path
        if self.adapted_steps:
            name += f", adapted to this volume ({self.adapted_steps} steps)"
        self.weights_label.setText(name)
        self.weights_label.setToolTip(name)

    def _device_chosen(self, device):
        if device == "cuda" and not self._cuda_available():
            self.device_box.setCurrentText("auto")
            self.host.show_error("IFSS-Net", "No CUDA device is available on this computer: "
                                 "IFSS-Net runs on the CPU (device auto).")
            return
        self.settings.setValue("device", device)

    @staticmethod
    def _cuda_available() -> bool:
        import torch    # a user's choice: loading torch now is expected, and usually done already

        return torch.cuda.is_available()

    def _device_in_use(self, device):
        preference = self.device_box.currentText()
        self.device_label.setText(device if preference == "auto" or device.startswith("cpu (") else preference)

    # ----- adaptation -----
    def adapt(self):
        document = self.host.document
        if document is None or self.handle is not None:
            return None
        job = Job("IFSS-Net: adapt to this volume", run_adaptation, uses_model=True, kwargs={
            "propagator": self._propagator(), "inputs": _inputs(document), "steps": self.steps_box.value(),
            "preference": self.device_box.currentText()})
        run = self._start_run()
        self.handle = self.host.run_job(
            job, on_result=lambda result: self._adapted(run, result),
            on_error=lambda message, details: self._failed(run, "Adaptation failed", message, details),
            on_cancel=lambda: self._cancelled(run))
        self._watch(run, self.handle)
        self.adapt_label.setText("Adapting…")
        return self.handle

    def _adapted(self, run, result):
        if run != self._run:
            return
        self.adapted_steps += result.steps_done
        self.last_run = None        # adapted weights: the next propagation recomputes everything
        self._show_weights()
        self.adapt_label.setText(adapt_summary(result))

    # ----- job bookkeeping -----
    def _start_run(self) -> int:
        self._run += 1
        self.partials = 0
        self.overlay.clear()
        return self._run

    def _watch(self, run, handle):
        handle.device_changed.connect(self._device_in_use)
        handle.ended.connect(lambda: self._job_ended(run))
        self._update_enabled()

    def cancel(self):
        """Stop at once: the preview goes now; the job stops at its next step and changes nothing."""
        if self.handle is not None:
            self.handle.cancel()
            self._redraw.stop()
            self.overlay.clear()
            self.state_label.setText("Cancelling…")

    def _stop(self):
        self.cancel()
        self.handle = None
        self._run += 1
        self._update_enabled()

    def _cancelled(self, run):
        if run == self._run:
            self.overlay.clear()
            self.state_label.setText("Cancelled: nothing was changed.")

    def _failed(self, run, title, message, details):
        if run != self._run:
            return
        self.overlay.clear()
        self.state_label.setText(f"{title}.")
        self.host.show_error(title, message, "" if "UserError" in details else details)

    def _job_ended(self, run):
        if run == self._run:
            self.handle = None
        self._update_enabled()

    def _update_enabled(self):
        idle = self.host.document is not None and self.handle is None
        for widget in (self.propagate_button, self.adapt_button, self.load_button):
            widget.setEnabled(idle)
        self.shipped_button.setEnabled(idle and bool(self.weights_path or self.adapted_steps))
        self.propagate_action.setEnabled(idle)
        self.cancel_button.setEnabled(self.handle is not None)

    def shutdown(self):
        self._stop()
        self._redraw.stop()
        self.host.remove_overlay(self.overlay)


def adapt_summary(result) -> str:
    """Mean loss of the first and last tenth of the steps: what the fine-tuning bought."""
    losses = [float(v) for v in result.losses]
    if not losses:
        return (f"{result.steps_done} steps met no key slice, so nothing was learnt: "
                "give enough steps to run from one key slice to the next.")
    n = max(1, len(losses) // 10)
    before, after = np.mean(losses[:n]), np.mean(losses[-n:])
    return f"Adapted: {result.steps_done} steps in {result.seconds:.0f} s, loss {before:.3f} → {after:.3f}."


def activate(host) -> IFSSDock:
    dock = IFSSDock(host)
    host.add_dock(dock, "IFSS-Net")
    return dock


def deactivate(host) -> None:
    for dock in host.docks:
        if isinstance(dock.widget(), IFSSDock):
            dock.widget().shutdown()


__all__ = ["IFSSDock", "activate", "deactivate", "LastRun", "intervals_next_to", "run_propagation"]
