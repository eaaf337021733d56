"""Interpolation on a Document: one undoable edit, provenance, locks, preview without side effects."""

import numpy as np
import pytest

from tests.plugins.zoi.conftest import ALL_METHODS, key_slices_of
from usannotator.core import Document, Edit, Geometry, Provenance, Source, Volume
from usannotator.jobs import run_inline
from usannotator_plugins.zoi import interpolate, interpolate_document, make_job, result_to_edit


def open_document(sparse):
    image = (np.random.default_rng(0).random(sparse.shape) * 255).astype(np.uint8)
    volume = Volume(image, Geometry((0.4, 0.3, 0.6), (1.0, 2.0, 3.0)))
    return Document(volume, sparse, provenance=Provenance.from_sparse_labels(sparse))


def state(document):
    return document.labels.copy(), document.provenance.snapshot()


def same_state(a, b):
    return np.array_equal(a[0], b[0]) and a[1].keys() == b[1].keys() and \
        all(np.array_equal(a[1][v], b[1][v]) for v in a[1])


@pytest.mark.parametrize("method", ALL_METHODS)
def test_one_edit_fills_the_gaps_marks_them_interpolated_and_undo_restores_exactly(method, sparse):
    document = open_document(sparse)
    before = state(document)
    result, change = interpolate_document(document, method=method)
    expected = interpolate(sparse, key_slices_of(sparse), method=method, spacing=(0.6, 0.3, 0.4))
    assert np.array_equal(document.labels, expected.apply_to(sparse))
    assert len(document.history) == 1 and change is not None
    for label, keys in key_slices_of(sparse).items():
        sources = document.provenance.of(label)
        assert (sources[keys] == Source.MANUAL).all()
        assert (sources[result.slices_written[label]] == Source.INTERPOLATED).all()
        outside = np.setdiff1d(np.arange(sparse.shape[0]), np.r_[keys, result.slices_written[label]])
        assert (sources[outside] == Source.NONE).all()
    after = state(document)
    document.undo()
    assert same_state(state(document), before)
    document.redo()
    assert same_state(state(document), after)


def test_preview_then_discard_leaves_the_document_as_it_was(sparse):
    document = open_document(sparse)
    before = state(document)
    result = run_inline(make_job(document, method="zoi"))
    assert result.n_changed > 0
    assert same_state(state(document), before)
    assert len(document.history) == 0 and not document.modified
    document.apply_edit(result_to_edit(result))              # the user pressed Apply after all
    assert np.array_equal(document.labels, result.apply_to(sparse))


def test_a_label_locked_in_the_table_is_left_alone(sparse):
    document = open_document(sparse)
    document.label_table.update(2, locked=True)
    provenance_before = document.provenance.of(2).copy()
    result, _ = interpolate_document(document)
    assert np.array_equal(document.labels == 2, sparse == 2)
    assert 2 not in result.slices_written
    assert np.array_equal(document.provenance.of(2), provenance_before)


def test_a_corrected_slice_is_a_key_slice_the_next_run_keeps(sparse):
    document = open_document(sparse)
    interpolate_document(document)
    keys = document.key_slices(1)
    z = int(keys[0] + keys[1]) // 2                            # a slice the first run filled
    plane = document.labels[z].copy()
    plane[plane == 1] = 0
    plane[2:6, 2:8] = 1                                       # the user redraws GM there
    whole_slice = (slice(z, z + 1), slice(0, plane.shape[0]), slice(0, plane.shape[1]))
    document.apply_edit(Edit(whole_slice, plane[np.newaxis]))
    assert document.provenance.of(1)[z] == Source.CORRECTED
    drawn = document.labels[z].copy()
    interpolate_document(document)
    assert np.array_equal(document.labels[z] == 1, drawn == 1)
    assert z in document.key_slices(1)


def test_the_edit_writes_only_what_the_interpolation_changes(sparse):
    document = open_document(sparse)
    result = run_inline(make_job(document))
    z = int(result.slices_written[3][0])
    document.labels[z, 0, 0] = 9                               # changed after the snapshot was taken
    document.apply_edit(result_to_edit(result))
    assert document.labels[z, 0, 0] == 9
