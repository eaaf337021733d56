import numpy as np
import pytest

from usannotator.core import Document, Edit, LockedLabelError, OverwriteRule, Provenance, Source, Volume
from usannotator.core.errors import UserError


def box_edit(value, z, rows, cols, **kw):
    return Edit((slice(z, z + 1), rows, cols), value, description=f"paint {value}", **kw)


def test_edit_changes_labels_and_undo_redo_restore_exactly(small_document):
    doc = small_document
    before = doc.labels.copy()
    change = doc.apply_edit(box_edit(1, 10, slice(0, 8), slice(0, 8)))
    assert change is not None
    assert (doc.labels[10, 0:8, 0:8] == 1).all()
    after = doc.labels.copy()
    doc.undo()
    np.testing.assert_array_equal(doc.labels, before)
    doc.redo()
    np.testing.assert_array_equal(doc.labels, after)
    assert doc.history.undo_text() == "paint 1"


def test_undo_stores_only_the_changed_box(small_document):
    doc = small_document
    change = doc.apply_edit(box_edit(1, 10, slice(0, 40), slice(0, 3)))
    # labels 1 and 2 start at column 5: only the 3 columns that changed are stored
    assert change.before.shape == (1, 40, 3)


def test_hand_edit_marks_key_slices_and_corrected(small_document):
    doc = small_document
    doc.provenance.set(1, [12], Source.INTERPOLATED)
    doc.apply_edit(box_edit(1, 11, slice(0, 2), slice(0, 2)))
    doc.apply_edit(box_edit(1, 12, slice(0, 2), slice(0, 2)))
    assert doc.provenance.of(1)[11] == Source.MANUAL
    assert doc.provenance.of(1)[12] == Source.CORRECTED
    assert set(doc.key_slices(1)) == {11, 12}
    doc.undo()
    assert doc.provenance.of(1)[12] == Source.INTERPOLATED


def test_locked_label_is_never_changed(small_document):
    doc = small_document
    doc.label_table.update(2, locked=True)
    before = doc.labels.copy()
    # paint label 1 over a box covering label 2 and background
    doc.apply_edit(box_edit(1, 10, slice(0, 20), slice(20, 50)))
    assert ((before == 2) == (doc.labels == 2)).all()
    # erasing a locked label everywhere it is, or painting it, changes nothing and says so
    with pytest.raises(LockedLabelError):
        doc.apply_edit(Edit.whole_volume(np.where(before == 2, 0, doc.labels).astype(np.uint16)))
    with pytest.raises(LockedLabelError):
        doc.apply_edit(box_edit(2, 0, slice(0, 2), slice(0, 2)))


def test_overwrite_rules(small_document):
    doc = small_document
    doc.apply_edit(box_edit(3, 10, slice(0, 15), slice(0, 50), rule=OverwriteRule.BACKGROUND_ONLY))
    z = doc.labels[10]
    assert (z[5:15, 5:20] == 1).all() and (z[5:15, 25:45] == 2).all()   # muscles kept
    assert (z[0:5, :] == 3).all()                                       # background painted
    doc.label_table.update(1, visible=False)
    doc.apply_edit(box_edit(3, 11, slice(0, 15), slice(0, 50), rule=OverwriteRule.VISIBLE_UNLOCKED))
    z = doc.labels[11]
    assert (z[5:15, 5:20] == 1).all() and (z[5:15, 25:45] == 3).all()   # hidden label 1 protected
    doc.apply_edit(box_edit(3, 12, slice(0, 15), slice(0, 50), rule=OverwriteRule.EVERYTHING))
    assert (doc.labels[12, 0:15, :] == 3).all()


def test_algorithm_results_never_write_on_key_slices(small_document):
    doc = small_document
    doc.provenance = Provenance.from_sparse_labels(doc.labels)   # every labelled slice is a key slice
    doc.provenance.of(1)[:] = 0
    doc.provenance.set(1, [5, 24], Source.MANUAL)
    new = doc.labels.copy()
    new[:, 0:3, 0:3] = 1
    doc.apply_edit(Edit.whole_volume(new, source=Source.INTERPOLATED, slices_written={1: range(6, 24)}))
    assert (doc.labels[6:24, 0:3, 0:3] == 1).all()
    assert (doc.labels[5, 0:3, 0:3] == 0).all() and (doc.labels[24, 0:3, 0:3] == 0).all()
    assert (doc.provenance.of(1)[6:24] == Source.INTERPOLATED).all()
    assert doc.provenance.of(1)[5] == Source.MANUAL


def test_edit_that_changes_nothing_adds_no_undo_step(small_document):
    doc = small_document
    assert doc.apply_edit(box_edit(1, 10, slice(5, 6), slice(5, 6))) is None
    assert len(doc.history) == 0


def test_undo_memory_cap_drops_oldest_first(small_document):
    doc = Document(small_document.volume, undo_cap_bytes=10_000)
    for z in range(10):
        doc.apply_edit(box_edit(1, z, slice(0, 40), slice(0, 50)))   # 2 x 4 kB per step
    assert doc.history.nbytes <= 10_000
    assert 1 <= len(doc.history) < 10
    while doc.undo():
        pass
    assert (doc.labels[9] == 0).all()   # the newest steps were undone
    assert (doc.labels[0] == 1).all()   # the oldest were dropped from the history, so they stay


def test_bad_labels_are_refused_with_a_clear_message(small_document):
    vol = small_document.volume
    with pytest.raises(UserError, match="shape"):
        Document(vol, np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(UserError, match="integers"):
        Document(vol, np.zeros(vol.shape, np.float32))
    with pytest.raises(ValueError, match="3 dimensions"):
        Volume(np.zeros((4, 4)))


def test_events_announce_the_changed_region(small_document):
    doc = small_document
    seen = []

    class Listener:
        def on_change(self, region):
            seen.append(region)

    listener = Listener()
    doc.labels_changed.connect(listener.on_change)
    doc.apply_edit(box_edit(1, 3, slice(0, 2), slice(0, 2)))
    assert seen == [(slice(3, 4), slice(0, 2), slice(0, 2))]
