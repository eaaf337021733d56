"""Fixtures for the IFSS-Net tests: tiny networks (32-pixel slices) so every test runs in seconds."""

import dataclasses
import os

import numpy as np
import pytest

# Shared CPUs: OpenMP threads that spin while waiting make torch 10x slower when other processes
# compete for the cores (measured); this only takes effect if torch is not loaded yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _two_threads():
    # the CI machine has two cores shared with other jobs
    torch.set_num_threads(2)


@pytest.fixture
def tiny_config():
    from usannotator_plugins.ifss.config import LITE

    return dataclasses.replace(LITE, slice_size=32)


@pytest.fixture
def untrained_weights(tmp_path):
    """Lite weights straight from initialisation: with the mask skip they copy their mask input."""
    from usannotator_plugins.ifss.config import LITE
    from usannotator_plugins.ifss.model import IFSSNet
    from usannotator_plugins.ifss.weights import save_weights

    torch.manual_seed(0)
    return save_weights(tmp_path / "untrained_lite.pt", IFSSNet(LITE))


@pytest.fixture
def leg():
    """A small phantom (48 x 64 x 64) with key slices every 6 slices."""
    from usannotator.core import Provenance
    from usannotator.phantom import generate_phantom, sparse_key_slices

    phantom = generate_phantom(901, size="small")
    sparse = sparse_key_slices(phantom.truth, every=6)
    prov = Provenance.from_sparse_labels(sparse)
    keys = {v: [int(z) for z in prov.key_slices(v)] for v in prov.labels()}
    return phantom, sparse, keys, prov


@pytest.fixture
def leg_document(leg):
    from usannotator.core import Document

    phantom, sparse, _, prov = leg
    return Document(phantom.volume, sparse, provenance=prov)


class EchoModel(torch.nn.Module):
    """Stands in for the network: foreground probability = its mask input (`source="mask"`) or the
    image window's values (`source="image"`), so chain bookkeeping can be checked exactly."""

    def __init__(self, config, source="mask"):
        super().__init__()
        self.config = config
        self.source = source
        self.calls = 0
        self.windows = 0
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, image, mask):
        self.calls += 1
        self.windows += image.shape[0]
        p = (mask if self.source == "mask" else image).clamp(1e-4, 1 - 1e-4)
        fg = torch.log(p / (1 - p))
        return torch.cat([torch.zeros_like(fg), fg], dim=1) + 0 * self.anchor

    def redraw_dropout(self, generator=None):
        pass


@pytest.fixture
def echo_model():
    return EchoModel


def key_dict(prov):
    return {v: [int(z) for z in prov.key_slices(v)] for v in prov.labels()}


@pytest.fixture
def keys_of():
    return key_dict


@pytest.fixture
def rng():
    return np.random.default_rng(0)
