"""What the views share: the cursor, contrast, overlay settings. Changes are Qt signals."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal


class ViewState(QObject):
    cursor_changed = Signal(tuple)        # (z, y, x)
    display_changed = Signal()            # contrast, opacity, outline, overlays
    overlays_changed = Signal()

    def __init__(self):
        super().__init__()
        self.shape = (1, 1, 1)
        self.cursor = (0, 0, 0)
        self.window = 255.0
        self.level = 127.5
        self.label_opacity = 0.5
        self.outline = False
        self.overlays: list = []

    def reset(self, volume) -> None:
        self.shape = volume.shape
        self.cursor = tuple(n // 2 for n in self.shape)
        self.auto_contrast(volume.array)
        self.cursor_changed.emit(self.cursor)

    def auto_contrast(self, array) -> None:
        """Window/level from the 1st and 99th percentiles of a sample (robust to bright reflectors)."""
        sample = array[::max(1, array.shape[0] // 16)].ravel()[:: max(1, array[0].size // 20000)]
        lo, hi = np.percentile(sample, [1, 99.5]) if sample.size else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1
        self.set_contrast(hi - lo, (hi + lo) / 2)

    def set_cursor(self, voxel) -> None:
        voxel = tuple(int(min(max(v, 0), n - 1)) for v, n in zip(voxel, self.shape))
        if voxel != self.cursor:
            self.cursor = voxel
            self.cursor_changed.emit(voxel)

    def move_slice(self, axis: int, step: int) -> None:
        voxel = list(self.cursor)
        voxel[axis] += step
        self.set_cursor(voxel)

    def set_contrast(self, window: float, level: float) -> None:
        self.window, self.level = max(float(window), 1e-6), float(level)
        self.display_changed.emit()

    def set_label_opacity(self, opacity: float) -> None:
        self.label_opacity = min(max(float(opacity), 0.0), 1.0)
        self.display_changed.emit()

    def set_outline(self, on: bool) -> None:
        self.outline = bool(on)
        self.display_changed.emit()

    def to_dict(self) -> dict:
        return {"cursor": list(self.cursor), "window": self.window, "level": self.level,
                "label_opacity": self.label_opacity, "outline": self.outline}

    def apply_dict(self, d: dict) -> None:
        self.label_opacity = float(d.get("label_opacity", self.label_opacity))
        self.outline = bool(d.get("outline", self.outline))
        if "window" in d:
            self.set_contrast(d["window"], d["level"])
        if "cursor" in d:
            self.set_cursor(tuple(d["cursor"]))
        self.display_changed.emit()
