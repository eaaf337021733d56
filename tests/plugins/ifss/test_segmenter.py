"""IFSS-Net lite offered as a Segmenter: found through the plugin, differentiable slice logits."""

import numpy as np
import pytest
import torch

from usannotator.core.errors import UserError
from usannotator_plugins.ifss import plugin
from usannotator_plugins.ifss.segmenter import IFSSSegmenter


@pytest.fixture
def responsive_weights(tmp_path):
    """Untrained weights with a non-zero head, so gradients reach the inner layers."""
    from usannotator_plugins.ifss.config import LITE
    from usannotator_plugins.ifss.model import IFSSNet
    from usannotator_plugins.ifss.weights import save_weights

    torch.manual_seed(0)
    model = IFSSNet(LITE)
    torch.nn.init.normal_(model.head.weight, std=0.2)
    return save_weights(tmp_path / "responsive.pt", model)


def test_the_plugin_offers_ifss_lite():
    (segmenter,) = plugin.segmenters()
    assert segmenter.name == "ifss-lite"
    ok, why = segmenter.available()
    assert ok, why


def test_missing_weights_are_reported_not_raised(tmp_path):
    ok, why = IFSSSegmenter(tmp_path / "none.pt").available()
    assert not ok and "missing" in why


def test_slice_logits_are_differentiable_at_the_default_layer(leg, responsive_weights):
    phantom, sparse, _, _ = leg
    segmenter = IFSSSegmenter(responsive_weights)
    model = segmenter.load("cpu")
    name, layer = next(iter(segmenter.layers(model).items()))
    assert "penultimate" in name
    grabbed = []
    hook = layer.register_forward_hook(lambda m, i, out: grabbed.append(out))
    z = 15
    logits = segmenter.slice_logits(model, phantom.volume.array, sparse, z, 3)
    hook.remove()
    assert logits.shape == phantom.truth.shape[1:]
    (grad,) = torch.autograd.grad(logits.sum(), grabbed[-1])
    assert grad.abs().sum() > 0


def test_slice_logits_follow_the_propagated_shape(leg, untrained_weights):
    phantom, sparse, keys, _ = leg
    segmenter = IFSSSegmenter(untrained_weights)
    model = segmenter.load("cpu")
    z = keys[3][1] + 1                    # next to a key slice: the untrained network copies it
    logits = segmenter.slice_logits(model, phantom.volume.array, sparse, z, 3)
    predicted = logits.detach().numpy() > 0
    nearest = sparse[keys[3][1]] == 3
    overlap = (predicted & nearest).sum() / max(nearest.sum(), 1)
    assert overlap > 0.8


def test_a_label_with_no_other_slice(leg, untrained_weights):
    phantom, _, _, _ = leg
    labels = np.zeros(phantom.truth.shape, np.uint8)
    labels[10, 5:9, 5:9] = 1
    segmenter = IFSSSegmenter(untrained_weights)
    with pytest.raises(UserError, match="no slice besides"):
        segmenter.slice_logits(segmenter.load("cpu"), phantom.volume.array, labels, 10, 1)
