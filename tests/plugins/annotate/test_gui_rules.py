"""Overwrite rules, locks and bad input through the window: what is protected stays as it was (also in
the preview on screen), and the status bar says why nothing changed."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui.pixels import colour_pixels
from tests.plugins.annotate.gui_driver import on_screen, press_and_move, stroke, use_tool
from usannotator.core import OverwriteRule
from usannotator.core.geometry import slice_of

pytestmark = pytest.mark.gui

GM, GL = (230, 75, 60), (60, 140, 230)
ACROSS_GM = [(10, 2), (10, 22)]        # slice 10 of the cross-section: GM on columns 5-19, row 10
ACROSS_SOL = [(27, 2), (27, 47)]       # SOL on rows 20-34, columns 5-44


@pytest.fixture
def slice10(annotator):
    annotator.state.set_cursor((10, 17, 22))
    use_tool(annotator, "brush").brush.set_radius(0.5)
    return annotator.slice_views[0]


def choose_rule(window, rule):
    box = window.rule_box
    box.setCurrentIndex(box.findData(rule))
    assert window.host.overwrite_rule is rule


def status(window) -> str:
    return window.statusBar().currentMessage()


def row_of(doc, row):
    return slice_of(doc.labels, 0, 10)[row]


def test_background_only_keeps_other_labels_on_screen_and_in_the_labels(annotator, slice10, qtbot):
    doc = annotator.document
    choose_rule(annotator, OverwriteRule.BACKGROUND_ONLY)
    annotator.label_panel.set_active_label(2)
    gm_on_screen = colour_pixels(on_screen(qtbot, slice10), GM)
    end = press_and_move(qtbot, slice10, ACROSS_GM)
    assert colour_pixels(on_screen(qtbot, slice10), GM) >= gm_on_screen * 0.97, "the preview paints over GM"
    assert colour_pixels(on_screen(qtbot, slice10), GL) > 0
    qtbot.mouseRelease(slice10.canvas, Qt.MouseButton.LeftButton, pos=end)
    row = row_of(doc, 10)
    assert (row[2:5] == 2).all() and (row[5:20] == 1).all() and (row[20:23] == 2).all()
    choose_rule(annotator, OverwriteRule.EVERYTHING)
    stroke(qtbot, slice10, ACROSS_GM)
    assert (row_of(doc, 10)[2:23] == 2).all()


def test_visible_unlocked_only_protects_a_hidden_label(annotator, slice10, qtbot):
    doc = annotator.document
    doc.label_table.update(3, visible=False)
    choose_rule(annotator, OverwriteRule.VISIBLE_UNLOCKED)
    annotator.label_panel.set_active_label(1)
    stroke(qtbot, slice10, ACROSS_SOL)
    row = row_of(doc, 27)
    assert (row[2:5] == 1).all() and (row[5:45] == 3).all() and (row[45:48] == 1).all()
    annotator.label_panel.set_active_label(3)
    stroke(qtbot, slice10, [(17, 2), (17, 20)])
    assert "SOL is hidden" in status(annotator) and (row_of(doc, 17) == 0).all()


def test_painting_a_hidden_label_is_allowed_with_a_warning(annotator, slice10, qtbot):
    doc = annotator.document
    doc.label_table.update(2, visible=False)
    annotator.label_panel.set_active_label(2)
    stroke(qtbot, slice10, [(17, 2), (17, 20)])
    assert (row_of(doc, 17)[2:21] == 2).all()
    assert status(annotator).startswith("Brush GL, slice 10") and "GL is hidden" in status(annotator)


def test_a_locked_label_is_never_changed_and_the_status_bar_says_why(annotator, slice10, qtbot):
    doc = annotator.document
    doc.label_table.update(1, locked=True)
    annotator.label_panel.set_active_label(1)
    before = doc.labels.copy()
    stroke(qtbot, slice10, [(17, 2), (17, 20)])
    assert "GM is locked" in status(annotator) and len(doc.history) == 0
    annotator.label_panel.set_active_label(2)
    stroke(qtbot, slice10, [(10, 8), (10, 16)])            # only GM under the stroke
    assert "protected" in status(annotator) and len(doc.history) == 0
    np.testing.assert_array_equal(doc.labels, before)
    stroke(qtbot, slice10, ACROSS_GM)                      # GM stays, the background on each side is painted
    row = row_of(doc, 10)
    assert (row[5:20] == 1).all() and (row[2:5] == 2).all() and len(doc.history) == 1
    use_tool(annotator, "eraser")
    stroke(qtbot, slice10, ACROSS_GM)
    assert (row_of(doc, 10)[5:20] == 1).all() and (row_of(doc, 10)[2:5] == 0).all()


def test_a_stroke_outside_the_image_changes_nothing(annotator, slice10, qtbot):
    doc = annotator.document
    annotator.label_panel.set_active_label(2)
    stroke(qtbot, slice10, [(-6, 5), (-6, 30), (-4, 45)])
    assert len(doc.history) == 0 and "did not reach the image" in status(annotator)
    stroke(qtbot, slice10, [(-6, 20), (17, 20)])           # from outside into the image: the inside part
    assert (row_of(doc, 17)[20] == 2) and (slice_of(doc.labels, 0, 10)[0, 20] == 2)


def test_without_a_label_to_paint_with_nothing_changes(annotator, slice10, qtbot):
    doc = annotator.document
    annotator.label_panel.set_active_label(3)
    doc.label_table.remove(3)
    before = doc.labels.copy()
    for tool in ("brush", "polygon", "freehand", "flood_fill"):
        use_tool(annotator, tool)
        stroke(qtbot, slice10, [(17, 2), (17, 20)])
        assert "label 3 is not in the label table" in status(annotator), tool
    np.testing.assert_array_equal(doc.labels, before)


def test_a_brush_larger_than_the_slice_paints_that_slice_only(annotator, slice10, qtbot):
    doc = annotator.document
    annotator.label_panel.set_active_label(2)
    annotator.host.active_tool.brush.set_radius(1000)
    assert annotator.host.active_tool.cursor_radius() == 250, "the size is capped"
    before = doc.labels.copy()
    stroke(qtbot, slice10, [(20, 25)])
    assert (doc.labels[10] == 2).all()
    np.testing.assert_array_equal(np.delete(doc.labels, 10, axis=0), np.delete(before, 10, axis=0))
    assert len(doc.history) == 1
