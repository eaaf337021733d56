"""The whole border analysis as one job: split the reference border, then score a prediction on each
kind. The Borders dock and `usannotator borders` both call `analyse`, so they give the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from usannotator.core.errors import UserError
from usannotator_plugins.borders.metrics import DEFAULT_TOLERANCE_MM, border_metrics
from usannotator_plugins.borders.split import BorderSplit, SplitParameters, split_borders


@dataclass
class BorderAnalysis:
    split: BorderSplit
    metrics: dict | None = None          # border_metrics(...) when a prediction was given
    warnings: list = field(default_factory=list)


def analyse(progress, image, labels, spacing_zyx, prediction=None, parameters: SplitParameters | None = None,
            tolerance_mm: float = DEFAULT_TOLERANCE_MM, field_of_view=None) -> BorderAnalysis:
    """Job: (z, y, x) arrays in, plain arrays and dicts out. Bad input raises a UserError.

    `warnings` repeats the metrics' notes (prediction labels the reference lacks, muscles the
    prediction lacks) for the command line to print.
    """
    image, labels = np.asarray(image), np.asarray(labels)
    check_inputs(image, labels, prediction, field_of_view)
    if prediction is not None:
        check_prediction(labels, prediction)
    split = split_borders(image, labels, parameters, field_of_view, _part(progress, 0.0, 0.7))
    result = BorderAnalysis(split)
    if prediction is not None:
        result.metrics = border_metrics(split, np.asarray(prediction), spacing_zyx, tolerance_mm)
        result.warnings = list(result.metrics["notes"])
    if progress is not None:
        progress.update(1.0, "border analysis done")
    return result


def check_inputs(image, labels, prediction=None, field_of_view=None) -> None:
    if image.ndim != 3:
        raise UserError(f"the image needs 3 dimensions, got shape {image.shape}")
    for name, array in (("labels", labels), ("prediction", prediction), ("field of view", field_of_view)):
        if array is not None and np.shape(array) != image.shape:
            raise UserError(f"the {name} have shape {np.shape(array)} but the image has {image.shape}")
    if not labels.any():
        raise UserError("the reference holds no label (all voxels are 0), so it has no border to split")
    if field_of_view is not None and not np.any(field_of_view):
        raise UserError("the field of view mask is empty")


def check_prediction(labels, prediction) -> None:
    """A prediction sharing no label with the reference is an error (wrong file, or other label values);
    labels the reference lacks only get a note in the metrics (a model may segment more muscles)."""
    reference = {int(v) for v in np.unique(labels)} - {0}
    predicted = {int(v) for v in np.unique(prediction)} - {0}
    if not reference & predicted:
        raise UserError(f"the prediction shares no label with the reference (prediction {sorted(predicted)}, "
                        f"reference {sorted(reference)})")


class _Part:
    """Progress over [start, stop] of the parent's range, for one step of a longer job."""

    def __init__(self, parent, start, stop):
        self.parent, self.start, self.stop = parent, start, stop

    def update(self, fraction, message=""):
        self.parent.update(self.start + (self.stop - self.start) * fraction, message)


def _part(progress, start, stop):
    return None if progress is None else _Part(progress, start, stop)
