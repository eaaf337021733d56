"""The method against the maps the authors' MATLAB code produced (spec section 9, tests 1-3)."""

import numpy as np
import pytest

from tests.plugins.confidence.conftest import REFERENCES, read_reference
from usannotator_plugins.confidence.algorithm import confidence_map


@pytest.fixture(scope="module", params=sorted(REFERENCES))
def reference(request, reference_dir):
    image, expected = read_reference(reference_dir, request.param)
    result = confidence_map(image, alpha=2.0, beta=90.0, gamma=REFERENCES[request.param], sink="all")
    return image, expected, result


def test_reproduces_the_reference_map(reference):
    _, expected, result = reference
    assert result.dtype == np.float64
    assert result.shape == expected.shape
    # the target is 1e-4; the reference is stored as float32, so ~3e-8 is the floor
    assert np.abs(result - expected).max() < 1e-4


def test_boundary_values_and_range(reference):
    _, _, result = reference
    assert np.isfinite(result).all()
    assert (result[0] == 1.0).all()
    assert (result[-1] == 0.0).all()
    assert result.min() >= 0.0 and result.max() <= 1.0


def test_maximum_principle(reference):
    """A walker's probability is the weighted mean of its neighbours', so no free pixel lies above
    all of its neighbours or below all of them."""
    _, _, cm = reference
    padded = np.pad(cm, 1, mode="edge")
    H, W = cm.shape
    neighbours = [padded[1 + dr:1 + dr + H, 1 + dc:1 + dc + W]
                  for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    high, low = np.max(neighbours, axis=0), np.min(neighbours, axis=0)
    free = cm[1:-1]
    assert (free <= high[1:-1] + 1e-12).all()
    assert (free >= low[1:-1] - 1e-12).all()


def test_gamma_matters(reference_dir):
    """Guard against a reference test that passes for any gamma: the neck map with the femur's
    gamma is far from the neck reference."""
    image, expected = read_reference(reference_dir, "neck")
    wrong = confidence_map(image, alpha=2.0, beta=90.0, gamma=REFERENCES["femur"])
    assert np.abs(wrong - expected).max() > 1e-2
