"""The document: a volume, its label map, label table and provenance, and the single edit path."""

from __future__ import annotations

import numpy as np

from usannotator.core.edits import Edit, LockedLabelError, OverwriteRule, bounding_box, compose
from usannotator.core.errors import UserError
from usannotator.core.events import Signal
from usannotator.core.labels import LabelTable
from usannotator.core.provenance import Provenance, Source
from usannotator.core.undo import Change, UndoStack
from usannotator.core.volume import Volume

LABEL_DTYPE = np.uint16
FEW_VALUES = 64     # a slab whose largest value is below this is searched value by value


def values_present(labels: np.ndarray) -> np.ndarray:
    """The distinct values of a label map, sorted: the same as np.unique, without sorting every voxel.

    np.unique spends ~9 s on a thesis-sized map (1443 x 564 x 632); a label map holds a handful of
    small values, so a slab at a time asks "is v here?" for each v up to the slab's maximum (a few
    vectorised comparisons, ~0.2 s in all), and counts only slabs with larger values.
    """
    if labels.size == 0:
        return np.zeros(0, dtype=labels.dtype)
    found = set()
    slabs = labels.reshape(len(labels), -1)
    for start in range(0, len(slabs), 16):
        slab = slabs[start:start + 16]
        top = int(slab.max())
        if top < FEW_VALUES:
            found.update(v for v in range(top + 1) if v in found or (slab == v).any())
        else:
            found.update(np.flatnonzero(np.bincount(slab.ravel())).tolist())
    return np.array(sorted(found), dtype=labels.dtype)


class Document:
    """Holds the data and announces changes.

    Signals: labels_changed(region) with the box of changed voxels (None = everything),
    provenance_changed(), volume_changed(), history_changed(), edit_applied(change, kind) where
    kind is "do", "undo" or "redo" (the autosave journal listens to it).
    """

    def __init__(self, volume: Volume, labels: np.ndarray | None = None, label_table: LabelTable | None = None,
                 provenance: Provenance | None = None, undo_cap_bytes: int = 512 * 1024 ** 2):
        self.volume = volume
        self.labels = self._checked_labels(volume, labels)
        self.label_table = label_table or LabelTable()
        self.label_table.ensure(values_present(self.labels))
        self.provenance = provenance or Provenance(volume.n_slices)
        self.history = UndoStack(undo_cap_bytes)
        self.labels_path: str | None = None
        self.session_path: str | None = None
        self.modified = False
        self.labels_changed = Signal()
        self.provenance_changed = Signal()
        self.volume_changed = Signal()
        self.history_changed = Signal()
        self.edit_applied = Signal()

    @staticmethod
    def _checked_labels(volume: Volume, labels) -> np.ndarray:
        if labels is None:
            return np.zeros(volume.shape, dtype=LABEL_DTYPE)
        labels = np.asarray(labels)
        if labels.shape != volume.shape:
            raise UserError(f"labels have shape {labels.shape} but the image has {volume.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise UserError(f"labels must hold integers, got {labels.dtype}")
        if labels.min(initial=0) < 0 or labels.max(initial=0) > np.iinfo(LABEL_DTYPE).max:
            raise UserError("label values must be between 0 and 65535")
        return labels.astype(LABEL_DTYPE, copy=True)

    # ----- reading -----
    @property
    def sweep_axis(self) -> int:
        return self.volume.sweep_axis

    def key_slices(self, label: int) -> np.ndarray:
        return self.provenance.key_slices(label)

    def label_voxels(self, label: int) -> int:
        return int(np.count_nonzero(self.labels == label))

    # ----- the one edit path -----
    def apply_edit(self, edit: Edit):
        """Apply an edit under the locks, overwrite rule and key-slice protection.

        Returns the recorded Change, or None when the edit changed nothing (no undo step then).
        Raises LockedLabelError when it wanted to change voxels and every one was protected.
        """
        region = tuple(edit.region)
        old = self.labels[region]
        new = np.broadcast_to(np.asarray(edit.values, dtype=LABEL_DTYPE), old.shape)
        wanted = new != old
        if edit.mask is not None:
            wanted &= np.broadcast_to(edit.mask, old.shape)
        allowed = wanted & self._writable(old, new, region, edit)
        if wanted.any() and not allowed.any() and not (edit.slices_written or edit.set_provenance):
            raise LockedLabelError("every voxel this edit would change is protected (locked label, "
                                   "overwrite rule or key slice)")
        box = bounding_box(allowed)
        prov_before = self.provenance.snapshot()
        touched = self._update_provenance(old, new, allowed, region, edit)
        # A provenance write that changed nothing must not become an undo step.
        touched = {v for v in touched if not np.array_equal(prov_before.get(v, 0), self.provenance.of(v))}
        if box is None and not touched:
            return None
        if box is None:
            box = tuple(slice(0, 0) for _ in region)
        full_box = compose(region, box)
        before = self.labels[full_box].copy()
        after = np.where(allowed[box], new[box], before)
        self.labels[full_box] = after
        change = Change(edit.description, full_box, before, after,
                        {v: prov_before.get(v, np.zeros(self.provenance.n_slices, np.int8)) for v in touched},
                        {v: self.provenance.of(v).copy() for v in touched})
        self.history.push(change)
        self._announce(change, "do")
        return change

    def _writable(self, old, new, region, edit: Edit) -> np.ndarray:
        table = self.label_table
        protected = set(table.locked_values())
        if edit.rule is OverwriteRule.VISIBLE_UNLOCKED:
            protected |= {l.value for l in table if not l.visible}
        ok = np.ones(old.shape, dtype=bool)
        if protected:
            prot = np.fromiter(protected, dtype=np.int64)
            ok &= ~np.isin(old, prot) & ~np.isin(new, prot)
        if edit.rule is OverwriteRule.BACKGROUND_ONLY:
            ok &= old == 0
        if edit.source not in (Source.MANUAL, Source.CORRECTED):
            ok &= ~self._on_key_slice(old, new, region)
        return ok

    def _on_key_slice(self, old, new, region) -> np.ndarray:
        """True where an algorithm's write would change a key slice of the old or new label."""
        axis = self.sweep_axis
        zs = np.arange(self.provenance.n_slices)[region[axis]]
        top = int(max(old.max(initial=0), new.max(initial=0)))
        key = np.zeros((top + 1, len(zs)), dtype=bool)
        for v in self.provenance.labels():
            if v <= top:
                key[v] = self.provenance.key_mask(v)[zs]
        shape = [1, 1, 1]
        shape[axis] = len(zs)
        zidx = np.arange(len(zs)).reshape(shape)
        return key[old, zidx] | key[new, zidx]

    def _update_provenance(self, old, new, allowed, region, edit: Edit) -> set:
        axis = self.sweep_axis
        z0 = region[axis].start or 0
        other = tuple(a for a in range(3) if a != axis)
        touched = set()
        changed_values = np.unique(np.concatenate([old[allowed], new[allowed]])) if allowed.any() else []
        for value in changed_values:
            if value == 0:
                continue
            hit = ((old == value) | (new == value)) & allowed
            slices = np.flatnonzero(hit.any(axis=other)) + z0
            if edit.source in (Source.MANUAL, Source.CORRECTED):
                self.provenance.mark_hand_edit(int(value), slices)
            else:
                self.provenance.set(int(value), slices, edit.source)
            touched.add(int(value))
        locked = self.label_table.locked_values()
        for value, slices in edit.slices_written.items():
            if int(value) in locked:
                continue
            slices = [z for z in slices if not self.provenance.key_mask(value)[z]]
            self.provenance.set(int(value), slices, edit.source)
            touched.add(int(value))
        for value, sources in edit.set_provenance.items():
            if int(value) in locked:
                continue
            for z, source in sources.items():
                self.provenance.of(value)[int(z)] = int(source)
            touched.add(int(value))
        if edit.set_provenance and not touched and not allowed.any():
            raise LockedLabelError("the provenance of a locked label cannot change")
        return touched

    def undo(self):
        if not self.history.can_undo():
            return None
        change = self.history.pop_undo()
        self._restore(change.region, change.before, change.provenance_before)
        self._announce(change, "undo")
        return change

    def redo(self):
        if not self.history.can_redo():
            return None
        change = self.history.pop_redo()
        self._restore(change.region, change.after, change.provenance_after)
        self._announce(change, "redo")
        return change

    def _restore(self, region, values, provenance: dict) -> None:
        self.labels[region] = values
        for v, arr in provenance.items():
            self.provenance.of(v)[:] = arr

    def _announce(self, change: Change, kind: str) -> None:
        self.modified = True
        self.labels_changed.emit(change.region)
        self.provenance_changed.emit()
        self.history_changed.emit()
        self.edit_applied.emit(change, kind)

    # ----- whole-document changes (not undoable: loading, not editing) -----
    def replace_labels(self, labels: np.ndarray, provenance: Provenance | None = None) -> None:
        self.labels = self._checked_labels(self.volume, labels)
        self.label_table.ensure(values_present(self.labels))
        self.provenance = provenance or Provenance.from_sparse_labels(self.labels, self.sweep_axis)
        self.history.clear()
        self.modified = False
        self.labels_changed.emit(None)
        self.provenance_changed.emit()
        self.history_changed.emit()
