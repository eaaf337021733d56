"""The key-slice strip: along the sweep, one row per label showing where each slice came from
(drawn by hand, corrected, interpolated, propagated), a marker at the current slice, and a legend.
Click or drag on it to go to a slice.

It reads only the Document's provenance, so whatever any plugin records there shows up here.
Slices are numbered from 0, as in the undo texts ("Brush GM, slice 412").
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from usannotator.core.provenance import Source

# Okabe-Ito colours: distinct on a dark background and for the common colour-vision deficiencies.
SOURCE_STYLE = {
    Source.MANUAL: ("manual (key slice)", (240, 228, 66)),
    Source.CORRECTED: ("corrected (key slice)", (213, 94, 0)),
    Source.INTERPOLATED: ("interpolated", (86, 180, 233)),
    Source.PROPAGATED: ("propagated", (204, 121, 167)),
}
EMPTY = (52, 52, 60)
BACKGROUND = (30, 30, 36)
MARKER = (255, 255, 255)
# Where several slices share one pixel column, the one shown: key slices first, so none is ever hidden.
RANK = np.zeros(len(Source), dtype=np.int8)
for _rank, _source in enumerate((Source.NONE, Source.INTERPOLATED, Source.PROPAGATED, Source.CORRECTED,
                                 Source.MANUAL)):
    RANK[_source] = _rank
BY_RANK = np.argsort(RANK)
COLOURS = np.array([SOURCE_STYLE[Source(s)][1] if s in SOURCE_STYLE else EMPTY for s in range(len(Source))],
                   dtype=np.uint8)


class SweepBar(QWidget):
    """The rows of cells. Geometry helpers (slice_at, x_span, row_top) are public for tests and tools."""

    ROW = 12          # pixels per label row
    GAP = 3
    NAME_WIDTH = 60   # label names on the left
    MARGIN = 6

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.document = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Where each slice along the sweep came from. Click or drag to go to a slice.")
        state.cursor_changed.connect(self._on_cursor)

    def set_document(self, document) -> None:
        self.document = document
        self.setFixedHeight(self._height())
        self.update()

    def _on_cursor(self, _cursor) -> None:
        self.update()

    def refresh(self) -> None:
        self.setFixedHeight(self._height())
        self.update()

    # ----- what is drawn -----
    def rows(self) -> list:
        """(value, name, colour) of every label of the table and any other label with a provenance."""
        if self.document is None:
            return []
        table = self.document.label_table
        values = sorted(set(table.values()) | set(self.document.provenance.labels()))
        return [(v, table[v].name, table[v].color) if v in table else (v, str(v), (200, 200, 200)) for v in values]

    def sources(self, value: int) -> np.ndarray:
        """The Source of each sweep slice of a label (all NONE when it has none)."""
        provenance = self.document.provenance
        if value in provenance.labels():
            return provenance.of(value)
        return np.zeros(provenance.n_slices, dtype=np.int8)

    def describe(self, z: int) -> str:
        """The tooltip of a slice: what each label is there."""
        parts = []
        for value, name, _ in self.rows():
            source = Source(int(self.sources(value)[z]))
            parts.append(f"{name}: {SOURCE_STYLE[source][0] if source in SOURCE_STYLE else '—'}")
        n = self.document.provenance.n_slices
        return f"Slice {z} of {n}\n" + "\n".join(parts)

    # ----- geometry -----
    @property
    def n_slices(self) -> int:
        return self.document.provenance.n_slices if self.document is not None else 1

    def _cells_width(self) -> int:
        return max(self.width() - self.NAME_WIDTH - self.MARGIN, 1)

    def slice_at(self, x: float) -> int:
        z = int((x - self.NAME_WIDTH) * self.n_slices // self._cells_width())
        return min(max(z, 0), self.n_slices - 1)

    def x_span(self, z: int) -> tuple:
        """Left and right pixel edges of slice z's cells."""
        per_slice = self._cells_width() / self.n_slices
        return self.NAME_WIDTH + z * per_slice, self.NAME_WIDTH + (z + 1) * per_slice

    def row_top(self, row: int) -> int:
        return self.GAP + row * (self.ROW + self.GAP)

    def _height(self) -> int:
        return self.row_top(max(len(self.rows()), 1)) + self.GAP

    # ----- painting -----
    def _cells(self) -> np.ndarray:
        """RGB pixels of the rows of cells: (height, cells width, 3)."""
        width, rows = self._cells_width(), self.rows()
        image = np.empty((self.height(), width, 3), np.uint8)
        image[:] = BACKGROUND
        # first slice under each pixel column; maximum.reduceat takes the best rank over each column's slices
        first = (np.arange(width) * self.n_slices) // width
        for i, (value, _, _) in enumerate(rows):
            best = np.maximum.reduceat(RANK[self.sources(value)], first)
            top = self.row_top(i)
            image[top:top + self.ROW] = COLOURS[BY_RANK[best]][None]
        return image

    def paintEvent(self, _event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(*BACKGROUND))
        if self.document is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No image open")
            return
        cells = np.ascontiguousarray(self._cells())
        image = QImage(cells.data, cells.shape[1], cells.shape[0], cells.strides[0], QImage.Format.Format_RGB888)
        painter.drawImage(self.NAME_WIDTH, 0, image)
        for i, (_, name, colour) in enumerate(self.rows()):
            top = self.row_top(i)
            painter.fillRect(2, top, 8, self.ROW, QColor(*colour))
            painter.setPen(QColor(220, 220, 220))
            painter.drawText(QRectF(13, top - 2, self.NAME_WIDTH - 15, self.ROW + 4),
                             Qt.AlignmentFlag.AlignVCenter, name)
        self._draw_marker(painter)

    def _draw_marker(self, painter) -> None:
        left, right = self.x_span(self.state.cursor[self.document.sweep_axis])
        x = (left + right) / 2
        painter.setPen(QPen(QColor(*MARKER), 2))
        painter.drawLine(int(round(x)), 0, int(round(x)), self.height())

    # ----- pointer -----
    def mousePressEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton:
            self._go_to(e.position().x())

    def mouseMoveEvent(self, e):
        if e.buttons() & Qt.MouseButton.LeftButton:
            self._go_to(e.position().x())

    def _go_to(self, x: float) -> None:
        if self.document is None:
            return
        cursor = list(self.state.cursor)
        cursor[self.document.sweep_axis] = self.slice_at(x)
        self.state.set_cursor(cursor)

    def event(self, e):
        if e.type() == QEvent.Type.ToolTip and self.document is not None:
            QToolTip.showText(e.globalPos(), self.describe(self.slice_at(e.pos().x())), self)
            return True
        return super().event(e)


class KeySliceStrip(QWidget):
    """The strip and its legend, following the window's document (host.document_opened)."""

    def __init__(self, state, host, parent=None):
        super().__init__(parent)
        self.document = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        self.bar = SweepBar(state, self)
        layout.addWidget(self.bar)
        layout.addLayout(self._legend())
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        host.document_opened.connect(self.set_document)

    def _legend(self) -> QHBoxLayout:
        legend = QHBoxLayout()
        legend.setSpacing(12)
        entries = [(text, colour) for text, colour in SOURCE_STYLE.values()] + [("not annotated", EMPTY),
                                                                                 ("current slice", MARKER)]
        for text, colour in entries:
            label = QLabel(f'<span style="background-color: rgb{tuple(colour)}">&nbsp;&nbsp;&nbsp;&nbsp;</span> {text}')
            legend.addWidget(label)
        legend.addStretch(1)
        return legend

    def set_document(self, document) -> None:
        if self.document is not None:
            self.document.provenance_changed.disconnect(self._on_provenance_changed)
            self.document.label_table.changed.disconnect(self._on_table_changed)
        self.document = document
        document.provenance_changed.connect(self._on_provenance_changed)
        document.label_table.changed.connect(self._on_table_changed)
        self.bar.set_document(document)

    def _on_provenance_changed(self) -> None:
        self.bar.refresh()

    def _on_table_changed(self, _value=None) -> None:
        self.bar.refresh()
