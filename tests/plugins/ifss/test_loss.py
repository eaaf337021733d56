"""The parametric Tversky loss against hand-computed values."""

import math

import pytest
import torch

from usannotator_plugins.ifss.loss import ParametricTversky

# a 2 x 2 x 2 window: TP = 0.9 + 0.8 + 0.6 + 0.5 = 2.8, FP = 0.2 + 0.1 + 0.4 = 0.7,
# FN = 0.1 + 0.2 + 0.4 + 0.5 = 1.2
P = torch.tensor([0.9, 0.8, 0.2, 0.1, 0.6, 0.4, 0.0, 0.5]).reshape(1, 2, 2, 2)
G = torch.tensor([1.0, 1, 0, 0, 1, 0, 0, 1]).reshape(1, 2, 2, 2)


def _with_alpha(alpha, **kwargs):
    loss = ParametricTversky(**kwargs)
    with torch.no_grad():
        loss.omega.copy_(torch.tensor([math.log(alpha), math.log(1 - alpha)]))
    return loss


def test_hand_computed_value():
    loss = _with_alpha(0.3)
    # T = (2.8 + 1) / (2.8 + 0.3 * 0.7 + 0.7 * 1.2 + 1) = 3.8 / 4.85
    assert loss(P, G).item() == pytest.approx(1 - 3.8 / 4.85, abs=1e-6)


def test_equal_weights_are_the_soft_dice_loss():
    loss = ParametricTversky()
    assert loss.alpha == pytest.approx(0.5) and loss.beta == pytest.approx(0.5)
    tp, fp, fn = 2.8, 0.7, 1.2
    assert loss(P, G).item() == pytest.approx(1 - (2 * tp + 2) / (2 * tp + fp + fn + 2), abs=1e-6)


def test_perfect_prediction_costs_nothing():
    assert ParametricTversky()(G, G).item() == pytest.approx(0.0, abs=1e-7)


def test_mean_over_the_batch():
    loss = _with_alpha(0.3)
    both = loss(torch.cat([P, G]), torch.cat([G, G]))
    assert both.item() == pytest.approx((1 - 3.8 / 4.85) / 2, abs=1e-6)


def test_alpha_and_beta_always_sum_to_one():
    loss = ParametricTversky()
    for omega in ([3.0, -1.0], [-7.0, 2.5], [0.1, 0.1]):
        with torch.no_grad():
            loss.omega.copy_(torch.tensor(omega))
        assert loss.alpha + loss.beta == pytest.approx(1.0)
        assert 0 < loss.alpha < 1


def test_more_false_positives_lower_alpha_after_one_step():
    loss = ParametricTversky()
    prediction = torch.full((1, 2, 4, 4), 0.8)           # foreground everywhere
    target = torch.zeros(1, 2, 4, 4)
    target[..., :1, :] = 1                                 # but only a quarter is foreground: FP > FN
    optimiser = torch.optim.SGD(loss.parameters(), lr=0.1)
    loss(prediction, target).backward()
    optimiser.step()
    assert loss.alpha < 0.5


def test_alpha_is_held_in_range_by_projection():
    loss = _with_alpha(0.1, alpha_range=(0.3, 0.7))
    loss.keep_in_range()
    assert loss.alpha == pytest.approx(0.3, abs=1e-6)
    loss = _with_alpha(0.95, alpha_range=(0.3, 0.7))
    loss.keep_in_range()
    assert loss.alpha == pytest.approx(0.7, abs=1e-6)
    # still trainable from the bound: the gradient is not cut
    loss(P, G).backward()
    assert loss.omega.grad.abs().sum() > 0


def test_published_setting_warns_when_alpha_drifts_far():
    loss = _with_alpha(0.1)
    with pytest.warns(UserWarning, match="alpha"):
        loss.keep_in_range()
    assert loss.alpha == pytest.approx(0.1)


def test_shapes_must_agree():
    with pytest.raises(ValueError):
        ParametricTversky()(P, G[:, :1])
