"""Heat-map overlays that plugins add on top of every slice view (e.g. confidence maps)."""

from __future__ import annotations

import numpy as np

from usannotator.core.events import Signal
from usannotator.core.geometry import slice_of


class SliceOverlay:
    """A float map over the volume, drawn with a heat colour map on each slice view.

    Subclasses (or callers) set `volume_map`, a (z, y, x) float array (NaN = not computed yet), or
    override `slice()`. `changed` tells the views to redraw.
    """

    def __init__(self, name: str, title: str, value_range=(0.0, 1.0), opacity: float = 0.5):
        self.name = name
        self.title = title
        self.value_range = value_range
        self.opacity = opacity
        self.visible = True
        self.below: float | None = None     # show only values under this threshold
        self.volume_map: np.ndarray | None = None
        self.changed = Signal()

    def slice(self, axis: int, index: int):
        if self.volume_map is None:
            return None
        return slice_of(self.volume_map, axis, index)

    def value_at(self, voxel):
        if self.volume_map is None:
            return None
        value = float(self.volume_map[tuple(voxel)])
        return None if np.isnan(value) else value

    def set(self, **fields) -> None:
        for key, value in fields.items():
            setattr(self, key, value)
        self.changed.emit()
