"""Sparse key slices: every K-th slice of each label's extent, and always its first and last."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usannotator.phantom import key_slice_indices, sparse_key_slices


def _labels_on(n_slices, spans, shape=(6, 7)):
    """A label map whose label i+1 fills part of each slice from spans[i][0] to spans[i][1]."""
    truth = np.zeros((n_slices,) + shape, dtype=np.uint8)
    for i, (first, last) in enumerate(spans):
        truth[first:last + 1, i, : i + 2] = i + 1
    return truth


def test_key_slices_of_an_extent():
    truth = _labels_on(40, [(3, 25)])
    assert key_slice_indices(truth, 1, every=10).tolist() == [3, 13, 23, 25]
    truth = _labels_on(40, [(3, 23)])
    assert key_slice_indices(truth, 1, every=10).tolist() == [3, 13, 23]     # last listed once
    assert key_slice_indices(truth, 2, every=10).size == 0                  # absent label
    assert key_slice_indices(_labels_on(40, [(5, 5)]), 1, every=3).tolist() == [5]


def test_every_must_be_positive():
    with pytest.raises(ValueError):
        key_slice_indices(_labels_on(10, [(0, 9)]), 1, every=0)


@settings(max_examples=40, deadline=None)
@given(n_slices=st.integers(5, 60), every=st.integers(1, 15), data=st.data())
def test_sparse_keeps_exactly_the_key_slices_of_each_label(n_slices, every, data):
    spans = []
    for _ in range(3):
        first = data.draw(st.integers(0, n_slices - 1))
        spans.append((first, data.draw(st.integers(first, n_slices - 1))))
    truth = _labels_on(n_slices, spans)
    sparse = sparse_key_slices(truth, every=every)
    assert sparse.dtype == truth.dtype and sparse.shape == truth.shape
    for label, (first, last) in enumerate(spans, start=1):
        expected = set(range(first, last + 1, every)) | {last}
        kept = {z for z in range(n_slices) if (sparse[z] == label).any()}
        assert kept == expected
        for z in kept:          # a key slice keeps the label's whole mask, nothing else moves
            assert np.array_equal(sparse[z] == label, truth[z] == label)
    assert np.all((sparse == 0) | (sparse == truth))


def test_sparse_along_another_sweep_axis():
    truth = _labels_on(30, [(2, 21), (0, 29)])
    along_last = np.moveaxis(truth, 0, 2)
    sparse = sparse_key_slices(along_last, every=7, sweep_axis=2)
    assert np.array_equal(sparse, np.moveaxis(sparse_key_slices(truth, every=7), 0, 2))
    assert key_slice_indices(along_last, 1, every=7, sweep_axis=2).tolist() == [2, 9, 16, 21]


def test_sparse_of_a_phantom(small_phantoms):
    truth = small_phantoms[0].truth
    sparse = sparse_key_slices(truth, every=10)
    for label in (1, 2, 3):
        keys = key_slice_indices(truth, label, every=10)
        assert keys[0] == small_phantoms[0].extents[label][0]
        assert keys[-1] == small_phantoms[0].extents[label][1]
        kept = np.flatnonzero((sparse == label).any(axis=(1, 2)))
        assert np.array_equal(kept, keys)
