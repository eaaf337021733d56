"""Overlays that plugins add on every slice view: heat maps (e.g. confidence maps) and category maps
(e.g. border pixels by kind)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from usannotator.core.events import Signal
from usannotator.core.geometry import slice_of


class SliceOverlay:
    """A float map over the volume, drawn with a heat colour map on each slice view.

    Subclasses (or callers) set `volume_map`, a (z, y, x) float array (NaN = not computed yet), or
    override `slice()`. `changed` tells the views to redraw.
    """

    above_labels = False    # drawn under the label colours: a heat map tints the labels, not hides them

    def __init__(self, name: str, title: str, value_range=(0.0, 1.0), opacity: float = 0.5):
        self.name = name
        self.title = title
        self.value_range = value_range
        self.opacity = opacity
        self.visible = True
        self.below: float | None = None     # show only values under this threshold
        self.contour: float | None = None   # draw the iso-line at this value (e.g. at `below`)
        self.contour_colour = (0.0, 1.0, 1.0)   # RGB 0-1; cyan is in neither the heat map nor the labels
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

    def describe(self, voxel) -> str | None:
        """What the status bar says about this overlay at a voxel (None: nothing)."""
        value = self.value_at(voxel)
        return None if value is None else f"{self.title} {value:.3f}"

    def lookup_table(self):
        """The VTK colour table the slice views draw this overlay with."""
        from usannotator.render.images import heat_lookup_table

        return heat_lookup_table(self.opacity, self.below, self.value_range)

    def set(self, **fields) -> None:
        for key, value in fields.items():
            setattr(self, key, value)
        self.changed.emit()


class CategoryOverlay(SliceOverlay):
    """A map of small integer categories (0 = nothing) drawn in fixed colours, in front of the label
    colours, since it marks pixels that lie on labels (e.g. border pixels by kind).

    `categories`: {value: (name, (r, g, b) in 0-255)}; the status bar names the category under the pointer.
    At opacity 1 (the default) the views draw it opaque, so its colours stay exact over the labels.
    """

    above_labels = True

    def __init__(self, name: str, title: str, categories: dict, opacity: float = 1.0):
        super().__init__(name, title, (0.0, float(max(categories, default=1))), opacity)
        self.categories = dict(categories)

    def value_at(self, voxel):
        if self.volume_map is None:
            return None
        value = int(self.volume_map[tuple(voxel)])
        return value if value in self.categories else None

    def describe(self, voxel) -> str | None:
        value = self.value_at(voxel)
        return None if value is None else f"{self.title}: {self.categories[value][0]}"

    def lookup_table(self):
        from usannotator.render.images import category_lookup_table

        return category_lookup_table({v: colour for v, (_, colour) in self.categories.items()}, self.opacity)


class OverlayLegend(QWidget):
    """The colour bar of a heat-map overlay, for a plugin's dock: its colours from the low to the high
    end of value_range, with ticks at both ends and at the `below` threshold. Clear parts of the
    colour map (above `below`) show a checkerboard, so the reader sees what is left uncoloured."""

    BAR_HEIGHT = 14
    MARGIN = 12     # room for the end labels

    def __init__(self, overlay: SliceOverlay, parent=None):
        super().__init__(parent)
        self.overlay = overlay
        overlay.changed.connect(self._overlay_changed)
        self.setMinimumHeight(self.BAR_HEIGHT + self.fontMetrics().height() + 8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def _overlay_changed(self):
        self.update()     # a Python method: the Qt-free Signal holds its slots weakly

    def bar_rect(self) -> QRectF:
        return QRectF(self.MARGIN, 2, max(1, self.width() - 2 * self.MARGIN), self.BAR_HEIGHT)

    def x_of(self, value: float) -> float:
        lo, hi = self.overlay.value_range
        bar = self.bar_rect()
        return bar.left() + (value - lo) / ((hi - lo) or 1.0) * bar.width()

    def colours(self) -> np.ndarray:
        """(n, 4) uint8 RGBA of the overlay's colour table; any visible colour at full strength,
        since the legend names colours, not the overlay's opacity."""
        table = self.overlay.lookup_table()
        rgba = np.array([table.GetTableValue(i) for i in range(table.GetNumberOfTableValues())])
        rgba[:, 3] = rgba[:, 3] > 0
        return np.ascontiguousarray(np.round(rgba * 255).astype(np.uint8))

    def paintEvent(self, _event):
        painter = QPainter(self)
        bar = self.bar_rect()
        self._checkerboard(painter, bar)
        colours = self.colours()
        image = QImage(colours.tobytes(), len(colours), 1, 4 * len(colours), QImage.Format.Format_RGBA8888)
        painter.drawImage(bar, image)
        painter.setPen(self.palette().windowText().color())
        painter.drawRect(bar)
        taken = []      # the threshold's label first: an end label that would overlap it is left out
        for value in self._ticks():
            self._tick(painter, bar, value, taken)

    def _ticks(self) -> list:
        lo, hi = self.overlay.value_range
        inside = [v for v in (self.overlay.below,) if v is not None and lo < v < hi]
        return [*inside, lo, hi]

    def _tick(self, painter, bar, value, taken):
        x = self.x_of(value)
        painter.drawLine(QPointF(x, bar.bottom()), QPointF(x, bar.bottom() + 3))
        text = f"{value:g}"
        width = self.fontMetrics().horizontalAdvance(text)
        left = min(max(x - width / 2, 0), self.width() - width)
        if any(left < right + 4 and other_left < left + width + 4 for other_left, right in taken):
            return
        taken.append((left, left + width))
        painter.drawText(QPointF(left, bar.bottom() + 4 + self.fontMetrics().ascent()), text)

    @staticmethod
    def _checkerboard(painter, rect, size: int = 4):
        painter.fillRect(rect, QColor(200, 200, 200))
        for row in range(int(rect.height()) // size + 1):
            for col in range(row % 2, int(rect.width()) // size + 1, 2):
                cell = QRectF(rect.left() + col * size, rect.top() + row * size, size, size)
                painter.fillRect(cell.intersected(rect), QColor(150, 150, 150))
