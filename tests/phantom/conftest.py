"""Small phantoms shared by the phantom tests (each takes a few hundredths of a second)."""

import pytest

from usannotator.phantom import generate_phantom

SEEDS = (0, 1, 2, 3, 4, 5)


@pytest.fixture(scope="session")
def small_phantoms():
    """Phantoms of the seeds above, by seed, generated once per session."""
    return {seed: generate_phantom(seed, size="small") for seed in SEEDS}


@pytest.fixture(params=SEEDS, ids=lambda seed: f"seed{seed}")
def small_phantom(request, small_phantoms):
    """Each of the small phantoms in turn: a test taking it runs once per seed."""
    return small_phantoms[request.param]
