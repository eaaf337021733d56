"""Per-label statistics kept up to date while painting: voxels, volume in ml, key slices, extent.

Counts are kept per label and per sweep slice. One full count when attached; after that each edit
(do, undo or redo) updates them from its changed voxels only, so a brush stroke costs the size of
the stroke, not of the volume. Key slices come from the provenance (one small array per label).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from usannotator.core.events import Signal


@dataclass
class LabelStats:
    value: int
    name: str
    voxels: int
    volume_ml: float
    key_slices: int
    first_slice: int | None      # along the sweep; None when the label is absent
    last_slice: int | None
    extent_mm: float             # length the label covers along the sweep: (last - first + 1) x sweep spacing

    def to_dict(self) -> dict:
        return asdict(self)


class LabelStatistics:
    """Statistics of a Document's labels. `changed()` is emitted after every update."""

    def __init__(self, doc):
        self.doc = doc
        self.changed = Signal()
        self._per_slice: dict[int, np.ndarray] = {}
        self.recount()
        doc.edit_applied.connect(self._on_edit)
        doc.labels_changed.connect(self._on_labels_changed)

    def close(self) -> None:
        self.doc.edit_applied.disconnect(self._on_edit)
        self.doc.labels_changed.disconnect(self._on_labels_changed)

    # ----- reading -----
    def of(self, value: int) -> LabelStats:
        doc = self.doc
        counts = self._per_slice.get(int(value))
        present = np.flatnonzero(counts) if counts is not None else np.zeros(0, dtype=int)
        voxels = int(counts.sum()) if counts is not None else 0
        name = doc.label_table[value].name if value in doc.label_table else f"label {value}"
        first, last = (int(present[0]), int(present[-1])) if present.size else (None, None)
        geometry = doc.volume.geometry
        extent = (last - first + 1) * geometry.spacing_zyx[doc.sweep_axis] if present.size else 0.0
        return LabelStats(int(value), name, voxels, voxels * geometry.voxel_volume_ml,
                          int(doc.provenance.key_slices(value).size), first, last, float(extent))

    def all(self) -> list:
        """Every label of the table, and any other value present in the label map."""
        values = set(self.doc.label_table.values()) | {v for v, c in self._per_slice.items() if c.any()}
        return [self.of(v) for v in sorted(values)]

    # ----- keeping up -----
    def recount(self) -> None:
        """Count everything once (on attach, and when the whole label map was replaced)."""
        labels = np.moveaxis(self.doc.labels, self.doc.sweep_axis, 0)
        self._per_slice = {}
        for z in range(labels.shape[0]):
            counts = np.bincount(labels[z].ravel())
            for value in np.flatnonzero(counts[1:]) + 1:
                self._slices_of(value)[z] = counts[value]
        self.changed.emit()

    def _on_labels_changed(self, region) -> None:
        if region is None:
            self.recount()

    def _on_edit(self, change, kind: str) -> None:
        old, new = (change.after, change.before) if kind == "undo" else (change.before, change.after)
        changed = old != new
        if not changed.any():
            self.changed.emit()  # provenance only: key-slice counts changed
            return
        z = np.nonzero(changed)[self.doc.sweep_axis] + change.region[self.doc.sweep_axis].start
        for values, sign in ((old[changed], -1), (new[changed], 1)):
            for value in np.unique(values):
                if value:
                    hits = np.bincount(z[values == value], minlength=self.doc.provenance.n_slices)
                    self._slices_of(value)[:] += sign * hits
        self.changed.emit()

    def _slices_of(self, value) -> np.ndarray:
        value = int(value)
        if value not in self._per_slice:
            self._per_slice[value] = np.zeros(self.doc.provenance.n_slices, dtype=np.int64)
        return self._per_slice[value]


def label_statistics(doc) -> list:
    """One-off statistics of a document (the command line); the GUI keeps a LabelStatistics."""
    stats = LabelStatistics(doc)
    stats.close()
    return stats.all()
