"""The key-slice strip and the key-slice actions in the real window: colours per source read off the
screen, the current-slice marker, click to jump, next/previous, clear, unmark and mark."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from tests.gui.pixels import grab
from tests.plugins.annotate.gui_driver import stroke, use_tool
from usannotator.core import Edit, Source
from usannotator.gui.keyslice_strip import EMPTY, MARKER, SOURCE_STYLE

pytestmark = pytest.mark.gui

COLOUR = {source: style[1] for source, style in SOURCE_STYLE.items()}


def set_sources(doc, sources: dict):
    """Provenance as an interpolation or propagation plugin would leave it, through the edit path."""
    region = (slice(0, 1), slice(0, 0), slice(0, 0))
    doc.apply_edit(Edit(region, 0, set_provenance=sources, description="test provenance"))


def shown(strip, qtbot):
    """The strip's pixels on screen, once it has repainted."""
    qtbot.wait(30)
    return grab(strip.bar)


def cell(strip, rgb, row: int, z: int) -> tuple:
    """The colour drawn for label row `row` at slice z (a quarter into the slice's cells: clear of the marker)."""
    left, right = strip.bar.x_span(z)
    x = int(left + (right - left) / 4)
    y = strip.bar.row_top(row) + strip.bar.ROW // 2
    return tuple(int(v) for v in rgb[y, x])


@pytest.fixture
def strip(annotator, qtbot):
    strip = annotator.keyslice_strip
    qtbot.waitUntil(lambda: strip.bar.isVisible() and strip.bar.width() > 300, timeout=3000)
    return strip


def test_each_source_has_its_colour_and_the_current_slice_is_marked(annotator, strip, qtbot):
    doc = annotator.document
    set_sources(doc, {1: {3: Source.MANUAL, 4: Source.INTERPOLATED, 5: Source.INTERPOLATED},
                      3: {10: Source.PROPAGATED, 11: Source.CORRECTED}})
    annotator.state.set_cursor((20, 10, 10))
    rgb = shown(strip, qtbot)
    assert cell(strip, rgb, 0, 3) == COLOUR[Source.MANUAL]
    assert cell(strip, rgb, 0, 4) == cell(strip, rgb, 0, 5) == COLOUR[Source.INTERPOLATED]
    assert cell(strip, rgb, 0, 6) == cell(strip, rgb, 1, 3) == EMPTY
    assert cell(strip, rgb, 2, 10) == COLOUR[Source.PROPAGATED]
    assert cell(strip, rgb, 2, 11) == COLOUR[Source.CORRECTED]
    left, right = strip.bar.x_span(20)
    marker = rgb[strip.bar.row_top(1) + 4, int(round((left + right) / 2))]
    assert tuple(int(v) for v in marker) == MARKER
    tip = strip.bar.describe(4)
    assert tip.startswith("Slice 4 of 30") and "GM: interpolated" in tip and "SOL: —" in tip


def test_many_slices_per_pixel_never_hide_a_key_slice(annotator, strip, qtbot):
    strip.parentWidget().setMinimumWidth(0)
    strip.bar.resize(strip.bar.NAME_WIDTH + strip.bar.MARGIN + 12, strip.bar.height())   # 30 slices on 12 pixels
    doc = annotator.document
    set_sources(doc, {2: {z: Source.INTERPOLATED for z in range(30)} | {17: Source.MANUAL}})
    cells = strip.bar._cells()
    row = cells[strip.bar.row_top(1) + 2]
    assert (row == COLOUR[Source.MANUAL]).all(axis=1).sum() == 1
    assert (row == COLOUR[Source.INTERPOLATED]).all(axis=1).sum() == 11


def test_painting_makes_a_key_slice_that_the_strip_shows(annotator, strip, qtbot):
    doc = annotator.document
    annotator.state.set_cursor((0, 17, 2))
    annotator.label_panel.set_active_label(2)
    use_tool(annotator, "brush").brush.set_radius(2)
    assert cell(strip, shown(strip, qtbot), 1, 0) == EMPTY
    stroke(qtbot, annotator.slice_views[0], [(10, 10), (12, 14)])
    assert doc.key_slices(2).tolist() == [0]
    assert cell(strip, shown(strip, qtbot), 1, 0) == COLOUR[Source.MANUAL]


def test_a_click_on_the_strip_goes_to_that_slice(annotator, strip, qtbot):
    left, right = strip.bar.x_span(23)
    qtbot.mouseClick(strip.bar, Qt.MouseButton.LeftButton, pos=QPoint(int((left + right) / 2), strip.bar.row_top(1)))
    assert annotator.state.cursor[0] == 23
    view = annotator.slice_views[0]
    assert view.index == 23 and view.slice_label.text() == "24 / 30"
    left, _ = strip.bar.x_span(2)
    qtbot.mousePress(strip.bar, Qt.MouseButton.LeftButton, pos=QPoint(int(left) + 2, 5))
    assert annotator.state.cursor[0] == 2


def test_next_and_previous_key_slice_shortcuts(annotator, strip, qtbot):
    doc = annotator.document
    set_sources(doc, {1: {3: Source.MANUAL, 4: Source.INTERPOLATED}, 3: {10: Source.MANUAL, 11: Source.CORRECTED}})
    annotator.state.set_cursor((15, 10, 10))
    annotator.activateWindow()
    qtbot.waitUntil(annotator.isActiveWindow, timeout=3000)
    canvas = annotator.slice_views[0].canvas
    visited = []
    for key, modifier in ((Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier),
                          (Qt.Key.Key_Comma, Qt.KeyboardModifier.NoModifier),
                          (Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier),
                          (Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier),
                          (Qt.Key.Key_Period, Qt.KeyboardModifier.NoModifier),
                          (Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier),
                          (Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)):
        qtbot.keyClick(canvas, key, modifier)
        visited.append(annotator.state.cursor[0])
    assert visited == [11, 10, 3, 3, 10, 11, 11]
    assert annotator.statusBar().currentMessage() == "No key slice after slice 11"


def test_clear_unmark_and_mark_the_current_key_slice(annotator, strip, qtbot):
    doc = annotator.document
    annotator.state.set_cursor((10, 10, 10))
    annotator.label_panel.set_active_label(1)
    use_tool(annotator, "brush").brush.set_radius(1)
    stroke(qtbot, annotator.slice_views[0], [(17, 7), (17, 9)])    # GM drawn on slice 10: a key slice
    assert doc.key_slices(1).tolist() == [10]
    gm_before = (doc.labels[10] == 1).sum()
    annotator.activateWindow()
    qtbot.waitUntil(annotator.isActiveWindow, timeout=3000)
    canvas = annotator.slice_views[0].canvas

    qtbot.keyClick(canvas, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert (doc.labels[10] == 1).sum() == 0 and doc.key_slices(1).tolist() == [10], "cleared, still a key slice"
    assert annotator.undo_action.text() == "Undo Clear key slice GM, slice 10"
    assert cell(strip, shown(strip, qtbot), 0, 10) == COLOUR[Source.MANUAL]
    annotator.undo_action.trigger()
    assert (doc.labels[10] == 1).sum() == gm_before

    qtbot.keyClick(canvas, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert doc.key_slices(1).tolist() == [] and (doc.labels[10] == 1).sum() == gm_before
    assert cell(strip, shown(strip, qtbot), 0, 10) == EMPTY

    annotator.state.set_cursor((12, 10, 10))
    qtbot.keyClick(canvas, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert doc.key_slices(1).tolist() == [12]
    assert annotator.undo_action.text() == "Undo Mark key slice GM, slice 12"


def test_key_slice_actions_on_a_locked_label_say_why_nothing_changed(annotator, strip, qtbot):
    doc = annotator.document
    set_sources(doc, {1: {10: Source.MANUAL}})
    doc.label_table.update(1, locked=True)
    annotator.label_panel.set_active_label(1)
    annotator.state.set_cursor((10, 10, 10))
    labels, history = doc.labels.copy(), len(doc.history)
    from usannotator_plugins import annotate

    annotate.plugin.gui.actions["clear_key"].trigger()
    assert "GM is locked" in annotator.statusBar().currentMessage()
    annotate.plugin.gui.actions["unmark_key"].trigger()
    assert "GM is locked" in annotator.statusBar().currentMessage()
    np.testing.assert_array_equal(doc.labels, labels)
    assert len(doc.history) == history and doc.key_slices(1).tolist() == [10]
