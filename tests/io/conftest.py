"""Fixtures for the files layer: a geometry that no default could fake, and small arrays."""

import numpy as np
import pytest
import SimpleITK as sitk

from usannotator.core import Geometry

# A proper rotation with exact decimal entries (columns: (0.6, 0.8, 0), (0, 0, 1), (0.8, -0.6, 0)).
ROTATION = (0.6, 0.0, 0.8, 0.8, 0.0, -0.6, 0.0, 1.0, 0.0)


@pytest.fixture
def geometry():
    """Anisotropic spacing, non-zero origin, non-identity direction."""
    return Geometry(spacing=(0.3, 0.7, 1.9), origin=(-12.5, 3.25, 40.0), direction=ROTATION)


@pytest.fixture
def labels():
    """(sweep, depth, lateral) = (4, 5, 6): GM, GL and SOL blocks on distinct slices."""
    out = np.zeros((4, 5, 6), np.uint8)
    out[0:2, 1:3, 1:3] = 1
    out[1:3, 2:5, 3:6] = 2
    out[3, 0:2, 0:6] = 3
    return out


@pytest.fixture
def sitk_file():
    return _sitk_file


@pytest.fixture
def same_geometry():
    return _same_geometry


def _sitk_file(array, path, geometry=None, vector=False):
    """Write a test file with SimpleITK directly (not through the code under test)."""
    image = sitk.GetImageFromArray(array, isVector=vector)
    if geometry is not None:
        image.SetSpacing(geometry.spacing)
        image.SetOrigin(geometry.origin)
        image.SetDirection(geometry.direction)
    sitk.WriteImage(image, str(path))
    return path


def _same_geometry(actual, expected, atol=0.0):
    """MetaImage is exact; NRRD stores direction times spacing (last-bit rounding); NIfTI stores float32."""
    for name in ("spacing", "origin", "direction"):
        np.testing.assert_allclose(getattr(actual, name), getattr(expected, name), rtol=0, atol=atol,
                                   err_msg=name)
