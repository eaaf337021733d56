"""values_present: the label values of a map, exactly as np.unique finds them, without its sort."""

import numpy as np
import pytest

from usannotator.core import Document, Volume
from usannotator.core.document import values_present


@pytest.mark.parametrize("shape", [(1, 1, 1), (17, 5, 3), (40, 9, 11), (0, 4, 4), (3, 0, 2)])
def test_matches_np_unique_on_random_maps(shape):
    rng = np.random.default_rng(sum(shape))
    for top in (0, 1, 3, 63, 64, 700, 65535):
        labels = rng.integers(0, top + 1, size=shape).astype(np.uint16)
        # sparse: most slabs hold only background, a few a rare large value
        labels[rng.random(shape) < 0.7] = 0
        found = values_present(labels)
        assert found.dtype == labels.dtype
        np.testing.assert_array_equal(found, np.unique(labels))


def test_a_value_present_in_one_voxel_of_one_slab_is_found():
    labels = np.zeros((50, 6, 7), np.uint16)
    labels[33, 5, 6] = 2
    labels[49, 0, 0] = 64       # the first value counted instead of searched
    labels[2, 3, 3] = 63
    np.testing.assert_array_equal(values_present(labels), [0, 2, 63, 64])


def test_document_adds_every_value_to_its_label_table():
    labels = np.zeros((20, 4, 4), np.uint16)
    labels[19, 1, 1] = 9
    labels[0, 0, 0] = 1000
    doc = Document(Volume(np.zeros(labels.shape, np.uint8)), labels)
    assert {1, 2, 3, 9, 1000} <= set(doc.label_table.values())
    doc.replace_labels(np.where(labels == 9, 12, 0).astype(np.uint16))
    assert 12 in doc.label_table
