"""The Interpolation dock in a real window: a preview outline on the slice views (pixels) with the
document untouched, Apply as one undoable edit equal to the Qt-free and command-line results,
Discard, Cancel, locked labels, settings.

The demo phantom at size "small" (48 x 64 x 64, key slices every 10) keeps each run well under a
second on two cores.
"""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui.pixels import colour_pixels, grab
from usannotator.core.provenance import Source
from usannotator.demo import demo_document
from usannotator_plugins import zoi
from usannotator_plugins.zoi import interpolate_document
from usannotator_plugins.zoi.gui import preview_colour
from usannotator_plugins.zoi.morphological import available as morphological_available

pytestmark = pytest.mark.gui

GM = 1
GM_KEYS = (3, 13)        # two consecutive key slices of GM in the demo document (seed 0)
BETWEEN = 8              # a gap slice between them


@pytest.fixture
def window(make_window):
    return make_window(plugins=[zoi.plugin], active=True)


@pytest.fixture
def dock(window):
    return zoi.plugin.dock


@pytest.fixture
def document(window, qtbot):
    doc = demo_document(0, size="small")[0]
    assert list(doc.key_slices(GM)[:2]) == list(GM_KEYS)
    window.set_document(doc)
    window.reset_views()
    window.state.set_cursor((BETWEEN, 32, 32))
    window.render_all()
    qtbot.wait(50)
    return doc


def snapshot(document):
    return document.labels.copy(), {v: document.provenance.of(v).copy() for v in document.provenance.labels()}


def assert_unchanged(document, before):
    labels, provenance = before
    assert np.array_equal(document.labels, labels)
    for value, sources in provenance.items():
        assert np.array_equal(document.provenance.of(value), sources)
    assert not document.history.can_undo()


def run_preview(dock, window, qtbot):
    dock.interpolate_action.trigger()
    qtbot.waitUntil(lambda: dock.handle is None, timeout=30000)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=30000)
    window.render_all()
    qtbot.wait(50)


def preview_pixels(window, document, label=GM):
    colour = preview_colour(document.label_table[label].color)
    return colour_pixels(grab(window.slice_views[0].canvas), colour, tol=6)


def test_interpolate_shows_a_preview_outline_and_leaves_the_document_alone(window, dock, document, qtbot):
    before = snapshot(document)
    assert preview_pixels(window, document) < 5           # the tint is not among the drawn colours
    run_preview(dock, window, qtbot)
    assert dock.preview is not None and dock.apply_button.isEnabled()
    assert window.state.cursor[0] == BETWEEN               # already on a recomputed slice: stays there
    assert preview_pixels(window, document) > 40           # GM's outline on the empty gap slice
    assert_unchanged(document, before)
    assert "→" in dock.volume_labels[GM].text()            # ml before → after


def test_apply_equals_the_qt_free_result_as_one_undo_step(window, dock, document, qtbot):
    before = snapshot(document)
    expected = demo_document(0, size="small")[0]
    interpolate_document(expected)                         # same input, same plugin defaults
    run_preview(dock, window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_Return)              # Apply
    assert dock.preview is None
    assert np.array_equal(document.labels, expected.labels)
    assert not np.array_equal(document.labels, before[0])
    gaps = [z for z in range(GM_KEYS[0] + 1, GM_KEYS[1])]
    assert (document.provenance.of(GM)[gaps] == Source.INTERPOLATED).all()
    assert list(document.key_slices(GM)) == list(expected.key_slices(GM))
    for value in expected.provenance.labels():
        assert np.array_equal(document.provenance.of(value), expected.provenance.of(value))
    window.render_all()
    assert preview_pixels(window, document) < 5            # the outline went with the preview
    document.undo()
    assert_unchanged(document, before)                     # one step restores everything


def test_discard_removes_the_preview_and_changes_nothing(window, dock, document, qtbot):
    before = snapshot(document)
    run_preview(dock, window, qtbot)
    assert preview_pixels(window, document) > 40
    qtbot.keyClick(window, Qt.Key.Key_Escape)              # Discard
    window.render_all()
    qtbot.wait(50)
    assert dock.preview is None and not dock.apply_button.isEnabled()
    assert preview_pixels(window, document) < 5
    assert_unchanged(document, before)


def test_a_change_to_the_document_drops_the_preview(window, dock, document, qtbot):
    from usannotator.core import Edit

    run_preview(dock, window, qtbot)
    window.host.apply_edit(Edit((slice(40, 41), slice(0, 2), slice(0, 2)), 3, description="brush"))
    assert dock.preview is None
    assert "dropped" in window.statusBar().currentMessage()


def test_a_locked_label_stays_as_it_was(window, dock, document, qtbot):
    document.label_table.update(2, locked=True)
    qtbot.wait(400)                                         # the dock's coalesced refresh
    assert not dock.checks[2].isEnabled() and not dock.checks[2].isChecked()
    gl_before = document.labels == 2
    run_preview(dock, window, qtbot)
    assert 2 not in dock.preview.result.slices_written
    dock.apply_button.click()
    assert np.array_equal(document.labels == 2, gl_before)
    assert (document.provenance.of(GM)[BETWEEN] == Source.INTERPOLATED)


def test_cancel_changes_nothing(window, dock, document, qtbot):
    before = snapshot(document)
    dock.interpolate_action.trigger()
    dock.cancel_button.click()      # at once: the runner then reports "cancelled", whatever was done
    qtbot.waitUntil(lambda: dock.handle is None, timeout=30000)
    assert dock.preview is None
    assert "cancelled" in window.statusBar().currentMessage()
    assert dock.interpolate_button.isEnabled()
    assert_unchanged(document, before)


def test_the_dock_and_the_command_line_agree(window, dock, document, qtbot, tmp_path, capsys):
    from usannotator.cli import main
    from usannotator.io import read_labels, write_image, write_labels

    geometry = document.volume.geometry
    write_image(tmp_path / "leg.nii.gz", document.volume.array, geometry)
    write_labels(tmp_path / "keys.nii.gz", document.labels, geometry)
    dock.method_box.setCurrentIndex(dock.method_box.findData("sdf"))
    run_preview(dock, window, qtbot)
    dock.apply_button.click()
    assert main(["interpolate", str(tmp_path / "leg.nii.gz"), str(tmp_path / "keys.nii.gz"),
                 "-o", str(tmp_path / "out.nii.gz"), "--method", "sdf"]) == 0
    capsys.readouterr()
    from_cli = read_labels(tmp_path / "out.nii.gz")[0]
    assert np.array_equal(from_cli, document.labels)


def test_settings_are_remembered_and_morphological_says_why_it_is_off(make_window, window, dock):
    dock.method_box.setCurrentIndex(dock.method_box.findData("sdf"))
    dock.sigma_box.setValue(2.0)
    assert not dock.sigma_box.isEnabled()                   # ZOI's parameters: not for sdf
    item = dock.method_box.model().item(dock.method_box.findData("morphological"))
    assert item.isEnabled() == morphological_available()
    if not item.isEnabled():
        assert "itk-morphologicalcontourinterpolation" in item.toolTip()
    make_window(plugins=[zoi.plugin])
    again = zoi.plugin.dock
    assert again is not dock
    assert again.method == "sdf" and again.sigma_box.value() == 2.0
