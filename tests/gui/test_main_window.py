import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from tests.gui.pixels import colour_pixels, grab, show

pytestmark = pytest.mark.gui

GM = (230, 75, 60)


def test_document_is_shown_with_label_colours(window, small_document, qtbot):
    show(window, small_document, qtbot)
    view = window.slice_views[0]
    window.state.set_cursor((10, 10, 10))
    rgb = grab(view.canvas)
    assert rgb.std() > 10, "the slice view is blank"
    assert colour_pixels(rgb, GM) > 500, "GM's colour is not where GM is"
    # hiding GM removes its colour; the outline mode keeps only its border
    small_document.label_table.update(1, visible=False)
    assert colour_pixels(grab(view.canvas), GM) == 0
    small_document.label_table.update(1, visible=True)
    filled = colour_pixels(grab(view.canvas), GM)
    window.state.set_outline(True)
    outlined = colour_pixels(grab(view.canvas), GM)
    assert 0 < outlined < filled / 2


def test_wheel_scrolls_slices_and_redraws(window, small_document, qtbot):
    show(window, small_document, qtbot)
    view = window.slice_views[0]
    start = window.state.cursor[0]
    before = grab(view.canvas)
    for _ in range(3):
        pos = QPointF(view.canvas.width() / 2, view.canvas.height() / 2)
        from PySide6.QtGui import QWheelEvent

        event = QWheelEvent(pos, view.canvas.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        view.canvas.wheelEvent(event)
    assert window.state.cursor[0] == start + 3
    assert view.slice_label.text() == f"{start + 4} / {small_document.volume.shape[0]}"
    assert not np.array_equal(before, grab(view.canvas)), "the new slice was not drawn"
    qtbot.keyClick(view.canvas, Qt.Key.Key_Down)
    assert window.state.cursor[0] == start + 2


def test_click_moves_the_linked_crosshair(window, small_document, qtbot):
    show(window, small_document, qtbot)
    view = window.slice_views[0]
    window.state.set_cursor((15, 0, 0))
    target = (15, 30, 40)   # (z, y, x): find where that voxel is on screen by probing the view
    canvas = view.canvas
    best = min(((x, y) for x in range(0, canvas.width(), 4) for y in range(0, canvas.height(), 4)),
               key=lambda p: np.hypot(*(np.subtract(view.point_at(QPointF(*p)).voxel[1:], target[1:]))))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*best))
    z, y, x = window.state.cursor
    assert z == 15 and abs(y - 30) <= 1 and abs(x - 40) <= 1
    assert window.slice_views[1].index == y and window.slice_views[2].index == x
    assert "label" in window.pointer_label.text()


def test_status_bar_describes_the_voxel(window, small_document, qtbot):
    show(window, small_document, qtbot)
    window.state.set_cursor((10, 10, 10))
    text = window.pointer_label.text()
    assert "voxel (z,y,x) 10, 10, 10" in text and "label GM" in text
    assert f"intensity {small_document.volume.array[10, 10, 10]}" in text


def test_overlay_from_a_plugin_is_drawn_and_toggled(window, small_document, qtbot):
    from usannotator.gui.overlays import SliceOverlay

    show(window, small_document, qtbot)
    small_document.label_table.update(1, visible=False)
    small_document.label_table.update(2, visible=False)
    small_document.label_table.update(3, visible=False)
    view = window.slice_views[0]
    plain = grab(view.canvas)
    overlay = SliceOverlay("test", "Test map", opacity=1.0)
    overlay.volume_map = np.linspace(0, 1, small_document.volume.shape[1])[None, :, None] * np.ones(
        small_document.volume.shape)
    window.host.add_overlay(overlay)
    coloured = grab(view.canvas)
    # an inferno-like map: strongly coloured pixels where there was grey
    chroma = lambda rgb: (rgb.max(axis=-1).astype(int) - rgb.min(axis=-1)).mean()
    assert chroma(coloured) > chroma(plain) + 20
    overlay.set(visible=False)
    assert abs(chroma(grab(view.canvas)) - chroma(plain)) < 2
    assert "Test map" not in window.pointer_label.text()


def test_undo_redo_actions_follow_the_history(window, small_document, qtbot):
    from usannotator.core import Edit

    show(window, small_document, qtbot)
    assert not window.undo_action.isEnabled()
    small_document.apply_edit(Edit((slice(3, 4), slice(0, 2), slice(0, 2)), 1, description="Brush GM, slice 4"))
    assert window.undo_action.isEnabled() and window.undo_action.text() == "Undo Brush GM, slice 4"
    window.undo_action.trigger()
    assert window.redo_action.text() == "Redo Brush GM, slice 4"
    assert "*" in window.windowTitle()


def test_label_panel_edits_the_table(window, small_document, qtbot):
    show(window, small_document, qtbot)
    panel = window.label_panel
    assert panel.table.rowCount() == 3
    panel.table.item(0, 1).setText("Medial gastrocnemius")
    assert small_document.label_table[1].name == "Medial gastrocnemius"
    panel.table.item(1, 3).setCheckState(Qt.CheckState.Checked)
    assert small_document.label_table[2].locked
    panel.add_label()
    assert panel.table.rowCount() == 4 and panel.active_label == 4
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    qtbot.keyClick(window.slice_views[0].canvas, Qt.Key.Key_2)
    assert panel.active_label == 2
