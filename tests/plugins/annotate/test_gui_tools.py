"""The annotation tools in the real window: mouse strokes on each view write exactly what the Qt-free
tools compute, one undo step per stroke, a live preview while drawing, and the other tools' gestures."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from tests.gui.pixels import colour_pixels
from tests.plugins.annotate.gui_driver import (click, on_screen, press_and_move, screen_pos, stroke, use_tool,
                                               voxel)
from usannotator.core.geometry import slice_of
from usannotator_plugins import annotate
from usannotator_plugins.annotate import tools
from usannotator_plugins.annotate.tools import ViewSlice

pytestmark = pytest.mark.gui

GM, GL, SOL = (230, 75, 60), (60, 140, 230), (90, 200, 90)
BACKGROUND_CURSOR = (0, 17, 2)   # every view of the small document shows a slice with no label there
PATH = [(10, 10), (14, 16), (18, 22)]


def set_label(window, value):
    window.label_panel.set_active_label(value)
    assert window.host.active_label == value


def as_tool_saw_it(view, pixels):
    """The (row, col) points the tool received for mouse events on these pixels."""
    return [(p.row, p.col) for p in (view.point_at(QPointF(screen_pos(view, r, c))) for r, c in pixels)]


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_brush_stroke_writes_the_stroke_footprint_as_one_undo_step(annotator, qtbot, axis):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[axis]
    set_label(annotator, 2)
    brush = use_tool(annotator, "brush")
    brush.brush.set_radius(2)
    before = doc.labels.copy()
    stroke(qtbot, view, PATH)
    changed = doc.labels != before
    # what the Qt-free tool says a stroke through those points paints, voxel for voxel
    region, mask = tools.stroke_footprint(doc.labels.shape, ViewSlice(axis, view.index), as_tool_saw_it(view, PATH), 2)
    expected = np.zeros(doc.labels.shape, bool)
    expected[region] = mask
    np.testing.assert_array_equal(changed, expected)
    assert (doc.labels[changed] == 2).all()
    assert all(doc.labels[voxel(view, r, c)] == 2 for r, c in PATH)
    assert np.flatnonzero(changed.any(axis=tuple(a for a in range(3) if a != axis))).tolist() == [view.index]
    assert len(doc.history) == 1
    assert annotator.undo_action.text().startswith("Undo Brush GL, slice")


def test_the_3d_brush_paints_a_sphere_reaching_the_neighbouring_slices(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    annotator.activateWindow()
    qtbot.waitUntil(annotator.isActiveWindow, timeout=3000)
    view = annotator.slice_views[1]                     # depth 17: background from depth 15 to 19
    set_label(annotator, 2)
    brush = use_tool(annotator, "brush")
    brush.brush.set_radius(2)
    qtbot.keyClick(view.canvas, Qt.Key.Key_B, Qt.KeyboardModifier.ShiftModifier)
    assert brush.brush.sphere and annotate.plugin.gui.actions["sphere"].isChecked()
    before = doc.labels.copy()
    stroke(qtbot, view, [(15, 25)])
    region, mask = tools.stroke_footprint(doc.labels.shape, ViewSlice(1, 17), as_tool_saw_it(view, [(15, 25)]), 2,
                                          sphere=True)
    expected = np.zeros(doc.labels.shape, bool)
    expected[region] = mask
    np.testing.assert_array_equal(doc.labels != before, expected)
    assert np.flatnonzero(expected.any(axis=(0, 2))).tolist() == [16, 17, 18]     # depths off the view's slice
    assert annotator.undo_action.text().startswith("Undo Brush 3D GL, slices ")


def test_the_stroke_is_previewed_while_drawn_and_applied_on_release(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[0]
    set_label(annotator, 2)
    use_tool(annotator, "brush").brush.set_radius(3)
    end = press_and_move(qtbot, view, PATH)
    shown = colour_pixels(on_screen(qtbot, view), GL)
    assert shown > 100, "the stroke being drawn is not shown"
    assert not doc.labels.any(axis=(1, 2))[0] and len(doc.history) == 0, "the document changed before release"
    qtbot.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, pos=end)
    assert len(doc.history) == 1
    assert abs(colour_pixels(on_screen(qtbot, view), GL) - shown) < shown * 0.1, "preview and result differ on screen"


def test_undo_and_redo_work_per_stroke_through_the_edit_menu(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[0]
    use_tool(annotator, "brush").brush.set_radius(1.5)
    states = [doc.labels.copy()]
    for label, path in ((1, PATH), (3, [(25, 5), (25, 30)])):
        set_label(annotator, label)
        stroke(qtbot, view, path)
        states.append(doc.labels.copy())
    assert annotator.undo_action.text() == "Undo Brush SOL, slice 0"
    annotator.undo_action.trigger()
    np.testing.assert_array_equal(doc.labels, states[1])
    assert annotator.redo_action.text() == "Redo Brush SOL, slice 0"
    assert annotator.undo_action.text() == "Undo Brush GM, slice 0"
    annotator.undo_action.trigger()
    np.testing.assert_array_equal(doc.labels, states[0])
    assert colour_pixels(on_screen(qtbot, view), GM) == 0, "an undone stroke is still drawn"
    annotator.redo_action.trigger()
    annotator.redo_action.trigger()
    np.testing.assert_array_equal(doc.labels, states[2])


def test_the_eraser_clears_every_label_or_only_the_active_one(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor((10, 15, 22))
    view = annotator.slice_views[0]          # GM ends at column 19, GL starts at 25: erase across both
    eraser = use_tool(annotator, "eraser")
    eraser.brush.set_radius(1)
    path = [(10, 12), (10, 35)]
    stroke(qtbot, view, path)
    erased = slice_of(doc.labels, 0, 10)[10, 12:36]
    assert (erased == 0).all()
    assert annotator.undo_action.text() == "Undo Erase, slice 10"
    annotator.undo_action.trigger()
    eraser.brush.erase_active_only = True
    set_label(annotator, 2)
    stroke(qtbot, view, path)
    row = slice_of(doc.labels, 0, 10)[10]
    assert (row[12:20] == 1).all() and (row[25:36] == 0).all()


def test_polygon_corners_then_enter_fill_the_polygon(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[0]
    set_label(annotator, 3)
    use_tool(annotator, "polygon")
    corners = [(5, 5), (5, 25), (20, 25), (20, 5)]
    for r, c in corners:
        click(qtbot, view, r, c)
    assert len(doc.history) == 0 and colour_pixels(on_screen(qtbot, view), SOL) > 0, "the outline is not shown"
    qtbot.keyClick(view.canvas, Qt.Key.Key_Return)
    filled = slice_of(doc.labels, 0, 0)
    assert (filled[5:21, 5:26] == 3).all() and filled.sum() == 3 * 16 * 21
    assert annotator.undo_action.text() == "Undo Polygon SOL, slice 0"


def test_a_double_click_closes_the_polygon_and_escape_cancels_one(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[2]
    set_label(annotator, 1)
    use_tool(annotator, "polygon")
    for r, c in [(5, 3), (5, 12)]:
        click(qtbot, view, r, c)
    qtbot.mouseDClick(view.canvas, Qt.MouseButton.LeftButton, pos=screen_pos(view, 15, 12))
    drawn = slice_of(doc.labels, 2, view.index)
    assert len(doc.history) == 1 and drawn[5, 3] == drawn[15, 12] == drawn[8, 10] == 1 and drawn[14, 4] == 0
    shown = colour_pixels(on_screen(qtbot, view), GM)
    for r, c in [(25, 3), (25, 12), (35, 12)]:
        click(qtbot, view, r, c)
    assert colour_pixels(on_screen(qtbot, view), GM) > shown, "the outline being drawn is not shown"
    qtbot.keyClick(view.canvas, Qt.Key.Key_Escape)
    assert len(doc.history) == 1 and colour_pixels(on_screen(qtbot, view), GM) == shown
    assert not slice_of(doc.labels, 2, view.index)[25:, :].any(), "a cancelled polygon was filled"
    assert "cancelled" in annotator.statusBar().currentMessage()


def test_a_freehand_loop_is_filled_on_release(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[1]
    set_label(annotator, 2)
    use_tool(annotator, "freehand")
    t = np.linspace(0, 2 * np.pi, 24)
    loop = list(zip(15 + 8 * np.sin(t), 25 + 12 * np.cos(t)))
    stroke(qtbot, view, loop)
    drawn = slice_of(doc.labels, 1, view.index)
    assert drawn[15, 25] == 2 and drawn[15, 15] == 2 and drawn[3, 25] == 0 and drawn[15, 40] == 0
    assert 200 < (drawn == 2).sum() < 350    # about pi * 8 * 12 = 302
    assert annotator.undo_action.text().startswith("Undo Freehand GL, slices ")   # a loop across the sweep


def test_flood_fill_fills_an_enclosed_region_and_refuses_an_open_one(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[0]
    set_label(annotator, 1)
    use_tool(annotator, "brush").brush.set_radius(0.5)
    stroke(qtbot, view, [(5, 5), (5, 20), (15, 20), (15, 5), (5, 5)])
    use_tool(annotator, "flood_fill")
    click(qtbot, view, 10, 12)
    inside = slice_of(doc.labels, 0, 0)
    assert (inside[5:16, 5:21] == 1).all() and inside.sum() == 11 * 16
    assert annotator.undo_action.text() == "Undo Fill GM, slice 0"
    click(qtbot, view, 30, 30)
    assert "reaches the edge" in annotator.statusBar().currentMessage() and len(doc.history) == 2


def test_fill_holes_fills_the_active_label_holes_on_the_slice_last_painted(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor((10, 15, 22))
    view = annotator.slice_views[0]
    set_label(annotator, 3)
    use_tool(annotator, "eraser").brush.set_radius(1)
    stroke(qtbot, view, [(27, 20), (27, 24)])      # a hole inside SOL
    assert (slice_of(doc.labels, 0, 10)[27, 20:25] == 0).all()
    annotator.activateWindow()
    qtbot.waitUntil(annotator.isActiveWindow, timeout=3000)
    qtbot.keyClick(view.canvas, Qt.Key.Key_H)
    assert (slice_of(doc.labels, 0, 10)[27, 20:25] == 3).all()
    assert annotator.undo_action.text() == "Undo Fill holes SOL, slice 10"


def test_tool_shortcuts_icons_and_tooltips(annotator, qtbot):
    annotator.activateWindow()
    qtbot.waitUntil(annotator.isActiveWindow, timeout=3000)
    view = annotator.slice_views[0]
    for key, name in ((Qt.Key.Key_B, "brush"), (Qt.Key.Key_E, "eraser"), (Qt.Key.Key_P, "polygon"),
                      (Qt.Key.Key_F, "freehand"), (Qt.Key.Key_G, "flood_fill")):
        qtbot.keyClick(view.canvas, key)
        tool = annotator.host.active_tool
        assert tool.name == name
        assert not tool.action.icon().isNull() and f"({tool.shortcut})" in tool.action.toolTip()


def test_brush_size_follows_brackets_and_alt_wheel_and_the_footprint_grows(annotator, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    annotator.activateWindow()
    qtbot.waitUntil(annotator.isActiveWindow, timeout=3000)
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    view = annotator.slice_views[0]
    brush = use_tool(annotator, "brush")
    brush.brush.set_radius(3)
    pos = screen_pos(view, 20, 25)

    def ring():   # pixels that change when the pointer leaves the image: the footprint
        qtbot.mouseMove(view.canvas, pos)
        shown = on_screen(qtbot, view)
        qtbot.mouseMove(view.canvas, screen_pos(view, -3, 25))
        return int(np.any(shown != on_screen(qtbot, view), axis=-1).sum())

    small = ring()
    assert small > 30, "no footprint around the pointer"
    qtbot.keyClick(view.canvas, Qt.Key.Key_BracketRight)
    assert brush.cursor_radius() == 4
    qtbot.keyClick(view.canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(view.canvas, Qt.Key.Key_BracketLeft)
    assert brush.cursor_radius() == 2
    for _ in range(4):
        event = QWheelEvent(QPointF(pos), QPointF(view.canvas.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.AltModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        view.canvas.wheelEvent(event)
    assert brush.cursor_radius() == 6 and annotator.state.cursor == BACKGROUND_CURSOR
    assert annotate.plugin.gui.radius_box.value() == 6
    assert ring() > small * 1.5, "the footprint did not grow with the brush"


def test_statistics_follow_each_stroke(annotator, qtbot):
    doc = annotator.document
    annotator.state.set_cursor(BACKGROUND_CURSOR)
    table = annotate.plugin.gui.table
    voxels = lambda: int(table.item(1, 1).text().replace(",", ""))   # row of GL
    assert table.item(1, 0).text() == "GL" and voxels() == (doc.labels == 2).sum()
    set_label(annotator, 2)
    use_tool(annotator, "brush").brush.set_radius(2)
    stroke(qtbot, annotator.slice_views[0], PATH)
    assert voxels() == (doc.labels == 2).sum() and table.item(1, 3).text() == "1"
    annotator.undo_action.trigger()
    assert voxels() == (doc.labels == 2).sum() and table.item(1, 3).text() == "0"
