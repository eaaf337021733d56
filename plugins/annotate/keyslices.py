"""Key-slice operations: clear, un-mark, mark, and stepping from one key slice to the next.

Slices are numbered along the sweep axis. Every operation is one Edit through the Document, so it
is undoable and respects locks. Key slices themselves are made by hand edits (the Document marks
every slice a tool touches as manual, or corrected where an algorithm had filled it).

Clearing erases the label on the slice and KEEPS it a key slice: an empty key slice tells the
interpolation "this muscle is absent here". Un-marking keeps the voxels and makes the slice an
ordinary one again, so the next interpolation or propagation may overwrite it.
"""

from __future__ import annotations

import numpy as np

from usannotator.core.edits import Edit, LockedLabelError, OverwriteRule, bounding_box, compose
from usannotator.core.provenance import Source
from usannotator_plugins.annotate.tools import active_label, describe


def clear_key_slice(doc, label, z: int, *, unmark: bool = False) -> Edit | None:
    """Erase `label` on sweep slice `z` (it stays a key slice unless `unmark`). None: nothing to do."""
    label = active_label(doc, label, OverwriteRule.EVERYTHING)
    whole = _sweep_slice(doc, z)
    found = bounding_box(doc.labels[whole] == label)
    sources = {label: {z: Source.NONE}} if unmark and _is_key(doc, label, z) else {}
    if found is None and not sources:
        return None
    region = compose(whole, found) if found is not None else _empty_region(doc, z)
    mask = doc.labels[region] == label
    title = "Clear and unmark key slice" if unmark else "Clear key slice"
    return Edit(region, 0, mask, describe(doc, title, label, whole), set_provenance=sources)


def unmark_key_slice(doc, label, z: int, *, to: Source = Source.NONE) -> Edit | None:
    """Make key slice `z` of `label` an ordinary slice, voxels untouched. `to` is its new source
    (NONE, or what an algorithm had given it: INTERPOLATED / PROPAGATED). None: not a key slice."""
    label = _unlocked(doc, label)
    if Source(to).is_key:
        raise ValueError(f"un-marking needs a source that is not a key slice, got {Source(to).name}")
    if not _is_key(doc, label, z):
        return None
    return _provenance_edit(doc, label, z, Source(to), "Unmark key slice")


def mark_key_slice(doc, label, z: int) -> Edit | None:
    """Accept slice `z` of `label` as drawn: a key slice (corrected where an algorithm had filled it)."""
    label = _unlocked(doc, label)
    if _is_key(doc, label, z):
        return None
    filled = doc.provenance.of(label)[z] in (Source.INTERPOLATED, Source.PROPAGATED)
    return _provenance_edit(doc, label, z, Source.CORRECTED if filled else Source.MANUAL, "Mark key slice")


def next_key_slice(doc, z: int, label=None) -> int | None:
    """The first key slice after `z` (of `label`, or of any label); None if there is none."""
    keys = _key_slices(doc, label)
    after = keys[keys > z]
    return int(after[0]) if after.size else None


def previous_key_slice(doc, z: int, label=None) -> int | None:
    """The last key slice before `z` (of `label`, or of any label); None if there is none."""
    keys = _key_slices(doc, label)
    before = keys[keys < z]
    return int(before[-1]) if before.size else None


# ----- shared pieces -----

def _key_slices(doc, label) -> np.ndarray:
    labels = doc.provenance.labels() if label is None else [int(label)]
    found = [doc.provenance.key_slices(v) for v in labels]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=int)


def _is_key(doc, label: int, z: int) -> bool:
    return bool(Source(int(doc.provenance.of(label)[z])).is_key)


def _unlocked(doc, label) -> int:
    label = int(label)
    if label in doc.label_table and doc.label_table[label].locked:
        raise LockedLabelError(f"{doc.label_table[label].name} is locked: unlock it to change its key slices")
    return label


def _sweep_slice(doc, z: int) -> tuple:
    if not 0 <= z < doc.provenance.n_slices:
        raise ValueError(f"slice {z} is outside 0..{doc.provenance.n_slices - 1}")
    region = [slice(0, n) for n in doc.labels.shape]
    region[doc.sweep_axis] = slice(z, z + 1)
    return tuple(region)


def _empty_region(doc, z: int) -> tuple:
    """A box of no voxels on slice z: for edits that change provenance only."""
    region = [slice(0, 0)] * 3
    region[doc.sweep_axis] = slice(z, z + 1)
    return tuple(region)


def _provenance_edit(doc, label: int, z: int, source: Source, title: str) -> Edit:
    region = _empty_region(doc, z)
    return Edit(region, 0, None, describe(doc, title, label, region), set_provenance={label: {z: source}})
