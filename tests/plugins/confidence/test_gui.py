"""The Confidence dock in a real window: the heat map on the slice views (pixels), maps equal to the
Qt-free job, a responsive window while computing, Cancel, the review list, the status bar, settings.

Documents are small (16-96 slices of 64 x 64) so that each map takes a second or two on two cores.
"""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer

from tests.gui.pixels import colour_pixels, grab
from usannotator.core import Document, Volume
from usannotator.jobs import Progress
from usannotator_plugins import confidence
from usannotator_plugins.confidence import algorithm
from usannotator_plugins.confidence.review import review_list
from usannotator_plugins.confidence.volume import confidence_volume, user_cache_dir

pytestmark = pytest.mark.gui

CYAN = (0, 255, 255)


@pytest.fixture(scope="module")
def demo_volume():
    from usannotator.demo import demo_document

    return demo_document(0, size="small")[0].volume


def field_of_view(document):
    """Spec 6.1: pixels zero in every slice lie outside the scanned field; the overlay leaves them clear."""
    return np.broadcast_to((document.volume.array != 0).any(axis=0), document.volume.shape)


def document_of(volume, slices, labels=None):
    array = np.ascontiguousarray(volume.array[slices])
    labels = np.zeros(array.shape, np.uint16) if labels is None else labels
    return Document(Volume(array, volume.geometry, name="confidence test"), labels)


@pytest.fixture
def window(make_window):
    return make_window(plugins=[confidence.plugin], active=True)


@pytest.fixture
def dock(window):
    return confidence.plugin.dock


def open_document(window, document, qtbot):
    window.set_document(document)
    window.reset_views()
    wait_for_jobs(window, qtbot)       # the cache lookup that opening starts
    window.render_all()


def wait_for_jobs(window, qtbot, timeout=60000):
    qtbot.waitUntil(lambda: not window.runner.active, timeout=timeout)
    qtbot.wait(200)                    # the throttled redraw of the last slices


def compute(dock, window, qtbot):
    dock.compute_button.click()
    qtbot.waitUntil(lambda: dock.handle is None, timeout=60000)
    wait_for_jobs(window, qtbot)


def chroma(rgb) -> np.ndarray:
    """How coloured each pixel is: 0 for grey."""
    return rgb.max(axis=-1).astype(int) - rgb.min(axis=-1)


def screen_values(view, volume_map, step=3):
    """For canvas pixels on a grid: (rows, cols) in the grab and the value of `volume_map` at the voxel
    shown there."""
    rows, cols, values = [], [], []
    for y in range(0, view.canvas.height(), step):
        for x in range(0, view.canvas.width(), step):
            point = view.point_at(QPointF(x, y))
            if point.inside:
                rows.append(y)
                cols.append(x)
                values.append(volume_map[point.voxel])
    return np.array(rows), np.array(cols), np.array(values)


def in_plane_minimum(volume_map):
    """Each voxel's smallest in-slice 3 x 3 neighbour: screen pixels on a voxel edge may show either voxel,
    and the iso-line runs between voxel centres."""
    from scipy.ndimage import minimum_filter

    return minimum_filter(np.nan_to_num(volume_map, nan=1.0), size=(1, 3, 3))


def test_shift_c_computes_and_shows_the_heat_map_then_hides_it(window, dock, demo_volume, qtbot):
    document = document_of(demo_volume, slice(16, 32))
    open_document(window, document, qtbot)
    view = window.slice_views[0]
    plain = grab(view.canvas)
    assert not dock.toggle_action.isChecked()
    qtbot.keyClick(view.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier)   # on: nothing yet, so compute
    qtbot.waitUntil(lambda: dock.shown_parameters is not None, timeout=60000)
    wait_for_jobs(window, qtbot)
    assert (np.isfinite(dock.overlay.volume_map) == field_of_view(document)).all()
    coloured = grab(view.canvas)
    assert chroma(coloured).mean() > chroma(plain).mean() + 20, "no heat colours on the view"
    # bright near the transducer, dark deep down: the top rows of the image turned warm and light
    rows, cols, values = screen_values(view, dock.overlay.volume_map)
    high, low = values > 0.9, values < 0.1
    assert high.sum() > 50 and low.sum() > 50
    assert coloured[rows[high], cols[high]].mean() > coloured[rows[low], cols[low]].mean() + 40
    qtbot.keyClick(view.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier)   # off
    assert not dock.overlay.visible and not dock.toggle_action.isChecked()
    assert abs(chroma(grab(view.canvas)).mean() - chroma(plain).mean()) < 0.5
    assert "Confidence" not in window.pointer_label.text()


def test_only_below_threshold_leaves_high_confidence_uncoloured_and_draws_the_iso_line(window, dock, demo_volume,
                                                                                     qtbot):
    open_document(window, document_of(demo_volume, slice(16, 32)), qtbot)
    view = window.slice_views[0]
    compute(dock, window, qtbot)
    dock.toggle_action.setChecked(False)
    plain = grab(view.canvas)
    dock.toggle_action.setChecked(True)
    dock.threshold_box.setValue(0.3)
    dock.below_box.setChecked(True)
    assert dock.overlay.below == pytest.approx(0.3) and dock.overlay.contour == pytest.approx(0.3)
    shown = grab(view.canvas)
    rows, cols, values = screen_values(view, dock.overlay.volume_map)
    _, _, neighbourhood = screen_values(view, in_plane_minimum(dock.overlay.volume_map))
    # above the threshold, all around (away from the line): exactly the plain image
    trusted = neighbourhood > 0.3
    assert trusted.sum() > 100
    assert np.abs(shown[rows[trusted], cols[trusted]].astype(int) - plain[rows[trusted], cols[trusted]]).max() <= 2
    untrusted = values < 0.15
    assert np.abs(shown[rows[untrusted], cols[untrusted]].astype(int) - plain[rows[untrusted], cols[untrusted]]
                  ).mean() > 10, "the low-confidence area is not tinted"
    assert colour_pixels(shown, CYAN, tol=40) > 30, "no iso-line at the threshold"
    # the legend: a dark-to-bright bar up to the threshold, a colourless checkerboard above it
    qtbot.wait(50)                     # its repaint
    legend = grab(dock.legend)
    bar = dock.legend.bar_rect()
    y = int(bar.center().y())
    below_x = int(dock.legend.x_of(0.2))
    above = legend[y, int(dock.legend.x_of(0.5)):int(bar.right()) - 2]
    assert chroma(legend[y:y + 1, below_x:below_x + 1]).max() > 40
    assert chroma(above).max() < 10
    dock.below_box.setChecked(False)
    assert chroma(grab(view.canvas)).mean() > chroma(shown).mean() + 10


def test_worker_processes_fill_the_overlay_from_a_gui_job(window, dock, demo_volume, qtbot, monkeypatch):
    """On a PC with more cores the dock's job solves slices in worker processes (spawned from the
    job's thread); the maps are the same as in one process."""
    import usannotator_plugins.confidence.gui as gui

    monkeypatch.setattr(gui, "default_workers", lambda leave_a_core_free=False: 2)
    document = document_of(demo_volume, slice(0, 12))
    open_document(window, document, qtbot)
    compute(dock, window, qtbot)
    expected = confidence_volume(Progress(), document.volume, use_cache=False, **{
        k: getattr(dock, f"{k}_box").value() for k in ("alpha", "beta", "gamma")})
    np.testing.assert_array_equal(dock.overlay.volume_map, np.where(field_of_view(document), expected, np.nan))


def test_the_overlay_holds_the_maps_of_the_qt_free_job_and_reopening_takes_them_from_the_cache(
        window, dock, demo_volume, qtbot, monkeypatch):
    document = document_of(demo_volume, slice(0, 16))
    open_document(window, document, qtbot)
    dock.preset_box.setCurrentText("network input (thesis)")
    dock.sink_box.setCurrentText("mid")
    assert (dock.alpha_box.value(), dock.beta_box.value()) == (0.5, 100.0)
    compute(dock, window, qtbot)
    expected = confidence_volume(Progress(), document.volume, alpha=0.5, beta=100.0, gamma=0.05, sink="mid",
                                 use_cache=False)
    expected = np.where(field_of_view(document), expected, np.nan)
    np.testing.assert_array_equal(dock.overlay.volume_map, expected)

    def must_not_run(self, *args, **kwargs):
        raise AssertionError("the cached maps should have been used")

    monkeypatch.setattr(algorithm.ConfidenceSolver, "__call__", must_not_run)
    open_document(window, document_of(demo_volume, slice(0, 16)), qtbot)   # the same pixels, reopened
    assert dock.shown_parameters is not None and "Computed" in dock.state_label.text()
    np.testing.assert_array_equal(dock.overlay.volume_map, expected)


def test_the_window_stays_responsive_while_computing_and_cancel_leaves_nothing(window, dock, demo_volume, qtbot):
    volume = Volume(np.concatenate([demo_volume.array, demo_volume.array]), demo_volume.geometry)
    open_document(window, document_of(volume, slice(None)), qtbot)
    view, side_view = window.slice_views[0], window.slice_views[2]
    plain, side_plain = grab(view.canvas), grab(side_view.canvas)
    ticks = []
    timer = QTimer(interval=10, timeout=lambda: ticks.append(1))
    timer.start()
    dock.compute_button.click()
    assert not dock.compute_button.isEnabled() and dock.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dock._slices_done >= 3, timeout=30000)
    ticks_before = len(ticks)
    qtbot.wait(100)
    assert len(ticks) >= ticks_before + 3, "the GUI thread stopped processing events"
    # cursor moves work and are drawn while the job runs
    z = window.state.cursor[0]
    qtbot.keyClick(view.canvas, Qt.Key.Key_Up)
    assert window.state.cursor[0] == z + 1 and view.index == z + 1
    # slices show as they come: computed slices hold values, the rest are still NaN
    done = np.isfinite(dock.overlay.volume_map).any(axis=(1, 2))
    assert 3 <= done.sum() < len(done) and np.isnan(dock.overlay.volume_map[~done]).all()
    qtbot.mouseClick(dock.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dock.handle is None, timeout=30000)
    wait_for_jobs(window, qtbot)
    timer.stop()
    assert "Cancelled" in dock.state_label.text()
    assert np.isnan(dock.overlay.volume_map).all()
    assert not list(user_cache_dir().glob("*.npy")), "a cancelled job left a cache entry"
    assert abs(chroma(grab(view.canvas)).mean() - chroma(plain).mean()) < 0.5
    # nor is any half-computed map left across the sweep
    assert abs(chroma(grab(side_view.canvas)).mean() - chroma(side_plain).mean()) < 0.5
    assert dock.compute_button.isEnabled() and not dock.cancel_button.isEnabled()


@pytest.fixture
def muscles_at_depths(demo_volume):
    """GM boxes at three depths on three slices (deep: its border mostly in low confidence), SOL on one."""
    labels = np.zeros((16,) + demo_volume.shape[1:], np.uint16)
    labels[2, 44:60, 10:50] = 1
    labels[6, 30:58, 10:50] = 1
    labels[10, 4:20, 10:50] = 1
    labels[12, 36:62, 20:40] = 3
    return document_of(demo_volume, slice(16, 32), labels)


def test_review_list_is_worst_first_and_a_click_jumps_there(window, dock, muscles_at_depths, qtbot):
    document = muscles_at_depths
    open_document(window, document, qtbot)
    dock.threshold_box.setValue(0.3)
    compute(dock, window, qtbot)
    # border pixels outside the field of view (no map there) do not count (spec 6.1)
    expected = review_list(document.labels, dock.overlay.volume_map, threshold=0.3, min_share=0.5,
                           inside=field_of_view(document))
    assert len(expected) >= 2 and {item.slice for item in expected} <= {2, 6, 12}
    assert dock.items == expected
    shares = [item.share for item in dock.items]
    assert shares == sorted(shares, reverse=True)
    table = dock.review_table
    assert table.rowCount() == len(expected)
    assert [table.item(row, 0).text() for row in range(table.rowCount())] == [str(i.slice) for i in expected]
    assert table.item(0, 1).text() in ("GM", "SOL")
    row = len(expected) - 1
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton,
                     pos=table.visualItemRect(table.item(row, 0)).center())
    z, y, x = window.state.cursor
    item = expected[row]
    assert z == item.slice and window.slice_views[0].index == item.slice
    assert document.labels[z, y, x] == item.label                      # on the muscle ...
    assert dock.overlay.volume_map[z, y, x] < 0.3                      # ... where confidence is low
    # a stricter share lists again by itself (after a short pause for more changes)
    dock.share_box.setValue(0.6)
    wait_for_jobs(window, qtbot)
    qtbot.waitUntil(lambda: dock.items == [i for i in expected if i.share > 0.6], timeout=5000)
    assert table.rowCount() == len(dock.items) < len(expected)


def test_the_value_under_the_pointer_is_in_the_status_bar(window, dock, demo_volume, qtbot):
    open_document(window, document_of(demo_volume, slice(16, 32)), qtbot)
    compute(dock, window, qtbot)
    view = window.slice_views[0]
    position = QPoint(view.canvas.width() // 2, view.canvas.height() // 3)
    qtbot.mouseMove(view.canvas, position)
    voxel = view.point_at(QPointF(position)).voxel
    qtbot.waitUntil(lambda: f"voxel (z,y,x) {voxel[0]}, {voxel[1]}, {voxel[2]}" in window.pointer_label.text(),
                    timeout=3000)
    assert f"Confidence {dock.overlay.volume_map[voxel]:.3f}" in window.pointer_label.text()


def test_settings_are_remembered(make_window, qtbot):
    first = make_window(plugins=[confidence.plugin])
    dock = confidence.plugin.dock
    dock.preset_box.setCurrentText("loss weight (thesis)")
    dock.sink_box.setCurrentText("min")
    dock.threshold_box.setValue(0.25)
    dock.share_box.setValue(0.7)
    dock.below_box.setChecked(True)
    dock.opacity_slider.setValue(80)
    dock.toggle_action.trigger()          # on, without a document: nothing to compute
    first.close()
    make_window(plugins=[confidence.plugin])
    again = confidence.plugin.dock
    assert again is not dock
    assert (again.alpha_box.value(), again.beta_box.value(), again.gamma_box.value()) == (0.5, 400.0, 0.05)
    assert again.preset_box.currentText() == "loss weight (thesis)" and again.sink_box.currentText() == "min"
    assert (again.threshold_box.value(), again.share_box.value()) == (0.25, 0.7)
    assert again.below_box.isChecked() and again.opacity_slider.value() == 80 and again.toggle_action.isChecked()
    assert again.overlay.below == pytest.approx(0.25) and again.overlay.opacity == pytest.approx(0.8)


def test_fan_shaped_frames_are_warned_about(make_window, data_dir, qtbot):
    from usannotator.io import read_volume

    for name, fan in (("UltrasonixCurvilinearScanConvertedData.igs.mha", True), ("BoneUltrasound_L14.igs.mha", False)):
        window = make_window(plugins=[confidence.plugin])      # one per file: they differ in shape
        volume = read_volume(data_dir / "plus" / name)
        open_document(window, Document(volume, np.zeros(volume.shape, np.uint16)), qtbot)
        assert ("Fan-shaped" in confidence.plugin.dock.warning.text()) == fan, name
