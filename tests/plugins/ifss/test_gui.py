"""The IFSS-Net dock in a real window with the shipped lite weights: slices stream into the preview
while the window stays responsive, the result equals the Qt-free propagation and is one undo step,
Cancel changes nothing, a correction recomputes only its two neighbouring stretches, bad weights
files and an absent GPU give clear messages.

Small demo volumes (48 x 64 x 64): a propagation takes a few seconds on two shared cores.
"""

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from tests.gui.pixels import grab
from usannotator.core.edits import Edit
from usannotator.core.provenance import Source
from usannotator.demo import demo_document
from usannotator.jobs import Progress
from usannotator_plugins import ifss
from usannotator_plugins.ifss.propagate import Propagator, document_inputs

pytestmark = pytest.mark.gui

LOCKED = 2      # GL: locked in the tests that need a protected muscle


@pytest.fixture
def window(make_window, qtbot):
    return make_window(plugins=[ifss.plugin])


@pytest.fixture
def dock(window):
    return ifss.plugin.dock


def open_demo(window, lock=False):
    document, _ = demo_document(3, size="small")
    if lock:
        document.label_table.update(LOCKED, locked=True)
    window.set_document(document)
    window.reset_views()
    return document


def propagate_and_wait(dock, qtbot, timeout=120000):
    handle = dock.propagate()
    assert handle is not None
    qtbot.waitUntil(lambda: dock.handle is None, timeout=timeout)
    return handle


def qt_free_result(document, labels_to_run):
    """The plugin's own propagation of the same input with the same (shipped) weights."""
    return Propagator().propagate(Progress(), labels_to_run=labels_to_run, **document_inputs(document))


def test_propagate_streams_slices_then_writes_one_edit(window, dock, qtbot, tmp_path):
    document = open_demo(window, lock=True)
    before = document.labels.copy()
    expected = qt_free_result(document, dock.labels_to_run(document)).applied_to(before)
    seen = {"ticks": 0, "mid_partials": 0, "mid_preview_voxels": 0}

    def sample():       # runs on the GUI thread while the job works: responsive, and the preview grows
        seen["ticks"] += 1
        if dock.handle is not None and dock.partials:
            seen["mid_partials"] = max(seen["mid_partials"], dock.partials)
            seen["mid_preview_voxels"] = max(seen["mid_preview_voxels"], int((dock.overlay.volume_map > 0).sum()))
            if seen["mid_partials"] > 5 and not (tmp_path / "mid.png").exists():
                window.save_screenshot(str(tmp_path / "mid.png"))

    timer = QTimer(window, interval=50)
    timer.timeout.connect(sample)
    timer.start()
    view = window.slice_views[0]
    handle = dock.propagate()
    qtbot.waitUntil(lambda: dock.partials > 0, timeout=60000)
    cursor = list(window.state.cursor)
    qtbot.keyClick(view.canvas, Qt.Key.Key_Up)      # the window still reacts to the keyboard mid-run
    assert window.state.cursor[view.axis] == min(cursor[view.axis] + 1, document.labels.shape[view.axis] - 1)
    assert dock.handle is handle
    qtbot.waitUntil(lambda: dock.handle is None, timeout=120000)
    timer.stop()

    assert seen["mid_partials"] > 0 and seen["mid_preview_voxels"] > 0
    assert seen["ticks"] > 10
    np.testing.assert_array_equal(document.labels, expected)
    assert not (dock.overlay.volume_map > 0).any()          # the preview makes way for the labels
    result = dock.last_result
    for label, zs in result.slices_written.items():
        keys = set(document.key_slices(label))
        filled = [z for z in zs if z not in keys]
        assert filled and (document.provenance.of(label)[filled] == Source.PROPAGATED).all()
    for label in (1, 3):
        keys = document.key_slices(label)
        np.testing.assert_array_equal(document.labels[keys] == label, before[keys] == label)
    np.testing.assert_array_equal(document.labels == LOCKED, before == LOCKED)
    assert LOCKED not in result.slices_written

    window.undo()                                            # one undo step takes all of it back
    np.testing.assert_array_equal(document.labels, before)
    assert not document.history.can_undo()


def test_the_threshold_setting_decides_the_written_muscles(window, dock, qtbot):
    document = open_demo(window)
    before = document.labels.copy()
    assert dock.threshold_box.value() == 0.25
    dock.threshold_box.setValue(0.5)
    expected = Propagator(threshold=0.5).propagate(
        Progress(), labels_to_run=dock.labels_to_run(document), **document_inputs(document)).applied_to(before)
    propagate_and_wait(dock, qtbot)
    assert np.array_equal(document.labels, expected)
    assert float(dock.settings.value("threshold")) == 0.5          # remembered for the next session


def test_cancel_mid_run_changes_nothing(window, dock, qtbot):
    document = open_demo(window)
    before = document.labels.copy()
    provenance = document.provenance.snapshot()
    dock.propagate()
    qtbot.waitUntil(lambda: dock.partials > 0, timeout=60000)
    dock.cancel_button.click()
    assert not (dock.overlay.volume_map > 0).any()          # the preview goes at once
    qtbot.waitUntil(lambda: dock.handle is None, timeout=30000)
    qtbot.wait(200)
    np.testing.assert_array_equal(document.labels, before)
    assert all(np.array_equal(a, document.provenance.of(v)) for v, a in provenance.items())
    assert not document.history.can_undo()
    assert "Cancelled" in dock.state_label.text()
    assert dock.propagate_button.isEnabled()


def correct_slice(document, label, z):
    """A hand edit of a propagated slice: a square of the muscle where its mask is (the tools' path)."""
    ys, xs = np.nonzero(document.labels[z] == label)
    y, x = int(ys.mean()), int(xs.mean())
    region = (slice(z, z + 1), slice(y - 6, y + 6), slice(x - 6, x + 6))
    document.apply_edit(Edit(region, label, description="correction", source=Source.MANUAL))
    assert document.provenance.of(label)[z] == Source.CORRECTED


def test_correction_recomputes_only_its_neighbouring_intervals(window, dock, qtbot):
    document = open_demo(window)
    propagate_and_wait(dock, qtbot)
    label = 1
    keys = [int(k) for k in document.key_slices(label)]
    low, high = keys[1], keys[2]
    z = (low + high) // 2
    correct_slice(document, label, z)
    after_correction = document.labels.copy()

    propagate_and_wait(dock, qtbot)
    result = dock.last_result
    assert result.slices_written == {label: [s for s in range(low + 1, high) if s != z]}
    assert result.chains_computed == 2                      # backward and forward from the correction
    outside = np.ones(document.labels.shape[0], bool)
    outside[low + 1:high] = False
    np.testing.assert_array_equal(document.labels[outside], after_correction[outside])
    assert document.provenance.of(label)[z] == Source.CORRECTED
    assert "corrected slice" in dock.state_label.text() or "Propagated" in dock.state_label.text()

    document.undo()                                        # not a hand edit: the next run is a full one
    document.undo()
    assert dock.last_run.corrections(document, tuple(dock.labels_to_run(document))) is None


def error_dialog(window, qtbot):
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=30000)
    box = window.findChild(QMessageBox, "errorDialog")
    text = box.text()
    box.close()
    box.setObjectName("seen")
    return text


@pytest.mark.parametrize("content", [None, b"not a torch file"], ids=["missing", "corrupt"])
def test_bad_weights_file_is_a_clear_error(window, dock, qtbot, tmp_path, content):
    document = open_demo(window)
    before = document.labels.copy()
    path = tmp_path / "weights.pt"
    if content is not None:
        path.write_bytes(content)
    dock.load_weights(path)
    qtbot.waitUntil(lambda: dock.handle is None, timeout=30000)
    text = error_dialog(window, qtbot)
    assert str(path) in text and ("not found" in text if content is None else "not a readable" in text)
    assert dock.weights_path is None and dock.weights_label.text() == "shipped lite weights"
    np.testing.assert_array_equal(document.labels, before)
    assert not document.history.can_undo()


def test_weights_of_another_configuration_are_refused(window, dock, qtbot, tmp_path):
    import dataclasses

    import torch
    from usannotator_plugins.ifss.config import LITE
    from usannotator_plugins.ifss.model import IFSSNet
    from usannotator_plugins.ifss.weights import save_weights

    open_demo(window)
    torch.manual_seed(0)
    path = save_weights(tmp_path / "other.pt", IFSSNet(dataclasses.replace(LITE, slice_size=32)))
    dock.load_weights(path)
    qtbot.waitUntil(lambda: dock.handle is None, timeout=30000)
    assert "configuration" in error_dialog(window, qtbot)
    assert dock.weights_path is None


def test_cuda_preference_without_a_gpu_says_so(window, dock, qtbot):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    open_demo(window)
    dock.device_box.setCurrentText("cuda")
    assert "No CUDA device" in error_dialog(window, qtbot)
    assert dock.device_box.currentText() == "auto"
    assert dock.settings.value("device", "auto") == "auto"


def test_adapt_then_propagate_uses_the_adapted_weights(window, dock, qtbot):
    document = open_demo(window)
    dock.steps_box.setValue(10)        # chains reach the next key slice within 10 windows
    dock.adapt_button.click()
    qtbot.waitUntil(lambda: dock.handle is None, timeout=120000)
    assert "loss" in dock.adapt_label.text() and "→" in dock.adapt_label.text()
    assert "adapted to this volume (10 steps)" in dock.weights_label.text()
    shipped = Propagator()
    shipped.ensure_model()
    assert dock.propagator.fingerprint != shipped.fingerprint
    propagate_and_wait(dock, qtbot)
    assert document.history.can_undo()


def test_screenshot_after_propagation(window, dock, qtbot, tmp_path):
    document = open_demo(window)
    propagate_and_wait(dock, qtbot)
    window.render_all()
    qtbot.wait(300)
    pixels = grab(window)
    assert pixels.std() > 5
    window.save_screenshot(str(tmp_path / "after.png"))
    assert document.history.can_undo()


def test_adapting_too_few_steps_to_meet_a_key_slice_says_so():
    from usannotator_plugins.ifss.adapt import AdaptResult
    from usannotator_plugins.ifss.gui import adapt_summary

    text = adapt_summary(AdaptResult(steps_done=2, losses=[], seconds=0.1, alpha=0.6, beta=0.4))
    assert "no key slice" in text and "nothing was learnt" in text
    assert "loss 0.500 → 0.300" in adapt_summary(AdaptResult(4, [0.5, 0.4, 0.35, 0.3], 1.0, 0.6, 0.4))
