"""In-plane boxes (a pair of slices: rows, columns) that keep the work near each muscle."""

from __future__ import annotations

import numpy as np

EMPTY = (slice(0, 0), slice(0, 0))


def is_empty(box) -> bool:
    return any(s.stop <= s.start for s in box)


def of_mask(mask: np.ndarray):
    """The tight box around the True pixels of a 2D mask, or EMPTY."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return EMPTY
    cols = np.flatnonzero(mask.any(axis=0))
    return (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))


def union(*boxes):
    boxes = [b for b in boxes if not is_empty(b)]
    if not boxes:
        return EMPTY
    return tuple(slice(min(b[i].start for b in boxes), max(b[i].stop for b in boxes)) for i in range(2))


def grow(box, margin: int, shape):
    """The box grown by `margin` pixels on every side, clipped to a slice of `shape`."""
    if is_empty(box):
        return EMPTY
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, n)) for s, n in zip(box, shape))


def within(inner, outer):
    """`inner` in the coordinates of `outer` (which contains it)."""
    return tuple(slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer))


def intersection(a, b):
    box = tuple(slice(max(a[i].start, b[i].start), min(a[i].stop, b[i].stop)) for i in range(2))
    return EMPTY if is_empty(box) else box
