"""The network: shapes, parameter counts, siamese sharing, the BiConvLSTM, the mask skip."""

import dataclasses

import pytest
import torch

from usannotator_plugins.ifss.config import FULL, LITE, IFSSConfig
from usannotator_plugins.ifss.model import BiConvLSTM, IFSSNet, count_parameters, foreground_probability


def _inputs(batch, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, 3, size, size, generator=g), torch.rand(batch, 1, 3, size, size, generator=g)


def test_lite_shapes_softmax_and_gradients():
    torch.manual_seed(0)
    model = IFSSNet(LITE)
    # the head starts at zero (mask skip), which blocks gradients to the layers before it
    torch.nn.init.normal_(model.head.weight, std=0.1)
    image, mask = _inputs(2, 32)
    logits = model(image, mask)
    assert logits.shape == (2, 2, 3, 32, 32)
    assert torch.allclose(torch.softmax(logits, 1).sum(1), torch.ones(2, 3, 32, 32), atol=1e-6)
    foreground_probability(logits).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    assert model.encoder[0].conv.weight.grad.abs().sum() > 0


def test_full_configuration_at_reduced_size_shapes_and_gradients():
    # the architecture, not the 512-pixel input, is what is checked: 64 pixels, five levels
    torch.manual_seed(0)
    model = IFSSNet(FULL)
    image, mask = _inputs(1, 64)
    logits = model(image, mask)
    assert logits.shape == (1, 2, 3, 64, 64)
    logits[:, 1].mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.memory.gates.weight.grad.abs().sum() > 0


def test_parameter_counts_match_the_spec():
    full, lite = IFSSNet(FULL), IFSSNet(LITE)
    assert abs(count_parameters(full) - 6.22e6) / 6.22e6 < 0.03
    assert abs(count_parameters(lite) - 0.42e6) / 0.42e6 < 0.03
    # one encoder, counted once (an unshared one would add 1.23 M)
    assert abs(count_parameters(full.encoder) - 1.23e6) / 1.23e6 < 0.03


def test_slices_not_divisible_by_the_levels_are_refused():
    model = IFSSNet(LITE)
    image, mask = _inputs(1, 24)
    with pytest.raises(ValueError, match="multiples of 16"):
        model(image, mask)
    with pytest.raises(ValueError, match="differs"):
        model(image, mask[:, :, :2])


def test_one_encoder_serves_image_and_mask_streams():
    torch.manual_seed(0)
    model = IFSSNet(LITE)
    image, mask = _inputs(1, 32)
    params = list(model.encoder.parameters())
    levels = model.encode(torch.cat([image, mask]))
    from_mask = torch.autograd.grad(levels[-1][1:].sum(), params, retain_graph=True)
    from_image = torch.autograd.grad(levels[-1][:1].sum(), params)
    assert all(g.abs().sum() > 0 for g in from_mask)
    assert all(g.abs().sum() > 0 for g in from_image)
    # and the full network does read the mask stream
    mask.requires_grad_(True)
    model(image, mask)[:, 1].sum().backward()
    assert mask.grad.abs().sum() > 0


def test_shared_biconvlstm_reverses_with_its_input():
    torch.manual_seed(0)
    memory = BiConvLSTM(4, 3).eval()
    x = torch.randn(2, 4, 5, 6, 6)
    assert torch.allclose(memory(x.flip(2)), memory(x).flip(2), atol=1e-6)


def test_no_state_is_carried_between_windows():
    torch.manual_seed(0)
    model = IFSSNet(LITE).eval()
    image, mask = _inputs(1, 32)
    with torch.inference_mode():
        assert torch.equal(model(image, mask), model(image, mask))


def test_zero_head_passes_gradient_only_to_itself_and_the_skip_gain():
    model = IFSSNet(LITE)
    image, mask = _inputs(1, 32)
    foreground_probability(model(image, mask)).mean().backward()
    assert model.head.weight.grad.abs().sum() > 0
    assert model.skip_gain.grad is not None
    assert model.encoder[0].conv.weight.grad.abs().sum() == 0


def test_untrained_lite_copies_its_mask_input():
    model = IFSSNet(LITE).eval()
    image, _ = _inputs(2, 32)
    mask = (torch.rand(2, 1, 3, 32, 32) > 0.5).float()
    with torch.inference_mode():
        p = foreground_probability(model(image, mask))
    assert torch.allclose(p, mask[:, 0].clamp(0.02, 0.98), atol=1e-5)


def test_published_dropout_rate_is_redrawn_each_step():
    model = IFSSNet(dataclasses.replace(FULL, encoder_channels=(5, 5, 10, 10, 10),
                                        decoder_channels=(10, 10, 10, 5, 5)))
    g = torch.Generator().manual_seed(0)
    rates = set()
    for _ in range(5):
        model.redraw_dropout(g)
        rates.add(model.encoder[0].dropout.rate)
    assert len(rates) == 5 and all(0 <= r <= 0.25 for r in rates)


def test_configuration_round_trips_through_a_dict():
    assert IFSSConfig.from_dict(LITE.to_dict()) == LITE
    assert IFSSConfig.from_dict(FULL.to_dict()) == FULL
    assert LITE.differences(FULL)


def test_gradcam_layers_default_is_the_penultimate_decoder_stage():
    model = IFSSNet(LITE)
    layers = model.gradcam_layers()
    name, first = next(iter(layers.items()))
    assert first is model.decoder[-2]
    assert model.head not in layers.values()
