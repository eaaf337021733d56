"""The phantom's anatomy: labels where the muscles are, in the order the leg has them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from usannotator.phantom import GL, GM, OPTIONS, SOL, Tissue, generate_phantom


def test_same_seed_gives_identical_arrays():
    a, b = generate_phantom(7, size="small"), generate_phantom(7, size="small")
    for name in ("truth", "fascia", "tissue"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.volume.array, b.volume.array)
    assert a.options == b.options


def test_different_seeds_give_different_legs(small_phantoms):
    first, second = small_phantoms[0], small_phantoms[1]
    assert not np.array_equal(first.truth, second.truth)
    assert not np.array_equal(first.volume.array, second.volume.array)
    # Not just the noise: the muscles themselves differ in size.
    sizes = {seed: np.bincount(p.truth.ravel(), minlength=4)[1:] for seed, p in small_phantoms.items()}
    assert len({tuple(v) for v in sizes.values()}) == len(sizes)


def test_labels_are_the_three_muscles_and_only_on_muscle_tissue(small_phantom):
    p = small_phantom
    assert p.truth.dtype == np.uint8 and p.truth.shape == p.volume.shape
    assert set(np.unique(p.truth)) == {0, GM, GL, SOL}
    assert np.array_equal(p.truth > 0, p.tissue == Tissue.MUSCLE)
    assert not np.any(p.truth[p.fascia > 0])     # fascia separate muscles, they are not muscle


def test_soleus_lies_under_the_gastrocnemii(small_phantom):
    truth = small_phantom.truth
    mean_depth = {label: np.nonzero(truth == label)[1].mean() for label in (GM, GL, SOL)}
    assert mean_depth[SOL] > mean_depth[GM] and mean_depth[SOL] > mean_depth[GL]
    rows = np.arange(truth.shape[1])[None, :, None]
    for label in (GM, GL):
        # In every column holding both, the whole gastrocnemius head is above the whole soleus.
        lowest = np.where(truth == label, rows, -1).max(axis=1)
        highest_sol = np.where(truth == SOL, rows, truth.shape[1]).min(axis=1)
        both = (lowest >= 0) & (highest_sol < truth.shape[1])
        assert both.sum() > 50
        assert np.all(lowest[both] < highest_sol[both])


def test_gastrocnemii_lie_side_by_side_with_gm_medial(small_phantom):
    truth = small_phantom.truth
    both = [z for z in range(truth.shape[0]) if (truth[z] == GM).any() and (truth[z] == GL).any()]
    assert len(both) > 10
    for z in both:
        gm_columns = np.flatnonzero((truth[z] == GM).any(axis=0))
        gl_columns = np.flatnonzero((truth[z] == GL).any(axis=0))
        assert gm_columns.mean() < gl_columns.mean()          # GM on the left by default
        shared = min(gm_columns.max(), gl_columns.max()) - max(gm_columns.min(), gl_columns.min()) + 1
        assert max(shared, 0) <= 0.3 * min(gm_columns.size, gl_columns.size)


def test_gm_side_right_mirrors_the_leg(small_phantoms):
    left = small_phantoms[2]
    right = generate_phantom(2, size="small", gm_side="right")
    assert np.array_equal(right.truth, left.truth[:, :, ::-1])
    assert np.array_equal(right.volume.array, left.volume.array[:, :, ::-1])
    gm_x = np.nonzero(right.truth == GM)[2].mean()
    gl_x = np.nonzero(right.truth == GL)[2].mean()
    assert gm_x > gl_x


def test_soleus_runs_further_along_the_sweep(small_phantom):
    extents = small_phantom.extents
    length = {label: extents[label][1] - extents[label][0] + 1 for label in (GM, GL, SOL)}
    assert length[SOL] > length[GM] and length[SOL] > length[GL]
    assert extents[SOL][1] > max(extents[GM][1], extents[GL][1])     # down towards the ankle


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_muscles_taper_at_their_ends(seed):
    # Many thin slices, so that the ends of each muscle are sampled finely.
    p = generate_phantom(seed, shape=(150, 48, 48))
    for label, (first, last) in p.extents.items():
        area = (p.truth == label).sum(axis=(1, 2))
        assert area[first] < 0.15 * area.max() and area[last] < 0.15 * area.max(), label
        assert np.all(area[first:last + 1] > 0)          # no holes along the extent


def test_extents_match_the_labels(small_phantoms):
    p = small_phantoms[0]
    for label, (first, last) in p.extents.items():
        present = np.flatnonzero((p.truth == label).any(axis=(1, 2)))
        assert (first, last) == (present[0], present[-1])


def test_demo_size_holds_a_whole_leg():
    p = generate_phantom(0, size="demo")
    assert p.volume.shape == (200, 160, 192)
    assert p.geometry.spacing == (0.5, 0.5, 0.5)
    assert set(np.unique(p.truth)) == {0, GM, GL, SOL}
    assert np.any(p.tissue == Tissue.BONE) and np.any(p.tissue == Tissue.SHADOW)
    # At demo size the echoes are blurred by the beam's resolution: fascia must still stand out.
    image, muscle = p.volume.array.astype(float), p.truth > 0
    bright, faint = p.fascia == 1, p.fascia == 2
    beside = ndimage.binary_dilation(bright | faint, iterations=3) & muscle
    assert image[bright].mean() > image[beside].mean() + 40
    assert abs(image[faint].mean() - image[beside].mean()) < 15


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), extreme=st.sampled_from(["low", "high", None]))
def test_any_seed_and_option_extreme_gives_a_whole_leg(seed, extreme):
    options = {name: getattr(o, extreme) for name, o in OPTIONS.items()} if extreme else {}
    p = generate_phantom(seed, size="small", **options)
    assert set(np.unique(p.truth)) == {0, GM, GL, SOL}
    assert set(np.unique(p.fascia)) == {0, 1, 2}
    length = {label: last - first for label, (first, last) in p.extents.items()}
    assert length[SOL] > max(length[GM], length[GL])
    depth = {label: np.nonzero(p.truth == label)[1].mean() for label in (GM, GL, SOL)}
    assert depth[SOL] > max(depth[GM], depth[GL])
    assert np.nonzero(p.truth == GM)[2].mean() < np.nonzero(p.truth == GL)[2].mean()
