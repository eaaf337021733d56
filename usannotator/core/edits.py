"""An edit: the one way labels change, whether from a brush stroke or an algorithm's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from usannotator.core.provenance import Source


class OverwriteRule(Enum):
    """Which existing voxels a tool may paint over. Locked labels are protected under every rule."""

    EVERYTHING = "everything"
    BACKGROUND_ONLY = "background"
    VISIBLE_UNLOCKED = "visible"       # protects labels that are hidden as well as locked ones

    @property
    def title(self) -> str:
        return {"everything": "Paint over every label", "background": "Paint over background only",
                "visible": "Paint over visible unlocked labels only"}[self.value]


class LockedLabelError(Exception):
    """Raised when an edit could change nothing because every voxel it touches is protected."""


@dataclass
class Edit:
    """New label values for a box of the label map.

    region: three slices (numpy order) into the label map.
    values: the new values for that box (an array of its shape, or one scalar).
    mask: which voxels of the box the edit writes (None: all of them).
    source: provenance given to the (label, slice) pairs it changes. MANUAL for hand edits; an
        algorithm's source (INTERPOLATED, PROPAGATED) makes the document also protect key slices.
    slices_written: for algorithm results, {label: sweep indices} to mark with `source` even where
        no voxel changed (e.g. an interpolated slice identical to before).
    set_provenance: {label: {sweep index: Source}} set exactly as given, key slices included, after
        the voxel changes; for provenance commands such as un-marking a key slice. Undoable like
        any change; locked labels are left alone.
    """

    region: tuple
    values: object
    mask: np.ndarray | None = None
    description: str = "Edit"
    source: Source = Source.MANUAL
    rule: OverwriteRule = OverwriteRule.EVERYTHING
    slices_written: dict = field(default_factory=dict)
    set_provenance: dict = field(default_factory=dict)

    @classmethod
    def whole_volume(cls, new_labels: np.ndarray, **kwargs) -> "Edit":
        region = tuple(slice(0, n) for n in new_labels.shape)
        return cls(region, new_labels, **kwargs)


def bounding_box(mask: np.ndarray):
    """Tight slices around the True voxels of a mask, or None if it has none."""
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(box)


def compose(outer: tuple, inner: tuple) -> tuple:
    """The region `inner` (relative to the box `outer`) in the coordinates of the whole array."""
    return tuple(slice(o.start + i.start, o.start + i.stop) for o, i in zip(outer, inner))
