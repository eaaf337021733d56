"""Sizes, spacing and appearance options of the phantom generator."""

import numpy as np
import pytest

from usannotator.phantom import OPTIONS, generate_phantom


def test_small_size_and_explicit_shape_and_spacing():
    small = generate_phantom(0, size="small")
    assert small.volume.shape == (48, 64, 64)
    assert small.volume.array.dtype == np.uint8
    custom = generate_phantom(0, shape=(30, 40, 50), spacing=(1.0, 0.4, 0.3))
    assert custom.volume.shape == (30, 40, 50)
    assert custom.truth.shape == custom.fascia.shape == (30, 40, 50)
    assert custom.geometry.spacing == (0.3, 0.4, 1.0)       # ITK order (x, y, z)
    assert set(np.unique(custom.truth)) == {0, 1, 2, 3}
    assert generate_phantom(0, shape=(20, 32, 32)).geometry.spacing == (0.5, 0.5, 0.5)


def test_volume_says_which_axes_are_sweep_and_depth():
    volume = generate_phantom(0, size="small").volume
    assert (volume.sweep_axis, volume.depth_axis) == (0, 1)
    assert "seed 0" in volume.name


@pytest.mark.parametrize("bad", [dict(size="huge"), dict(shape=(10, 64, 64)), dict(shape=(20, 20)),
                                 dict(spacing=-1.0, size="small"), dict(gm_side="up", size="small")])
def test_bad_requests_are_refused(bad):
    with pytest.raises(ValueError):
        generate_phantom(0, **bad)


def test_unknown_option_is_refused():
    with pytest.raises(TypeError, match="contrastt"):
        generate_phantom(0, size="small", contrastt=1.0)


def test_options_are_drawn_within_their_ranges_and_vary_by_seed():
    drawn = [generate_phantom(seed, size="small").options for seed in range(4)]
    for name, option in OPTIONS.items():
        values = [d[name] for d in drawn]
        assert all(option.low <= v <= option.high for v in values), name
        assert len(set(values)) == len(values), name


def test_fixed_and_ranged_options():
    p = generate_phantom(1, size="small", speckle=0.5, muscle_scale=(1.0, 1.01))
    assert p.options["speckle"] == 0.5
    assert 1.0 <= p.options["muscle_scale"] <= 1.01


def test_fixing_one_option_keeps_the_others():
    free = generate_phantom(5, size="small")
    fixed = generate_phantom(5, size="small", dynamic_range_db=50.0)
    for name in OPTIONS:
        if name != "dynamic_range_db":
            assert fixed.options[name] == free.options[name], name
    assert np.array_equal(fixed.truth, free.truth)


def test_muscle_scale_makes_muscles_thicker():
    thin = generate_phantom(6, size="small", muscle_scale=0.85)
    thick = generate_phantom(6, size="small", muscle_scale=1.15)
    for label in (1, 2, 3):
        assert (thick.truth == label).sum() > 1.1 * (thin.truth == label).sum(), label
