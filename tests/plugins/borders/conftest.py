"""Small leg phantoms for the border tests: their fascia map says which border stretches are
visible (1) and which are faint or missing (2), so the split has a truth to meet."""

import numpy as np
import pytest

from usannotator.io import read_labels, read_volume, write_labels
from usannotator.phantom import generate_phantom, write_demo

AGREEMENT_SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="session")
def small_phantom():
    return generate_phantom(0, size="small")


@pytest.fixture(scope="session")
def small_phantoms():
    return [generate_phantom(seed, size="small") for seed in AGREEMENT_SEEDS]


@pytest.fixture(scope="session")
def net():
    """The small U-Net of tiny_segmenter, trained once per session (a few seconds on one core).

    Seed pinned: whether global-weight maps of two parts of one muscle's border differ depends on the
    trained network (README: 9 of 24 seed-slice cases); for this one they differ far beyond the 0.99 line.
    """
    pytest.importorskip("torch")
    from tests.plugins.borders.tiny_segmenter import train

    return train(steps=60, seed=0)


@pytest.fixture(scope="session")
def segmenter(net):
    from tests.plugins.borders.tiny_segmenter import BandSegmenter

    return BandSegmenter(net)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Torch on one thread in these tests: on the shared two-core machines, two threads were 15 times
    slower (0.55 s against 8.2 s for the maps of 36 slices)."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small demo phantom on disk, and a prediction one voxel (1.25 mm) too deep: across the muscles'
    upper and lower borders it misses by more than the 1 mm tolerance, along their sides it hits."""
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo(folder, seed=0, size="small")
    volume = read_volume(paths["image"])
    truth = read_labels(paths["truth"])[0]
    prediction = folder / "prediction.nii.gz"
    write_labels(prediction, np.roll(truth, 1, axis=1), volume.geometry)
    return {**paths, "prediction": str(prediction), "volume": volume, "labels": truth}
