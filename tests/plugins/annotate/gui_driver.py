"""Driving the annotation tools like a user: real mouse events on a slice view's canvas at the screen
position of a chosen pixel of its slice."""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

from usannotator.core.geometry import SLICE_AXES


def screen_pos(view, row: float, col: float) -> QPoint:
    """The canvas position of pixel (row, col) of the view's slice: the inverse of view.point_at,
    checked against it so that a wrong inversion cannot go unnoticed."""
    sr, sc = view.spacing_rc
    view.renderer.SetWorldPoint(col * sc, row * sr, 0, 1)
    view.renderer.WorldToDisplay()
    x, y, _ = view.renderer.GetDisplayPoint()
    ratio = view.canvas.devicePixelRatioF()
    pos = QPoint(round(x / ratio), round(view.canvas.height() - y / ratio))
    back = view.point_at(QPointF(pos))
    assert abs(back.row - row) < 0.5 and abs(back.col - col) < 0.5, (row, col, back)
    return pos


def voxel(view, row: int, col: int) -> tuple:
    """The (z, y, x) voxel of pixel (row, col) of the slice the view shows."""
    out = [0, 0, 0]
    row_axis, col_axis = SLICE_AXES[view.axis]
    out[view.axis], out[row_axis], out[col_axis] = view.index, row, col
    return tuple(out)


def stroke(qtbot, view, pixels, button=Qt.MouseButton.LeftButton):
    """Press on the first pixel, move through the others, release on the last."""
    points = [screen_pos(view, r, c) for r, c in pixels]
    qtbot.mousePress(view.canvas, button, pos=points[0])
    for p in points[1:]:
        qtbot.mouseMove(view.canvas, p)
    qtbot.mouseRelease(view.canvas, button, pos=points[-1])


def press_and_move(qtbot, view, pixels):
    """A stroke still being drawn: pressed and moved, not released."""
    points = [screen_pos(view, r, c) for r, c in pixels]
    qtbot.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for p in points[1:]:
        qtbot.mouseMove(view.canvas, p)
    return points[-1]


def click(qtbot, view, row, col):
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=screen_pos(view, row, col))


def use_tool(window, name: str):
    tool = next(t for t in window.host.tools if t.name == name)
    tool.action.trigger()
    return tool


def disk(shape2, centre, radius) -> np.ndarray:
    """Pixels of a slice within `radius` of `centre` (row, col)."""
    rows, cols = np.ogrid[:shape2[0], :shape2[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2


def on_screen(qtbot, view):
    """The view's pixels once it has drawn what is pending (views other than the one being painted,
    and the footprint, redraw on the next turn of the event loop)."""
    from tests.gui.pixels import grab

    qtbot.wait(20)
    return grab(view.canvas)
