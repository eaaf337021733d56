"""Small synthetic muscles for the interpolation tests: discs and ellipsoids whose radii vary
along the sweep, with overlapping boxes so that neighbouring labels can compete."""

import numpy as np
import pytest

from usannotator.core.provenance import Provenance
from usannotator_plugins.zoi.morphological import available

needs_itk = pytest.mark.skipif(
    not available(), reason="the morphological method needs itk-morphologicalcontourinterpolation "
                            "(pip install itk-morphologicalcontourinterpolation)")
ALL_METHODS = ["zoi", "sdf", pytest.param("morphological", marks=needs_itk)]


def disc(radius, size=40, centre=None):
    cy, cx = centre if centre is not None else (size // 2, size // 2)
    y, x = np.mgrid[:size, :size]
    return (y - cy) ** 2 + (x - cx) ** 2 <= radius ** 2


def muscles(shape=(40, 36, 48)):
    """Three labels (1 GM, 2 GL side by side at the top, 3 SOL below) swelling along the sweep;
    GM and GL touch, SOL touches both, so their interpolations can claim the same voxels."""
    n, height, width = shape
    z, y, x = np.mgrid[:n, :height, :width].astype(float)
    t = z / (n - 1)
    truth = np.zeros(shape, np.uint8)
    specs = {3: ((0.15, 0.95), 0.68, 0.50, 0.22, 0.45),
             1: ((0.05, 0.85), 0.28, 0.28, 0.20, 0.26),
             2: ((0.10, 0.80), 0.28, 0.72, 0.18, 0.24)}
    for label, ((start, stop), cy, cx, ry, rx) in specs.items():
        s = np.clip((t - start) / (stop - start), 0, 1)
        swell = np.sin(np.pi * s) ** 0.5 + 0.05
        inside = ((y - cy * height) / (ry * height * swell)) ** 2 + ((x - (cx + 0.05 * s) * width)
                                                                     / (rx * width * swell)) ** 2 <= 1
        inside &= (t >= start) & (t <= stop)
        truth[inside] = label
    return truth


def sparse_every(truth, every):
    """Every `every`-th slice (and the last) of each label's extent, other slices empty."""
    sparse = np.zeros_like(truth)
    for label in np.unique(truth[truth > 0]):
        present = np.flatnonzero((truth == label).any(axis=(1, 2)))
        keys = np.union1d(np.arange(present[0], present[-1] + 1, every), [present[-1]])
        sparse[keys] = np.where(truth[keys] == label, label, sparse[keys])
    return sparse


def key_slices_of(sparse):
    provenance = Provenance.from_sparse_labels(sparse)
    return {label: provenance.key_slices(label) for label in provenance.labels()}


@pytest.fixture
def truth():
    return muscles()


@pytest.fixture
def sparse(truth):
    return sparse_every(truth, 6)
