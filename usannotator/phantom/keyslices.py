"""Sparse key-slice label maps from complete labels, as an annotator would have drawn them.

A label's extent runs from the first to the last slice along the sweep that holds it. Its key
slices are every K-th slice of that extent, counted from the first, plus the last slice always,
so that interpolation spans the whole extent.
"""

from __future__ import annotations

import numpy as np


def label_extent(truth, label, sweep_axis=0):
    """(first, last) slice along the sweep holding `label`, or None when it is absent."""
    other_axes = tuple(a for a in range(truth.ndim) if a != sweep_axis % truth.ndim)
    present = np.flatnonzero(np.any(truth == label, axis=other_axes))
    if present.size == 0:
        return None
    return int(present[0]), int(present[-1])


def key_slice_indices(truth, label, every=10, sweep_axis=0) -> np.ndarray:
    """Sorted key slices of `label`: first, first + every, ..., and the last slice of its extent."""
    if int(every) < 1:
        raise ValueError(f"key slices need every >= 1, got {every}")
    extent = label_extent(truth, label, sweep_axis)
    if extent is None:
        return np.zeros(0, dtype=int)
    first, last = extent
    return np.union1d(np.arange(first, last + 1, int(every)), [last]).astype(int)


def sparse_key_slices(truth, every=10, sweep_axis=0) -> np.ndarray:
    """A label map holding each label only on its own key slices (same shape and dtype as `truth`)."""
    truth = np.asarray(truth)
    moved = np.moveaxis(truth, sweep_axis, 0)
    sparse = np.zeros_like(moved)
    for label in np.unique(moved):
        if label == 0:
            continue
        keys = key_slice_indices(moved, label, every, sweep_axis=0)
        sparse[keys] = np.where(moved[keys] == label, label, sparse[keys])
    return np.moveaxis(sparse, 0, sweep_axis)
