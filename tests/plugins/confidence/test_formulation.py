"""The formulation on small images whose answer can be checked by hand (spec section 9, 4-6)."""

import numpy as np
import pytest

from usannotator_plugins.confidence.algorithm import (
    confidence_map, darkest_bottom_columns, edge_weights, normalised,
)


def speckle(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def test_constant_image_is_linear_in_depth():
    """All weights of one edge kind are equal, so each row's equation is that of a uniform 1D
    walk: CM = 1 - r / (H - 1) in every column."""
    cm = confidence_map(np.full((40, 30), 77, np.uint8))
    expected = np.repeat((1 - np.arange(40) / 39)[:, None], 30, axis=1)
    assert np.abs(cm - expected).max() < 1e-10


def test_two_rows_are_source_and_sink():
    cm = confidence_map(speckle((2, 7)))
    assert (cm[0] == 1).all() and (cm[1] == 0).all()


def test_uniform_column_decreases_with_depth():
    """A bright band in a uniform image: confidence falls down every scan line, and much faster
    below the band than above it (the band is a reflector)."""
    image = np.full((60, 20), 40, np.uint8)
    image[25:28] = 250
    cm = confidence_map(image)
    assert (np.diff(cm, axis=0) <= 1e-12).all()
    drop_above = cm[5, 10] - cm[20, 10]
    drop_across = cm[24, 10] - cm[29, 10]
    assert drop_across > 3 * drop_above


def test_values_between_source_and_sink():
    cm = confidence_map(speckle((30, 25), seed=3))
    assert (cm[0] == 1).all() and (cm[-1] == 0).all()
    inner = cm[1:-1]
    assert (inner > 0).all() and (inner < 1).all()


def test_mirrored_image_gives_mirrored_map():
    image = speckle((35, 21), seed=4)
    for sink in ("all", "mid"):                     # W odd: the mid sink is its own mirror
        cm = confidence_map(image, sink=sink)
        mirrored = confidence_map(image[:, ::-1], sink=sink)
        assert np.abs(mirrored[:, ::-1] - cm).max() < 1e-10


def test_mid_sink_is_one_pixel():
    cm = confidence_map(speckle((30, 24), seed=5), sink="mid")
    assert np.flatnonzero(cm[-1] == 0).tolist() == [12]
    assert (cm[-1, :12] > 0).all()


def test_min_sink_is_the_darkest_bottom_pixel():
    image = np.full((30, 40), 120, np.uint8)
    image[-1, 25] = 3                       # darkest within 10 %..90 % of the width
    image[-1, 1] = 0                        # darker, but in the margin the reference code skips
    cm = confidence_map(image, sink="min")
    assert np.flatnonzero(cm[-1] == 0).tolist() == [25]


def test_min_sink_takes_every_tie():
    image = np.full((20, 30), 90, np.uint8)
    image[-1, [5, 17]] = 10
    cm = confidence_map(image, sink="min")
    assert np.flatnonzero(cm[-1] == 0).tolist() == [5, 17]


def test_min_sink_on_narrow_frames_uses_the_whole_row():
    """[ours] The reference code fails for W < 10 (empty search range)."""
    row = np.array([5.0, 1.0, 7.0, 1.0])
    assert darkest_bottom_columns(row).tolist() == [1, 3]
    image = np.full((12, 4), 50, np.uint8)
    image[-1] = [60, 10, 70, 10]
    cm = confidence_map(image, sink="min")
    assert np.flatnonzero(cm[-1] == 0).tolist() == [1, 3]


def test_mask_sink_zeroes_exactly_the_mask():
    image = speckle((30, 30), seed=6)
    mask = np.zeros(image.shape, bool)
    mask[20:23, 10:14] = True
    mask[0, 5] = True                       # on the source row: stays a source
    cm = confidence_map(image, sink="mask", sink_mask=mask)
    assert (cm[mask & (np.arange(30)[:, None] > 0)] == 0).all()
    assert cm[0, 5] == 1
    assert (cm[~mask][30:] > 0).all()       # every other pixel below row 0
    assert (cm[-1] > 0).all()               # the bottom row is not a sink in this mode


def test_mask_sink_needs_a_mask_below_row_0():
    image = speckle((10, 10))
    with pytest.raises(ValueError, match="needs a sink mask"):
        confidence_map(image, sink="mask")
    only_top = np.zeros((10, 10), bool)
    only_top[0] = True
    with pytest.raises(ValueError, match="no pixel below the top row"):
        confidence_map(image, sink="mask", sink_mask=only_top)


def test_weights_follow_the_reference_code():
    """In a homogeneous patch of an image with some contrast, differences are 0: vertical edges
    weigh exp(0) + 1e-5 and the other kinds exp(-beta * gamma / (1 + gamma)) + 1e-5, about 0.014
    with the defaults (spec 3.6), since the largest normalised cost is 1 + gamma."""
    cost = np.zeros((6, 7))
    cost[-1, -1] = 1.0
    down, right, down_right, down_left = edge_weights(cost, beta=90.0, gamma=0.05)
    assert np.allclose(down[:3, :4], 1 + 1e-5)
    side = np.exp(-90 * 0.05 / 1.05) + 1e-5
    for w in (right, down_right, down_left):
        assert np.allclose(w[:3, :4], side)
    assert abs(side - 0.0138) < 1e-4


def test_a_constant_image_has_no_preferred_direction_left():
    """With no contrast at all the penalty itself is the largest cost, so it normalises to 1:
    sideways steps get the floor weight 1e-5 (the reference code does the same)."""
    down, right, _, _ = edge_weights(np.zeros((4, 5)), beta=90.0, gamma=0.05)
    assert np.allclose(down, 1 + 1e-5)
    assert np.allclose(right, np.exp(-90.0) + 1e-5)


def test_normalisation_maps_a_constant_image_to_zero():
    assert (normalised(np.full((3, 4), 9.0)) == 0).all()


def test_rf_mode_uses_the_envelope():
    """An RF line oscillates around zero; its envelope is smooth, so RF mode sees no edges where
    B mode sees one at every zero crossing."""
    rows = np.arange(64)[:, None]
    rf = np.sin(rows * 0.9) * np.ones((1, 8))
    b_mode = confidence_map(rf, mode="B")
    rf_mode = confidence_map(rf, mode="RF")
    linear = 1 - np.arange(64) / 63
    assert np.abs(rf_mode[:, 4] - linear).max() < np.abs(b_mode[:, 4] - linear).max()


@pytest.mark.parametrize("bad, why", [
    (np.zeros((1, 10)), "at least 2 rows"),
    (np.zeros((5, 5, 3)), "2D grey image"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
])
def test_bad_frames_are_refused_clearly(bad, why):
    with pytest.raises(ValueError, match=why):
        confidence_map(bad)


@pytest.mark.parametrize("kwargs", [{"alpha": 0}, {"beta": -1}, {"gamma": -0.1}, {"sink": "top"},
                                    {"mode": "C"}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        confidence_map(speckle((5, 5)), **kwargs)
