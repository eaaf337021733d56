"""The review list: slices where a label's border runs mostly through low confidence, worst first."""

import numpy as np
import pytest

from usannotator_plugins.confidence.review import (
    LOW_CONFIDENCE, MOSTLY, SliceToReview, label_border, review_list,
)


def square_labels():
    """Slice z holds label 1 as the square rows 2..5, columns 2..5 (12 border pixels), label 2 on
    slices 1 and 2 as rows 8..9, columns 1..8."""
    labels = np.zeros((4, 12, 10), np.uint8)
    labels[:, 2:6, 2:6] = 1
    labels[1:3, 8:10, 1:9] = 2
    return labels


def test_border_is_the_4_connected_outline():
    mask = np.zeros((1, 6, 6), bool)
    mask[0, 1:5, 1:5] = True
    border = label_border(mask)[0]
    assert border.sum() == 12
    assert not border[2:4, 2:4].any()


def test_the_image_edge_counts_as_outside():
    mask = np.ones((1, 3, 4), bool)
    assert label_border(mask).sum() == 10           # all but the two inner pixels


def test_shares_and_order():
    labels = square_labels()
    confidence = np.ones(labels.shape)
    confidence[0, 2, 2:6] = 0.05             # slice 0: top edge of the square low: 4 of 12
    confidence[1, 2:6, 2] = 0.05             # slice 1: left edge low...
    confidence[1, 2, 2:6] = 0.05             # ...and top edge: 7 of 12
    confidence[2, 2:6, 2:6] = 0.0            # slice 2: the whole square: 12 of 12
    confidence[2, 8:10, 1:9] = 0.09          # and all of label 2's border
    confidence[3] = 0.0                      # slice 3: low everywhere
    items = review_list(labels, confidence)
    assert items[:3] == [SliceToReview(2, 1, 1.0, 12), SliceToReview(2, 2, 1.0, 16),
                         SliceToReview(3, 1, 1.0, 12)]
    assert items[3] == SliceToReview(1, 1, pytest.approx(7 / 12), 12)
    assert len(items) == 4                   # slice 0 (4 of 12) is not "mostly" low


def test_threshold_and_share_are_settings():
    labels = square_labels()
    confidence = np.full(labels.shape, 0.15)
    assert review_list(labels, confidence) == []                         # 0.15 is not below 0.1
    assert len(review_list(labels, confidence, threshold=0.2)) == 6      # 4 slices x1 + 2 slices x2
    confidence[0, 2, 2:6] = 0.0
    assert [(i.slice, i.label) for i in review_list(labels, confidence, min_share=0.3)] == [(0, 1)]


def test_only_requested_labels_and_inside_the_field_of_view():
    labels = square_labels()
    confidence = np.zeros(labels.shape)
    assert {i.label for i in review_list(labels, confidence, values=[2])} == {2}
    inside = np.ones(labels.shape, bool)
    inside[:, :, :4] = False                 # columns 2, 3 of the square lie outside
    items = [i for i in review_list(labels, confidence, inside=inside) if i.label == 1]
    assert items and all(i.border_pixels == 6 for i in items)      # 2 in column 4, 4 in column 5


def test_sweep_along_another_axis():
    labels = square_labels()
    confidence = np.ones(labels.shape)
    confidence[2] = 0.0
    moved = review_list(np.moveaxis(labels, 0, 2), np.moveaxis(confidence, 0, 2), sweep_axis=2)
    assert moved == review_list(labels, confidence)


def test_defaults_follow_the_spec():
    assert LOW_CONFIDENCE == 0.1 and MOSTLY == 0.5


def test_shapes_must_match():
    with pytest.raises(ValueError, match="differ in shape"):
        review_list(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))
