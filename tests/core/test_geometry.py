import numpy as np

from usannotator.core import Geometry
from usannotator.core.geometry import slice_of, slice_region, voxel_at


def test_index_world_round_trip_with_rotation():
    c, s = np.cos(0.3), np.sin(0.3)
    g = Geometry((0.3, 0.4, 0.5), (10, -5, 2), (c, -s, 0, s, c, 0, 0, 0, 1))
    idx = np.array([[3.0, 7.0, 11.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(g.world_to_index(g.index_to_world(idx)), idx, atol=1e-9)
    np.testing.assert_allclose(g.index_to_world([0, 0, 0]), (10, -5, 2))
    # numpy (z, y, x) index 1 along x moves by spacing x along the first direction column
    np.testing.assert_allclose(g.index_to_world([0, 0, 1]) - g.index_to_world([0, 0, 0]), (0.3 * c, 0.3 * s, 0))


def test_slices_and_voxels_agree_for_every_orientation():
    a = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    for axis in range(3):
        sl = slice_of(a, axis, 1)
        for row in range(sl.shape[0]):
            for col in range(sl.shape[1]):
                assert sl[row, col] == a[voxel_at(axis, 1, row, col)]
        region = slice_region(axis, 1, slice(0, 2), slice(1, 3))
        assert a[region].size == 4
    assert slice_of(a, 2, 0).shape == (4, 3)   # lateral view: depth down, sweep across
