"""The Borders dock in a real main window: the overlay's colours on the slice view's pixels, the same
numbers as the Qt-free analysis and the command line, the attention maps side by side, and bad input."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox

from usannotator.core import Document, Geometry, Volume
from usannotator.io import read_labels, read_volume, write_labels
from usannotator.plugins.api import Plugin, Segmenter
from usannotator_plugins import borders
from usannotator_plugins.borders import gui
from usannotator_plugins.borders.activation import COINCIDE_MESSAGE, per_map_normalise
from usannotator_plugins.borders.analysis import analyse
from usannotator_plugins.borders.split import SplitParameters

from tests.gui.pixels import colour_pixels, grab

pytestmark = pytest.mark.gui
FOUND_AND_MISSED = (gui.DISTINCT_FOUND, gui.DISTINCT_MISSED, gui.COMPLETED_FOUND, gui.COMPLETED_MISSED)


def open_demo(window, demo):
    document = Document(read_volume(demo["image"]), read_labels(demo["truth"])[0])
    document.labels_path = str(demo["truth"])
    window.set_document(document)
    window.reset_views()
    return document


def wait_for_jobs(window, qtbot, timeout=60000):
    qtbot.waitUntil(lambda: not window.runner.active, timeout=timeout)
    qtbot.wait(20)


def open_prediction(dock, path, window, qtbot):
    dock.open_prediction(path)
    wait_for_jobs(window, qtbot)


def compute(dock, window, qtbot):
    dock.compute()
    wait_for_jobs(window, qtbot)
    assert dock.result is not None


def error_dialogs(window):
    return [box for box in window.findChildren(QMessageBox, "errorDialog") if box.isVisible()]


@pytest.fixture
def borders_window(make_window):
    """A window with the Borders plugin only (no model): (window, dock)."""
    window = make_window(plugins=[borders.plugin])
    return window, borders.plugin.dock


class ModelPlugin(Plugin):
    """A plugin offering segmenters, as IFSS-Net's does; the dock must find them through the host."""

    name = "test-models"

    def __init__(self, *offered):
        self.offered = offered

    def segmenters(self):
        return list(self.offered)


class MissingWeights(Segmenter):
    name, title = "ifss-lite", "IFSS-Net lite"

    def available(self):
        return False, "IFSS-Net weights not found"


# ----- the overlay ---------------------------------------------------------------------------------------

def zoom(view, factor):
    """Voxels several screen pixels wide, so that a one-voxel border has pixels inside it."""
    camera = view.renderer.GetActiveCamera()
    camera.SetParallelScale(camera.GetParallelScale() / factor)
    view.render()


def busiest_slice(categories) -> int:
    """The sweep slice showing the most of the rarest of the four colours."""
    counts = np.stack([(categories == c).sum(axis=(1, 2)) for c in FOUND_AND_MISSED])
    return int(np.argmax(counts.min(axis=0)))


def voxels_under(view, rgb, colour, n=40):
    """Voxels under up to n screen pixels of `colour` whose 3 x 3 neighbourhood has that colour too
    (inside a voxel's square, not on its edge, where rounding could name the neighbour)."""
    same = np.all(np.abs(rgb.astype(int) - colour) <= 12, axis=-1)
    inner = same[1:-1, 1:-1] & same[:-2, 1:-1] & same[2:, 1:-1] & same[1:-1, :-2] & same[1:-1, 2:]
    rows, cols = np.nonzero(inner)
    ratio = view.canvas.devicePixelRatioF()
    picks = np.linspace(0, rows.size - 1, min(n, rows.size)).astype(int) if rows.size else []
    return [view.point_at(QPointF((cols[i] + 1) / ratio, (rows[i] + 1) / ratio)).voxel for i in picks]


def test_overlay_colours_the_border_pixels_by_kind_and_finding_and_toggles_off(borders_window, demo, qtbot):
    window, dock = borders_window
    open_demo(window, demo)
    view = window.slice_views[0]
    before = grab(view.canvas)
    open_prediction(dock, demo["prediction"], window, qtbot)
    compute(dock, window, qtbot)
    categories = dock.overlay.volume_map
    z = busiest_slice(categories)
    window.state.set_cursor((z, *window.state.cursor[1:]))
    zoom(view, 2.5)
    shown = grab(view.canvas)
    for category in FOUND_AND_MISSED:
        colour = gui.CATEGORIES[category][1]
        assert colour_pixels(before, colour) == 0, "the colour was on screen before the analysis"
        voxels = voxels_under(view, shown, colour)
        assert len(voxels) >= 5, f"{gui.CATEGORIES[category][0]} is not on the slice view"
        assert all(categories[v] == category for v in voxels), f"{gui.CATEGORIES[category][0]} off its border"
    # the shortcut switches the overlay off and on again
    window.activateWindow()              # window shortcuts need the window active
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(view.canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    assert not dock.toggle_action.isChecked()
    hidden = grab(view.canvas)
    assert all(colour_pixels(hidden, gui.CATEGORIES[c][1]) == 0 for c in FOUND_AND_MISSED)
    qtbot.keyClick(view.canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    assert colour_pixels(grab(view.canvas), gui.CATEGORIES[gui.DISTINCT_FOUND][1]) > 0
    # the status bar names the category under the cursor
    window.state.set_cursor(tuple(int(i) for i in np.argwhere(categories == gui.COMPLETED_MISSED)[0]))
    assert "Border: completed, missed" in window.pointer_label.text()


def test_legend_and_colours_say_only_the_kind_without_a_prediction(borders_window, demo, qtbot):
    window, dock = borders_window
    open_demo(window, demo)
    compute(dock, window, qtbot)
    assert set(np.unique(dock.overlay.volume_map)) == {0, gui.DISTINCT, gui.COMPLETED}
    assert "recovered" not in dock.legend.text() and "distinct" in dock.legend.text()
    assert dock.table.item(0, 3).text() == "—"


# ----- the numbers ---------------------------------------------------------------------------------------

def test_dock_computes_the_numbers_of_the_qt_free_analysis(borders_window, demo, qtbot):
    window, dock = borders_window
    document = open_demo(window, demo)
    open_prediction(dock, demo["prediction"], window, qtbot)
    dock.sigma_box.setValue(0.5)
    dock.edge_tol_box.setValue(0)
    dock.percentile_box.setValue(85)
    dock.tolerance_box.setValue(1.5)
    compute(dock, window, qtbot)
    prediction = read_labels(demo["prediction"])[0]
    expected = analyse(None, document.volume.array, document.labels, document.volume.geometry.spacing_zyx,
                       prediction, SplitParameters(sigma_px=0.5, tol_px=0, edge_percentile=85), 1.5)
    np.testing.assert_array_equal(dock.result.split.distinct, expected.split.distinct)
    names = {1: "GM", 2: "GL", 3: "SOL", "all": "all"}
    rows = {(dock.table.item(r, 0).text(), dock.table.item(r, 1).text()): r for r in range(dock.table.rowCount())}
    assert len(rows) == 8
    for muscle, figures in [*expected.metrics["muscles"].items(), ("all", expected.metrics["all"])]:
        for kind in ("distinct", "completed"):
            f, r = figures[kind], rows[(names[muscle], kind)]
            shown = [float(dock.table.item(r, c).text()) for c in range(2, 6)]
            want = [f["ref_share"], f["recall"], f["mean_dist_mm"], f["p95_dist_mm"]]
            assert shown == pytest.approx(want, abs=0.051)
    # the colours count what the table says was recovered
    hits = round(expected.metrics["all"]["distinct"]["recall"] * expected.metrics["all"]["distinct"]["n_voxels"] / 100)
    assert np.count_nonzero(dock.overlay.volume_map == gui.DISTINCT_FOUND) == hits


def test_export_writes_the_files_of_the_command_line(borders_window, demo, qtbot, tmp_path, monkeypatch):
    from usannotator.cli import main

    window, dock = borders_window
    open_demo(window, demo)
    open_prediction(dock, demo["prediction"], window, qtbot)
    compute(dock, window, qtbot)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "gui"))
    dock.export_dialog()
    assert main(["borders", str(demo["image"]), str(demo["truth"]), "-o", str(tmp_path / "cli"),
                 "--prediction", str(demo["prediction"])]) == 0
    names = sorted(p.name for p in (tmp_path / "gui").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert (tmp_path / "gui" / "metrics.csv").read_text() == (tmp_path / "cli" / "metrics.csv").read_text()
    for kind in ("distinct", "completed"):
        ours, geometry, _ = read_labels(tmp_path / "gui" / f"{kind}.nii.gz")
        np.testing.assert_array_equal(ours, read_labels(tmp_path / "cli" / f"{kind}.nii.gz")[0])
        assert geometry.matches(window.document.volume.geometry)
    # the view as PNG, through the host's window screenshot
    png = tmp_path / "view.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(png), "PNG (*.png)"))
    dock.screenshot_dialog()
    image = QImage(str(png))
    assert image.width() == window.width() and image.height() == window.height()


# ----- bad input -----------------------------------------------------------------------------------------

def test_a_prediction_of_another_geometry_is_refused_and_changes_nothing(borders_window, demo, qtbot, tmp_path):
    window, dock = borders_window
    document = open_demo(window, demo)
    compute(dock, window, qtbot)
    result, shown = dock.result, dock.overlay.volume_map.copy()
    geometry = document.volume.geometry
    moved = Geometry(geometry.spacing, tuple(o + 5.0 for o in geometry.origin), geometry.direction)
    wrong = tmp_path / "moved.nii.gz"
    write_labels(wrong, document.labels, moved)
    open_prediction(dock, wrong, window, qtbot)
    dialogs = error_dialogs(window)
    assert len(dialogs) == 1 and "line up" in dialogs[0].text() and "moved.nii.gz" in dialogs[0].text()
    assert dock.prediction is None and dock.prediction_label.text().startswith("none")
    assert dock.result is result
    np.testing.assert_array_equal(dock.overlay.volume_map, shown)
    dialogs[0].close()


def test_prediction_labels_the_reference_lacks_are_warned_about(borders_window, demo, qtbot, tmp_path):
    window, dock = borders_window
    document = open_demo(window, demo)
    extra = document.labels.copy()
    extra[:, :3, :3] = 7
    path = tmp_path / "extra.nii.gz"
    write_labels(path, extra, document.volume.geometry)
    open_prediction(dock, path, window, qtbot)
    compute(dock, window, qtbot)
    assert "[7]" in dock.notes.text() and dock.notes.isVisible()
    assert not error_dialogs(window)


def test_an_empty_reference_is_an_error_and_computes_nothing(borders_window, demo, qtbot):
    window, dock = borders_window
    document = open_demo(window, demo)
    document.labels[:] = 0
    dock.compute()
    wait_for_jobs(window, qtbot)
    dialogs = error_dialogs(window)
    assert len(dialogs) == 1 and "no label" in dialogs[0].text()
    assert dock.result is None and dock.overlay not in window.state.overlays
    assert dock.compute_button.isEnabled()
    dialogs[0].close()


def test_cancel_leaves_nothing(borders_window, demo, qtbot, monkeypatch):
    from usannotator.gui.main_window import JobWidget

    window, dock = borders_window
    open_demo(window, demo)
    started, gate = threading.Event(), threading.Event()

    def held(*args, **kwargs):          # the real analysis, held until the test has pressed Cancel
        started.set()
        gate.wait(10)
        return analyse(*args, **kwargs)

    monkeypatch.setattr(gui, "analyse", held)
    handle = dock.compute()
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert not dock.compute_button.isEnabled()
    cancel = [w for w in window.statusBar().findChildren(JobWidget) if w.label.text() == "Border analysis"]
    qtbot.mouseClick(cancel[0].cancel, Qt.MouseButton.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: handle.state == "cancelled", timeout=10000)
    wait_for_jobs(window, qtbot)
    assert dock.result is None and dock.overlay not in window.state.overlays
    assert dock.table.rowCount() == 0 and not error_dialogs(window)
    assert dock.compute_button.isEnabled() and not dock.export_button.isEnabled()


def test_without_a_model_the_attention_part_is_off_and_says_why(make_window, demo, qtbot):
    window = make_window(plugins=[borders.plugin, ModelPlugin(MissingWeights())])
    dock = borders.plugin.dock
    dock.setCurrentIndex(1)
    assert not dock.attention_controls.isEnabled() and not dock.attention_button.isEnabled()
    assert dock.attention_reason.isVisible()
    assert "IFSS-Net weights not found" in dock.attention_reason.text()
    # the split and the metrics work all the same
    dock.setCurrentIndex(0)
    open_demo(window, demo)
    open_prediction(dock, demo["prediction"], window, qtbot)
    compute(dock, window, qtbot)
    assert dock.table.rowCount() == 8 and dock.table.item(0, 3).text() != "—"


# ----- attention -----------------------------------------------------------------------------------------

@pytest.fixture
def band_document():
    """Slices of tiny_segmenter's muscle band with its superficial fascia missing: the deep border is
    distinct, the superficial one completed, so the two kinds lie apart."""
    from tests.plugins.borders.tiny_segmenter import band_slice

    rng = np.random.default_rng(100)
    images, bands = zip(*[band_slice(rng, fascia_until=0) for _ in range(3)])
    labels = np.stack(bands).astype(np.uint8)
    return Document(Volume(np.stack(images), Geometry((0.5, 0.5, 1.0))), labels)


@pytest.fixture
def attention_window(make_window, segmenter, band_document, qtbot):
    window = make_window(plugins=[borders.plugin, ModelPlugin(segmenter)])
    window.runner.model_device = "cpu"   # the session's network must stay where the other tests use it
    dock = borders.plugin.dock
    window.set_document(band_document)
    compute(dock, window, qtbot)
    dock.setCurrentIndex(1)              # showing the page loads the model and lists its layers
    wait_for_jobs(window, qtbot)
    return window, dock


def panel_pixels(dock, kind):
    image = dock.panel.images[kind].pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()].reshape(
        image.height(), image.width(), 3).copy()       # a copy: the buffer dies with the QImage


def coloured(rgb) -> float:
    """Share of strongly coloured pixels (heat colours; the B-mode slice is grey)."""
    return float(((rgb.max(axis=-1).astype(int) - rgb.min(axis=-1)) > 60).mean())


def test_attention_panel_shows_two_different_maps_side_by_side(attention_window, qtbot):
    window, dock = attention_window
    assert dock.layer_box.itemText(0) == "dec2 (default)" and not dock.caveat.isVisible()
    dock.compute_attention()
    wait_for_jobs(window, qtbot)
    z = window.state.cursor[0]
    maps = dock.activation.slices[z]
    a, b = per_map_normalise(maps.distinct), per_map_normalise(maps.completed)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.99
    assert "one scale" in dock.panel.message.text()
    joint = panel_pixels(dock, "completed")
    dock.scale_box.setCurrentText("each map")     # each map on its own scale: both show their shape
    distinct, completed = panel_pixels(dock, "distinct"), panel_pixels(dock, "completed")
    assert distinct.shape == completed.shape and distinct.shape[1] >= 120
    # the border lines alone colour about 2 % of a panel; the heat map much more
    assert coloured(distinct) > 0.08, "no heat map over the slice"
    # the lines are the same on both scales, so what brightened is the completed map's heat
    assert coloured(completed) > coloured(joint) + 0.01, "the weaker map did not show on its own scale"
    assert np.abs(distinct.astype(int) - completed).mean() > 10, "the two panels look the same"
    # either map can go over the cross-section view
    view = window.slice_views[0]
    plain = grab(view.canvas).astype(int)
    dock.show_on_views.setCurrentText("distinct")
    assert dock.attention_overlay in window.state.overlays
    changed = np.abs(grab(view.canvas) - plain).sum(axis=-1) > 30
    assert changed.mean() > 0.03, "the map is not on the slice view"
    dock.show_on_views.setCurrentText("off")
    assert dock.attention_overlay not in window.state.overlays
    assert np.abs(grab(view.canvas) - plain).mean() < 1


def test_the_output_layer_is_flagged_and_its_maps_are_not_shown(attention_window, qtbot):
    window, dock = attention_window
    dock.layer_box.setCurrentIndex(dock.layer_box.findText("out"))
    assert dock.caveat.isVisible() and "cannot tell the two border kinds apart" in dock.caveat.text()
    dock.compute_attention()
    wait_for_jobs(window, qtbot)
    assert COINCIDE_MESSAGE in dock.panel.message.text()
    assert all(image.pixmap().isNull() for image in dock.panel.images.values())


def test_maps_follow_the_cursor_over_the_computed_slices(attention_window, qtbot):
    window, dock = attention_window
    window.state.set_cursor((0, *window.state.cursor[1:]))
    dock.compute_attention()                       # slice 1 only
    wait_for_jobs(window, qtbot)
    first = panel_pixels(dock, "completed").copy()
    window.state.set_cursor((2, *window.state.cursor[1:]))
    assert "No maps for slice 3" in dock.panel.message.text()
    dock.range_box.setValue(1)                     # slices 2 and 3
    dock.compute_attention()
    wait_for_jobs(window, qtbot)
    assert sorted(dock.activation.slices) == [1, 2]
    assert not np.array_equal(panel_pixels(dock, "completed"), first)


