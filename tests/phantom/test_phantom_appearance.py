"""What the phantom looks like: bright fascia, faint stretches, bone shadow, attenuation."""

import numpy as np
import pytest
from scipy import ndimage

from usannotator.phantom import Tissue, generate_phantom


def _mean_near(image, where, around, radius=3):
    """Mean intensity of `where` voxels, and of `around` voxels within `radius` of them."""
    near = ndimage.binary_dilation(where, iterations=radius) & around
    return image[where].mean(), image[near].mean()


def test_visible_fascia_is_brighter_than_the_muscle_beside_it(small_phantom):
    p = small_phantom
    image = p.volume.array.astype(float)
    fascia, muscle = _mean_near(image, p.fascia == 1, p.truth > 0)
    assert fascia > muscle + 60


def test_faint_fascia_looks_like_the_muscle_beside_it(small_phantom):
    p = small_phantom
    image = p.volume.array.astype(float)
    bright, _ = _mean_near(image, p.fascia == 1, p.truth > 0)
    faint, muscle = _mean_near(image, p.fascia == 2, p.truth > 0)
    assert (p.fascia == 2).sum() > 200
    # Much nearer the muscle than the bright fascia: an edge detector should not find it.
    assert abs(faint - muscle) < 0.2 * (bright - muscle)


def test_faint_stretches_are_a_minority_of_the_fascia(small_phantom):
    fascia = small_phantom.fascia
    share = (fascia == 2).sum() / (fascia > 0).sum()
    assert 0.05 < share < 0.5


def test_bone_shadow_is_darker_than_the_muscle_above_it(small_phantom):
    p = small_phantom
    image = p.volume.array.astype(float)
    shadow = p.tissue == Tissue.SHADOW
    columns = shadow.any(axis=1)[:, None, :]
    muscle_above = (p.truth > 0) & columns
    assert shadow.sum() > 1000 and muscle_above.sum() > 1000
    assert image[shadow].mean() < 0.5 * image[muscle_above].mean()
    assert image[p.tissue == Tissue.BONE].mean() > image[muscle_above].mean() + 60


def test_water_above_the_skin_is_dark_and_skin_bright(small_phantoms):
    p = small_phantoms[0]
    image = p.volume.array.astype(float)
    assert image[p.tissue == Tissue.WATER].mean() < 10
    assert image[p.tissue == Tissue.SKIN].mean() > image[p.truth > 0].mean() + 40
    assert image[p.tissue == Tissue.FAT].mean() < image[p.truth > 0].mean()


def test_more_attenuation_darkens_the_deep_tissue_only_in_appearance():
    weak = generate_phantom(3, size="small", attenuation_db=4.0)
    strong = generate_phantom(3, size="small", attenuation_db=20.0)
    assert np.array_equal(weak.truth, strong.truth)       # appearance options leave anatomy alone
    deep = weak.tissue == Tissue.DEEP
    rows = np.arange(weak.truth.shape[1])[None, :, None]
    lower, upper = deep & (rows > 40), (weak.truth > 0) & (rows < 20)
    ratio = [p.volume.array[lower].mean() / p.volume.array[upper].mean() for p in (weak, strong)]
    assert ratio[1] < ratio[0] - 0.1


def test_speckle_strength_sets_the_grain():
    soft = generate_phantom(4, size="small", speckle=0.2)
    full = generate_phantom(4, size="small", speckle=1.0)
    sol = soft.truth == 3
    assert full.volume.array[sol].std() > 1.5 * soft.volume.array[sol].std()


def test_speckle_is_spatially_correlated(small_phantoms):
    image = small_phantoms[0].volume.array.astype(float)
    block = image[10:40, 40:60, 10:54]     # deep tissue, away from the skin
    centred = block - block.mean()
    lateral = (centred[:, :, 1:] * centred[:, :, :-1]).mean() / centred.var()
    assert lateral > 0.2            # neighbours share grain, unlike white noise
