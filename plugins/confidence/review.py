"""The review list: slices where a label's border runs mostly through low confidence come first.

Experts disagree most where confidence is low (deep tissue, where muscles meet; thesis Part III
ch. 1), so those borders deserve a second look. Spec section 6.3: for label L on slice z, the
border B is the label's pixels with a 4-neighbour (in the slice) outside L, and the score is the
share of B below the low-confidence threshold.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# [ours, spec section 4] About the mean map value at three-quarters depth in the two reference
# images (femur 0.098, neck 0.026). The user can change it.
LOW_CONFIDENCE = 0.1
# [ours, spec section 6.3] "Mostly": more than half of the border.
MOSTLY = 0.5


class SliceToReview(NamedTuple):
    slice: int              # index along the sweep
    label: int              # label value
    share: float            # share of the label's border pixels below the threshold
    border_pixels: int      # how many border pixels the label has on that slice


def review_list(labels, confidence, threshold: float = LOW_CONFIDENCE, min_share: float = MOSTLY,
                sweep_axis: int = 0, values=None, inside=None) -> list:
    """Slices to review, worst first: every (slice, label) whose border has more than `min_share`
    of its pixels below `threshold`.

    labels, confidence: arrays of one shape, slices along `sweep_axis`.
    values: the labels to look at (default: every non-zero value present).
    inside: optional mask of the field of view; border pixels outside it are not counted
    (compounded volumes hold zeros outside the scanned region, spec section 6.1).
    """
    labels, confidence = _slices_first(labels, sweep_axis), _slices_first(confidence, sweep_axis)
    if labels.shape != confidence.shape:
        raise ValueError(f"labels {labels.shape} and confidence {confidence.shape} differ in shape")
    counted = None if inside is None else _slices_first(inside, sweep_axis) != 0
    low = confidence < threshold
    found = []
    for value in _label_values(labels, values):
        border = label_border(labels == value)
        if counted is not None:
            border &= counted
        n_border = border.sum(axis=(1, 2))
        n_low = (border & low).sum(axis=(1, 2))
        share = np.divide(n_low, n_border, out=np.zeros(len(n_border)), where=n_border > 0)
        for z in np.flatnonzero(share > min_share):
            found.append(SliceToReview(int(z), int(value), float(share[z]), int(n_border[z])))
    return sorted(found, key=lambda item: (-item.share, item.slice, item.label))


def label_border(mask) -> np.ndarray:
    """Pixels of the mask with a 4-neighbour in their slice outside it; the image edge counts as
    outside (a label cut by the edge has a border there)."""
    from scipy.ndimage import binary_erosion

    cross = np.zeros((1, 3, 3), dtype=bool)
    cross[0, 1, :] = cross[0, :, 1] = True        # 4-neighbours within the slice, none across
    return mask & ~binary_erosion(mask, structure=cross, border_value=0)


def _slices_first(array, sweep_axis: int) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 2:
        return array[np.newaxis]
    if array.ndim != 3:
        raise ValueError(f"needs a 2D slice or a 3D volume, got shape {array.shape}")
    return np.moveaxis(array, sweep_axis, 0)


def _label_values(labels, values) -> list:
    if values is not None:
        return [int(v) for v in values]
    return [int(v) for v in np.unique(labels) if v != 0]
