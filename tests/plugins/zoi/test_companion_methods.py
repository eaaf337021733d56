"""The two comparison methods: shape-based (signed distance) and ITK's morphological interpolation."""

import sys

import numpy as np
import pytest

from tests.plugins.zoi.conftest import disc, needs_itk
from usannotator.core.errors import UserError
from usannotator_plugins.zoi.algorithm import LabelRun, interpolate
from usannotator_plugins.zoi.boxes import of_mask


def concentric(small=10, large=14, gap=10):
    labels = np.zeros((gap + 1, 40, 40), np.uint8)
    labels[0], labels[gap] = disc(small), disc(large)
    return labels


def test_sdf_grows_a_disc_steadily_between_its_keys():
    labels = concentric()
    out = interpolate(labels, {1: [0, 10]}, method="sdf").apply_to(labels)
    areas = (out == 1).sum(axis=(1, 2))
    assert (np.diff(areas) >= 0).all() and areas[9] > areas[1]
    assert abs(areas[5] - disc(12).sum()) <= 0.05 * disc(12).sum()     # halfway: radius 12


def test_sdf_uses_the_in_plane_spacing_in_mm():
    labels = np.zeros((11, 40, 40), np.uint8)
    labels[0] = disc(4, 40, (20, 20))
    y, x = np.mgrid[:40, :40]
    labels[10] = (np.abs(y - 20) <= 4) & (np.abs(x - 20) <= 16)      # a bar, long along x
    square = interpolate(labels, {1: [0, 10]}, method="sdf", spacing=(1, 1, 1)).apply_to(labels)
    stretched = interpolate(labels, {1: [0, 10]}, method="sdf", spacing=(1, 1, 4)).apply_to(labels)
    # x counts four times more in mm: the bar's ends are far from the disc and its sides near,
    # so the blend reaches along x sooner than with square pixels
    assert not np.array_equal(square, stretched)
    width = [(stretched[z] == 1).any(axis=0).sum() for z in (3, 5, 7)]
    assert width[0] <= width[1] <= width[2]


def test_sdf_shrinks_towards_an_empty_key():
    labels = np.zeros((11, 40, 40), np.uint8)
    labels[0] = disc(12)
    out = interpolate(labels, {1: [0, 10]}, method="sdf").apply_to(labels)
    areas = (out == 1).sum(axis=(1, 2))
    assert areas[1] > 0 and areas[10] == 0
    assert (np.diff(areas) <= 0).all()


@needs_itk
def test_morphological_interpolates_along_numpy_axis_0_of_a_non_cubic_volume():
    # 40 x 30 x 20: with ITK's axes swapped, the keys on numpy axis 0 would be read as slices of
    # another axis and the gaps stay empty or fill with the wrong shapes
    labels = np.zeros((40, 30, 20), np.uint8)
    y, x = np.mgrid[:30, :20]
    ellipse = lambda ry, rx: ((y - 15) / ry) ** 2 + ((x - 10) / rx) ** 2 <= 1   # noqa: E731
    for z, (ry, rx) in {5: (5, 3), 20: (10, 6), 35: (6, 4)}.items():
        labels[z] = ellipse(ry, rx)
    out = interpolate(labels, {1: [5, 20, 35]}, method="morphological").apply_to(labels)
    areas = (out == 1).sum(axis=(1, 2))
    assert (areas[6:35] > 0).all() and areas[:5].sum() == 0 and areas[36:].sum() == 0
    assert areas[5] < areas[12] < areas[20] and areas[20] > areas[25] > areas[35]
    assert (out[12] == 1).sum(axis=0).max() > (out[12] == 1).sum(axis=1).max()   # taller than wide


@needs_itk
def test_morphological_on_the_box_equals_itk_on_the_whole_stack():
    from usannotator_plugins.zoi.morphological import MorphologicalField, fill_between

    labels = np.zeros((21, 50, 60), np.uint8)
    labels[0][10:30, 10:25] = 1
    labels[10][disc(9, 60, (25, 30))[:50]] = 1
    labels[20][20:40, 30:55] = 1
    keys = np.array([0, 10, 20])
    field = MorphologicalField(labels, LabelRun(1, keys, of_mask((labels == 1).any(axis=0))))
    whole = fill_between((labels == 1).astype(np.uint8))
    for z in range(21):
        plane = np.zeros(labels.shape[1:], bool)
        plane[field.box] = field.filled[z]
        assert np.array_equal(plane, whole[z] == 1), z


def test_morphological_without_the_package_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "itk", None)           # as if it were not installed
    labels = concentric()
    with pytest.raises(UserError, match="pip install itk-morphologicalcontourinterpolation"):
        interpolate(labels, {1: [0, 10]}, method="morphological")
