import threading

import numpy as np
import pytest

from usannotator.core import Edit, Source
from usannotator.jobs import Job

pytestmark = pytest.mark.gui


def slow_fill(progress, labels, gate):
    """Fills label 1 slice by slice; waits on `gate` after the first slice so the test can cancel."""
    out = labels.copy()
    for z in range(out.shape[0]):
        out[z, :3, :3] = 1
        progress.update((z + 1) / out.shape[0], f"slice {z}")
        if z == 0:
            gate.wait(5)
    return out


def test_cancelled_job_changes_nothing(window, small_document, qtbot):
    window.set_document(small_document)
    before = small_document.labels.copy()
    gate = threading.Event()
    results = []
    handle = window.host.run_job(Job("Fill", slow_fill, kwargs={"labels": before, "gate": gate}),
                                 on_result=lambda r: small_document.apply_edit(Edit.whole_volume(r)))
    handle.finished.connect(results.append)
    qtbot.waitUntil(lambda: handle.progress.fraction > 0, timeout=5000)
    handle.cancel()
    gate.set()
    qtbot.waitUntil(lambda: handle.state == "cancelled", timeout=5000)
    qtbot.wait(50)
    assert results == []
    np.testing.assert_array_equal(small_document.labels, before)
    assert len(small_document.history) == 0


def test_finished_job_is_one_undoable_edit_applied_on_the_gui_thread(window, small_document, qtbot):
    window.set_document(small_document)
    before = small_document.labels.copy()
    gate = threading.Event()
    gate.set()
    threads = []

    def apply(result):
        threads.append(threading.current_thread())
        small_document.apply_edit(Edit.whole_volume(result, source=Source.INTERPOLATED, description="Fill"))

    handle = window.host.run_job(Job("Fill", slow_fill, kwargs={"labels": before, "gate": gate}), on_result=apply)
    qtbot.waitUntil(lambda: handle.state == "finished", timeout=5000)
    qtbot.waitUntil(lambda: bool(threads), timeout=2000)
    assert threads == [threading.main_thread()]
    assert (small_document.labels[:, :3, :3] == 1).all()
    small_document.undo()
    np.testing.assert_array_equal(small_document.labels, before)


def test_failing_job_shows_an_error_dialog(window, small_document, qtbot):
    from PySide6.QtWidgets import QMessageBox

    def broken(progress):
        raise ValueError("the model file is corrupt")

    handle = window.host.run_job(Job("Broken", broken))
    qtbot.waitUntil(lambda: handle.state == "failed", timeout=5000)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "the model file is corrupt" in box.text()
    assert "ValueError" in box.detailedText()
    box.close()


def test_model_job_falls_back_to_the_cpu_after_out_of_memory(window, qtbot):
    """No GPU here: the out-of-memory is raised by the job itself on a non-CPU device (said so)."""
    devices = []

    def model_job(progress, device):
        devices.append(device)
        if device != "cpu":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return device

    window.runner.model_device = "auto"
    window.runner._model().device = "cuda"   # as a GPU machine would choose
    results = []
    handle = window.host.run_job(Job("Propagate", model_job, uses_model=True), on_result=results.append)
    seen = []
    handle.device_changed.connect(seen.append)
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert devices == ["cuda", "cpu"] and results == ["cpu"]


def test_many_progress_signals_do_not_crash_the_process():
    """PySide6 6.12.0 lost a reference to True per Python signal emit and aborted after ~1500
    emits (a 200-slice job sends more); the dependency excludes it. Run apart, so an abort is a failure."""
    import subprocess
    import sys

    code = ("from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
            "from usannotator.jobs import Job; from usannotator.gui.jobs import JobHandle; "
            "h = JobHandle(Job('many', lambda p: [p.update(i / 5000) for i in range(5000)])); "
            "h.execute(); app.processEvents(); print('done', h.state)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "done finished" in result.stdout, result.stderr[-500:]
