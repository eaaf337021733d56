"""Interpolation on an open Document: inputs from its provenance and label table, result as one edit.

The dock runs `make_job(document, ...)` on the host's job runner (the work happens on a snapshot,
so the document is untouched while it runs and after a discarded preview), then applies
`result_to_edit(result)` through `host.apply_edit` on the GUI thread. Scripts call
`interpolate_document`, which does both in this thread.
"""

from __future__ import annotations

from usannotator.core import Edit, Source
from usannotator.jobs import Job

from .algorithm import METHOD_TITLES, InterpolationResult, interpolate


def key_slices_of(document) -> dict:
    """{label: key slices} for every unlocked label with a manual or corrected slice."""
    locked = document.label_table.locked_values()
    keys = {}
    for label in document.provenance.labels():
        slices = document.key_slices(label)
        if label not in locked and slices.size:
            keys[int(label)] = slices
    return keys


def document_inputs(document, snapshot: bool = True) -> dict:
    """The arguments of `interpolate` for this document. snapshot=False shares the label map
    (no copy) when the caller keeps the user from editing until the result is applied."""
    labels = document.labels.copy() if snapshot else document.labels
    return {"labels": labels, "key_slices": key_slices_of(document),
            "locked": document.label_table.locked_values(), "sweep_axis": document.sweep_axis,
            "spacing": document.volume.geometry.spacing_zyx}


def interpolation_job(progress, labels, key_slices, **kwargs) -> InterpolationResult:
    """Job-compatible form of `interpolate`: (progress, ...) first, as the job runner calls it."""
    return interpolate(labels, key_slices, progress=progress, **kwargs)


def make_job(document, method: str = "zoi", snapshot: bool = True, **settings) -> Job:
    """A background job computing the interpolation of the document's labels (not applying it)."""
    kwargs = document_inputs(document, snapshot) | {"method": method} | settings
    return Job(f"Interpolate: {METHOD_TITLES[method]}", interpolation_job, kwargs=kwargs)


def result_to_edit(result: InterpolationResult, description: str | None = None) -> Edit:
    """One undoable edit writing exactly the voxels the interpolation changes, with provenance
    "interpolated" on every slice each label recomputed (even where no voxel changed)."""
    return Edit(result.region, result.values, mask=result.changed,
                description=description or f"Interpolate ({METHOD_TITLES[result.method]})",
                source=Source.INTERPOLATED,
                slices_written={label: zs.tolist() for label, zs in result.slices_written.items()})


def interpolate_document(document, method: str = "zoi", progress=None, **settings):
    """Interpolate and apply in one go; returns (result, change). change is None when nothing
    changed (no undo step). No snapshot is taken: nothing else edits while this runs."""
    result = interpolate(progress=progress, method=method, **document_inputs(document, snapshot=False),
                         **settings)
    return result, document.apply_edit(result_to_edit(result))
