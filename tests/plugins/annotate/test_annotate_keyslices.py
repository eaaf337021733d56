"""Key slices: clear, un-mark, mark, next/previous; and the Document's provenance-only edits."""

import numpy as np
import pytest

from usannotator.core import Document, Edit, LockedLabelError, Provenance, Source, Volume
from usannotator_plugins.annotate import keyslices


@pytest.fixture
def doc():
    labels = np.zeros((10, 6, 7), np.uint16)
    labels[2, 1:4, 1:4] = 1
    labels[5, 2:5, 2:6] = 1
    labels[5, 0, 0] = 2
    labels[8, 1:3, 1:3] = 2
    return Document(Volume(np.zeros(labels.shape, np.uint8)), labels,
                    provenance=Provenance.from_sparse_labels(labels))


def test_clear_erases_the_label_on_the_slice_and_keeps_it_a_key_slice(doc):
    change = doc.apply_edit(keyslices.clear_key_slice(doc, 1, 5))
    assert change.description == "Clear key slice GM, slice 5"
    assert not (doc.labels[5] == 1).any() and doc.labels[5, 0, 0] == 2 and (doc.labels[2] == 1).sum() == 9
    assert list(doc.key_slices(1)) == [2, 5]          # an empty key slice: "GM is absent here"
    doc.undo()
    assert (doc.labels[5] == 1).sum() == 12


def test_clear_and_unmark_is_one_undo_step(doc):
    before = doc.labels.copy()
    doc.apply_edit(keyslices.clear_key_slice(doc, 1, 5, unmark=True))
    assert list(doc.key_slices(1)) == [2] and not (doc.labels[5] == 1).any()
    doc.undo()
    np.testing.assert_array_equal(doc.labels, before)
    assert list(doc.key_slices(1)) == [2, 5]


def test_unmark_keeps_the_voxels_and_is_undoable(doc):
    doc.provenance.set(1, [5], Source.CORRECTED)
    labels = doc.labels.copy()
    change = doc.apply_edit(keyslices.unmark_key_slice(doc, 1, 5))
    assert change.description == "Unmark key slice GM, slice 5"
    np.testing.assert_array_equal(doc.labels, labels)
    assert doc.provenance.of(1)[5] == Source.NONE and list(doc.key_slices(1)) == [2]
    doc.undo()
    assert doc.provenance.of(1)[5] == Source.CORRECTED
    doc.redo()
    doc.apply_edit(keyslices.unmark_key_slice(doc, 1, 2, to=Source.INTERPOLATED))
    assert doc.provenance.of(1)[2] == Source.INTERPOLATED
    assert keyslices.unmark_key_slice(doc, 1, 2) is None           # not a key slice any more
    with pytest.raises(ValueError):
        keyslices.unmark_key_slice(doc, 2, 8, to=Source.MANUAL)


def test_mark_accepts_an_algorithms_slice(doc):
    doc.provenance.set(1, [3], Source.INTERPOLATED)
    doc.apply_edit(keyslices.mark_key_slice(doc, 1, 3))
    doc.apply_edit(keyslices.mark_key_slice(doc, 1, 7))
    assert doc.provenance.of(1)[3] == Source.CORRECTED and doc.provenance.of(1)[7] == Source.MANUAL
    assert keyslices.mark_key_slice(doc, 1, 2) is None


def test_locked_labels_keep_their_key_slices(doc):
    doc.label_table.update(1, locked=True)
    for operation in (keyslices.clear_key_slice, keyslices.unmark_key_slice, keyslices.mark_key_slice):
        with pytest.raises(LockedLabelError, match="GM is locked"):
            operation(doc, 1, 5)
    # the Document itself refuses a provenance edit on a locked label, whoever builds it
    empty = (slice(5, 6), slice(0, 0), slice(0, 0))
    with pytest.raises(LockedLabelError):
        doc.apply_edit(Edit(empty, 0, set_provenance={1: {5: Source.NONE}}))
    doc.apply_edit(Edit(empty, 0, source=Source.INTERPOLATED, slices_written={1: [6]}))
    assert doc.provenance.of(1)[6] == Source.NONE and list(doc.key_slices(1)) == [2, 5]


def test_a_provenance_edit_that_changes_nothing_is_no_undo_step(doc):
    empty = (slice(2, 3), slice(0, 0), slice(0, 0))
    assert doc.apply_edit(Edit(empty, 0, set_provenance={1: {2: Source.MANUAL}})) is None
    assert len(doc.history) == 0


def test_next_and_previous_key_slice(doc):
    assert keyslices.next_key_slice(doc, 2) == 5
    assert keyslices.next_key_slice(doc, 5, label=1) is None
    assert keyslices.next_key_slice(doc, 5) == 8
    assert keyslices.previous_key_slice(doc, 8, label=1) == 5
    assert keyslices.previous_key_slice(doc, 2) is None
    assert keyslices.next_key_slice(doc, 0, label=3) is None
