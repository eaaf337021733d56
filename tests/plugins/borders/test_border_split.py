"""The distinct / completed split of a reference border (spec section 3 and its tests 1-4)."""

import numpy as np
import pytest

from usannotator.jobs import Cancelled, Progress
from usannotator_plugins.borders import split as split_module
from usannotator_plugins.borders.split import (BorderSplit, SplitParameters, edge_strength, edge_threshold,
                                               label_border, otsu, split_borders)


def half_visible_disc(noise=0.05, seed=0, radius=20, size=64, slices=3):
    """A disc whose upper half lies under a bright ring and whose lower half shows no edge."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    dist = np.hypot(yy - size // 2, xx - size // 2)
    image = 0.3 + noise * rng.standard_normal((slices, size, size))
    image[:, (np.abs(dist - radius - 0.5) < 1.5) & (yy < size // 2)] += 1.0
    labels = np.zeros(image.shape, np.uint8)
    labels[:, dist <= radius] = 1
    return image.astype(np.float32), labels


def brute_force_border(labels):
    """Label voxels with a 4-neighbour in the slice of another label, or on the slice's edge."""
    z, h, w = labels.shape
    out = np.zeros_like(labels)
    for k, y, x in np.argwhere(labels > 0):
        neighbours = [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
        if any(not (0 <= a < h and 0 <= b < w) or labels[k, a, b] != labels[k, y, x] for a, b in neighbours):
            out[k, y, x] = labels[k, y, x]
    return out


def test_border_is_the_one_voxel_inner_boundary_per_slice():
    rng = np.random.default_rng(3)
    labels = np.zeros((3, 20, 24), np.uint8)
    labels[:, 2:15, 0:10] = 1          # touches the lateral image edge
    labels[:, 5:18, 10:20] = 2         # touches muscle 1
    labels[1, 8:10, 12:14] = 0         # a hole
    labels[2] = rng.integers(0, 4, (20, 24))
    np.testing.assert_array_equal(label_border(labels), brute_force_border(labels))


@pytest.mark.parametrize("mode", ["2d", "3d"])
def test_every_border_voxel_has_exactly_one_muscle_and_one_kind(small_phantom, mode):
    labels = small_phantom.truth
    result = split_borders(small_phantom.volume.array, labels, SplitParameters(mode=mode))
    assert not np.any((result.distinct > 0) & (result.completed > 0))
    np.testing.assert_array_equal(result.border, label_border(labels, mode))
    on_border = result.border > 0
    np.testing.assert_array_equal(result.border[on_border], labels[on_border])
    assert result.distinct.dtype == labels.dtype and set(result.muscles) == {1, 2, 3}


def test_half_visible_disc_is_half_distinct():
    image, labels = half_visible_disc()
    shares = split_borders(image, labels).shares()[1]
    assert shares["distinct"] == pytest.approx(50.0, abs=10.0)
    assert shares["distinct"] + shares["completed"] == pytest.approx(100.0)


def test_the_visible_half_is_the_distinct_one():
    image, labels = half_visible_disc()
    result = split_borders(image, labels)
    # the ring stops at row 32; smoothing, Sobel and the 1-pixel tolerance spread its ends by ~3 rows
    assert np.mean(np.argwhere(result.distinct)[:, 1] < 36) > 0.95
    assert np.mean(np.argwhere(result.completed)[:, 1] >= 32) > 0.9


def test_raising_the_percentile_never_adds_distinct_voxels(small_phantom):
    counts = [np.count_nonzero(split_borders(small_phantom.volume.array, small_phantom.truth,
                                             SplitParameters(edge_percentile=p)).distinct)
              for p in (50, 70, 85, 90, 95, 99)]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]


def test_a_flat_image_has_no_distinct_border():
    labels = np.zeros((2, 20, 20), np.uint8)
    labels[:, 5:15, 5:15] = 3
    result = split_borders(np.full(labels.shape, 7.0), labels)
    assert result.threshold == 0.0 and not result.distinct.any()
    assert result.shares()[3]["completed"] == 100.0


def test_sweep_slices_are_split_independently_in_2d():
    image, labels = half_visible_disc(slices=4)
    image[2] = 0.3                                   # nothing visible on slice 2
    result = split_borders(image, labels)
    assert not result.distinct[2].any() and result.completed[2].any()
    assert result.distinct[1].any()


def test_slabs_give_the_same_answer_as_one_pass_in_3d(monkeypatch):
    image, labels = half_visible_disc(slices=9, noise=0.2)
    labels[4:, 10:20, 10:20] = 2
    parameters = SplitParameters(mode="3d", sigma_px=1.5, tol_px=2)
    whole = split_borders(image, labels, parameters)
    monkeypatch.setattr(split_module, "SLAB", 2)     # halos must make the slabs seamless
    pieces = split_borders(image, labels, parameters)
    np.testing.assert_array_equal(whole.distinct, pieces.distinct)
    assert whole.threshold == pieces.threshold


def test_field_of_view_keeps_empty_surroundings_out_of_the_threshold():
    image, labels = half_visible_disc()
    padded = np.zeros((3, 64, 128), np.float32)
    padded[:, :, :64] = image
    padded_labels = np.zeros(padded.shape, np.uint8)
    padded_labels[:, :, :64] = labels
    fov = np.zeros(padded.shape, bool)
    fov[:, :, :64] = True
    with_fov = split_borders(padded, padded_labels, field_of_view=fov)
    strength = edge_strength(padded, SplitParameters().sigma_px)
    assert with_fov.threshold == pytest.approx(np.percentile(strength[fov], SplitParameters().edge_percentile))
    without = split_borders(padded, padded_labels)
    assert without.threshold < with_fov.threshold    # zeros drag the percentile down
    with pytest.raises(ValueError, match="field of view"):
        edge_threshold(np.ones((2, 2, 2)), field_of_view=np.zeros((2, 2, 2), bool))


def test_otsu_cuts_between_two_modes():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(1.0, 0.1, 5000), rng.normal(5.0, 0.3, 1000)])
    assert 1.5 < otsu(values) < 4.0
    image, labels = half_visible_disc()
    shares = split_borders(image, labels, SplitParameters(threshold_method="otsu")).shares()[1]
    assert shares["distinct"] == pytest.approx(50.0, abs=10.0)


def test_parameters_are_checked_and_stored():
    with pytest.raises(ValueError, match="mode"):
        SplitParameters(mode="4d")
    with pytest.raises(ValueError, match="threshold_method"):
        SplitParameters(threshold_method="mean")
    with pytest.raises(ValueError, match="edge_percentile"):
        SplitParameters(edge_percentile=120)
    image, labels = half_visible_disc()
    summary = split_borders(image, labels, SplitParameters(sigma_px=2.0)).summary()
    assert summary["parameters"]["sigma_px"] == 2.0 and summary["threshold"] > 0
    assert summary["counts"]["1"]["distinct"] + summary["counts"]["1"]["completed"] == \
        np.count_nonzero(label_border(labels))
    with pytest.raises(ValueError, match="same 3D shape"):
        split_borders(image, labels[:2])


def test_cancel_stops_the_split():
    image, labels = half_visible_disc()
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        split_borders(image, labels, progress=progress)


def test_kind_lookup_refuses_unknown_kinds():
    result = BorderSplit(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2, 2), np.uint8), 0.0)
    with pytest.raises(ValueError, match="kind"):
        result.kind("visible")
