"""Autosave in the real window: one journal record per stroke, no journal after a normal close, the
Restore / Discard / Later offer on opening an image and at start-up, a damaged journal, a full disk."""

import errno
import time

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from tests.gui.pixels import show
from tests.plugins.annotate.gui_driver import stroke, use_tool
from usannotator.core import Document
from usannotator.io.journal import Journal, find_recovery, read_records
from usannotator_plugins import annotate
from usannotator_plugins.annotate import tools
from usannotator_plugins.annotate.tools import ViewSlice

pytestmark = pytest.mark.gui

PATHS = [[(10, 10), (14, 16)], [(20, 5), (20, 30)], [(30, 10), (36, 12)]]


def paint_strokes(window, qtbot, paths=PATHS, label=2):
    window.state.set_cursor((0, 17, 2))
    window.label_panel.set_active_label(label)
    use_tool(window, "brush").brush.set_radius(1.5)
    for path in paths:
        stroke(qtbot, window.slice_views[0], path)


def left_by_a_crash(document, n_edits: int) -> list:
    """An autosave as a session that did not close would leave it: n brush edits through the journal.
    Returns the labels after each edit (index 0: before any)."""
    journal = Journal.start(document)
    states = [document.labels.copy()]
    for i in range(n_edits):
        document.apply_edit(tools.brush(document, ViewSlice(0, 3 + i), [(8, 8), (12, 20)], 2, 1 + i % 3))
        states.append(document.labels.copy())
    journal.close(clean=False)
    return states


def reopened(document) -> Document:
    """The same image opened again, with the labels it had on disk."""
    return Document(document.volume, np.zeros(document.labels.shape, np.uint16))


@pytest.fixture
def window(make_window):
    return make_window(plugins=[annotate.plugin])


def test_each_stroke_is_one_journal_record_and_a_normal_close_leaves_none(annotator, qtbot):
    journal = annotator.autosave.journal
    assert journal is not None and journal.snapshot_path.exists()
    paint_strokes(annotator, qtbot)
    annotator.undo_action.trigger()
    assert annotator.autosave.wait(5)
    records = read_records(journal.journal_path).records
    assert [(m["type"], m.get("kind")) for m, _ in records] == [("journal", None)] + [("change", "do")] * 3 + \
        [("change", "undo")]
    assert records[1][0]["description"] == "Brush GL, slice 0"
    annotator.document.modified = False     # the user chose not to save
    annotator.close()
    assert not journal.snapshot_path.exists() and not journal.journal_path.exists()


def test_opening_an_image_with_an_autosave_offers_to_restore_it(window, small_document, qtbot):
    states = left_by_a_crash(small_document, 3)
    show(window, reopened(small_document), qtbot)
    offer = window.autosave.offer
    assert offer is not None and offer.isVisible() and window.autosave.journal is None
    assert sorted(b.text() for b in offer.buttons()) == ["Discard", "Later", "Restore"]
    offer.choose("restore")
    np.testing.assert_array_equal(window.document.labels, states[-1])
    assert window.document.key_slices(1).tolist() == [3, 5] and window.document.modified   # drawn, painted over
    assert "Recovered the labels with 3 edit(s)" in window.statusBar().currentMessage()
    assert window.autosave.journal is not None, "autosave goes on after a restore"
    assert window.slice_views[0].document is window.document


def test_discard_keeps_the_labels_as_opened_and_autosaves_afresh(window, small_document, qtbot):
    left_by_a_crash(small_document, 2)
    fresh = reopened(small_document)
    show(window, fresh, qtbot)
    window.autosave.offer.choose("discard")
    assert not fresh.labels.any() and window.autosave.journal is not None
    assert read_records(window.autosave.journal.journal_path).records[1:] == [], "the old edits are gone"


def test_later_keeps_the_autosave_and_says_autosave_is_off(window, small_document, qtbot):
    left_by_a_crash(small_document, 2)
    show(window, reopened(small_document), qtbot)
    window.autosave.offer.choose("later")
    assert window.autosave.journal is None
    assert window.autosave.warning.isVisible() and "Autosave is off" in window.autosave.warning.text()
    window.document.modified = False
    window.close()
    assert find_recovery(small_document.volume) is not None, "Later must keep the autosave for next time"


def test_a_damaged_journal_restores_what_is_valid_and_says_what_was_lost(window, small_document, qtbot):
    states = left_by_a_crash(small_document, 4)
    info = find_recovery(small_document.volume)
    data = info.journal_path.read_bytes()
    info.journal_path.write_bytes(data[:-40])       # the last record cut short, as by a crash mid-write
    show(window, reopened(small_document), qtbot)
    window.autosave.offer.choose("restore")
    np.testing.assert_array_equal(window.document.labels, states[3])
    report = window.findChild(QMessageBox, "recoveryReport")
    assert report is not None and report.isVisible()
    assert "Recovered the labels with 3 edit(s)" in report.text() and "could not be recovered" in report.text()


def test_an_autosave_damaged_beyond_reading_is_set_aside_and_autosave_goes_on(window, small_document, qtbot):
    left_by_a_crash(small_document, 2)
    snapshot = Journal(small_document).snapshot_path
    snapshot.write_bytes(b"USAJ" + bytes(40))         # not even its header can be read
    show(window, reopened(small_document), qtbot)
    assert window.autosave.offer is None and window.autosave.journal is not None
    assert snapshot.with_name(snapshot.name + ".damaged").read_bytes().startswith(b"USAJ")
    error = window.findChild(QMessageBox, "errorDialog")
    assert error is not None and "set aside" in error.text()


def test_at_start_up_every_autosave_is_offered_and_restore_opens_its_image(window, tmp_path, qtbot):
    from usannotator.io import read_volume
    from usannotator.phantom import write_demo

    image = write_demo(tmp_path, size="small")["image"]
    crashed = Document(read_volume(image))
    states = left_by_a_crash(crashed, 2)
    window.autosave.offer_pending()
    offer = window.autosave.offer
    assert offer is not None and "image.nii.gz" in offer.text()
    offer.choose("restore")
    qtbot.waitUntil(lambda: window.document is not None and window.autosave.journal is not None, timeout=20000)
    np.testing.assert_array_equal(window.document.labels, states[-1])
    assert window.autosave.offer is None, "a restore chosen at start-up must not be asked again"


class FullDisk:
    """A journal file on a disk that has just filled up: every write fails with ENOSPC."""

    def __init__(self, path, mode):
        self.file = open(path, mode)

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.file, name)


def full_disk_opener(path, mode):
    return FullDisk(path, mode) if mode == "ab" else open(path, mode)


def test_a_full_disk_is_reported_and_painting_goes_on(window, small_document, qtbot):
    window.autosave.journal_options = {"opener": full_disk_opener}
    show(window, small_document, qtbot)
    paint_strokes(window, qtbot, PATHS[:1])
    warning = window.autosave.warning
    qtbot.waitUntil(warning.isVisible, timeout=5000)
    assert "the disk is full" in warning.text() and "kept in memory" in warning.text()
    before = small_document.labels.copy()
    paint_strokes(window, qtbot, PATHS[1:])
    assert (small_document.labels != before).any() and len(small_document.history) == 3
    window.undo_action.trigger()
    window.undo_action.trigger()
    np.testing.assert_array_equal(small_document.labels, before)
    assert warning.isVisible()


class SlowDisk(FullDisk):
    """A journal file on a disk that takes 0.2 s per write."""

    def write(self, data):
        time.sleep(0.2)
        return self.file.write(data)


def test_a_slow_disk_does_not_hold_up_editing_and_keeps_the_order(qapp, small_document, tmp_path):
    from usannotator.gui.autosave import BackgroundJournal

    def opener(path, mode):
        return SlowDisk(path, mode) if mode == "ab" else open(path, mode)

    journal = BackgroundJournal.start(small_document, tmp_path, opener=opener)
    t0 = time.perf_counter()
    for z in range(4):
        small_document.apply_edit(tools.brush(small_document, ViewSlice(0, z), [(17, 3), (17, 9)], 1, 1))
    assert time.perf_counter() - t0 < 0.4, "editing waited for the disk (4 writes take 0.8 s)"
    assert not journal.wait(0.05) and journal.wait(5)
    described = [m["description"] for m, _ in read_records(journal.journal_path).records[1:]]
    assert described == [f"Brush GM, slice {z}" for z in range(4)]
    journal.close()
    assert not journal.journal_path.exists()
