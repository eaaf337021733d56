"""The window recurrence: which slices a chain reads and writes, what it carries, how it blends."""

import dataclasses

import pytest
import torch

from usannotator_plugins.ifss.chains import ChainPlan, ChainRunner, steps_needed, window_slices
from usannotator_plugins.ifss.config import LITE
from usannotator_plugins.ifss.model import IFSSNet
from usannotator_plugins.ifss.propagate import blend_weights


def test_window_slices_forward_backward_and_at_the_edges():
    assert window_slices(10, 1, 0, 3, 3, 40) == [11, 12, 13]
    assert window_slices(10, 1, 1, 3, 3, 40) == [14, 15, 16]
    assert window_slices(10, 1, 2, 3, 1, 40) == [13, 14, 15]
    assert window_slices(10, -1, 1, 3, 3, 40) == [6, 5, 4]
    assert window_slices(38, 1, 0, 3, 3, 40) == [39, 39, 39]   # past the end: the edge slice repeats
    assert window_slices(1, -1, 0, 3, 3, 40) == [0, 0, 0]
    assert steps_needed(19, 3) == 7 and steps_needed(18, 3) == 6 and steps_needed(5, 1) == 5


def _run(model, image, plans, config):
    runner = ChainRunner(model, image, config, "cpu", batch=4)
    seen = []
    runner.run(plans, on_step=lambda plan, slices, probs: seen.append((plan.direction, slices)))
    return runner, seen


@pytest.mark.parametrize("stride", [1, 3])
def test_outputs_land_on_the_right_slices(echo_model, stride):
    config = dataclasses.replace(LITE, slice_size=16, stride=stride)
    n = 30
    # each slice holds its own index, so a prediction shows which image slice it came from
    image = torch.arange(n, dtype=torch.float32)[:, None, None].expand(n, 16, 16) / 100
    model = echo_model(config, source="image")
    key = torch.zeros(16, 16)
    plans = [ChainPlan(1, 5, 1, 10, key), ChainPlan(1, 25, -1, 10, key)]
    _run(model, image, plans, config)
    forward = [float(o[0, 0]) for o in plans[0].outputs]
    backward = [float(o[0, 0]) for o in plans[1].outputs]
    assert forward == pytest.approx([z / 100 for z in range(6, 16)], abs=1e-3)
    assert backward == pytest.approx([z / 100 for z in range(24, 14, -1)], abs=1e-3)
    assert model.windows == 2 * steps_needed(10, stride)


@pytest.mark.parametrize("stride", [1, 3])
def test_a_mask_echo_chain_copies_the_key_mask_everywhere(echo_model, stride, rng):
    config = dataclasses.replace(LITE, slice_size=16, stride=stride)
    key = torch.from_numpy(rng.random((16, 16)) > 0.5).float()
    plan = ChainPlan(1, 3, 1, 11, key)
    _run(echo_model(config), torch.randn(20, 16, 16), [plan], config)
    assert len(plan.outputs) == 11
    for out in plan.outputs:
        assert torch.allclose(out.float(), key.clamp(1e-4, 1 - 1e-4), atol=1e-3)


def test_untrained_lite_network_propagates_by_zero_order_copy(tiny_config, rng):
    torch.manual_seed(0)
    model = IFSSNet(tiny_config).eval()
    key = torch.from_numpy(rng.random((32, 32)) > 0.6).float()
    plans = [ChainPlan(1, 2, 1, 9, key), ChainPlan(1, 14, -1, 9, key)]
    _run(model, torch.randn(16, 32, 32), plans, tiny_config)
    for plan in plans:
        for out in plan.outputs:
            assert torch.allclose(out.float(), key.clamp(0.02, 0.98), atol=2e-3)


def test_chains_run_in_lock_step_batches(echo_model):
    config = dataclasses.replace(LITE, slice_size=16)
    model = echo_model(config)
    key = torch.ones(16, 16)
    plans = [ChainPlan(1, 0, 1, 9, key), ChainPlan(2, 0, 1, 3, key), ChainPlan(3, 19, -1, 6, key)]
    runner, seen = _run(model, torch.zeros(20, 16, 16), plans, config)
    # three steps: 3 chains, then 2, then 1 -> 3 batched calls, 6 windows
    assert model.calls == 3 and runner.windows_evaluated == 6 == model.windows
    assert [len(p.outputs) for p in plans] == [9, 3, 6]


def test_tail_chain_stops_after_three_nearly_empty_slices(echo_model):
    config = dataclasses.replace(LITE, slice_size=16, stride=1)
    plan = ChainPlan(1, 2, 1, 15, torch.zeros(16, 16), stop_area=10)
    _run(echo_model(config), torch.zeros(20, 16, 16), [plan], config)
    assert plan.stopped and plan.done == 3


def test_blend_weights_favour_the_nearer_key():
    forward, backward = blend_weights(11, 10, 30)
    assert forward > 0.9 and forward + backward == pytest.approx(1)
    assert blend_weights(20, 10, 30) == (0.5, 0.5)
    assert blend_weights(29, 10, 30)[1] > 0.9


def test_training_chain_re_anchors_at_key_slices(echo_model, tiny_config):
    from usannotator_plugins.ifss.train import ChainBatch, Trainer

    config = tiny_config
    model = echo_model(config)
    n = 1 + 3 * 3
    masks = torch.zeros(1, n, 32, 32)
    masks[:, 0] = 1.0                 # the start key: all foreground
    masks[:, 4, :8] = 1.0             # a key slice in the second window: a top band only
    known = torch.zeros(1, n, dtype=torch.bool)
    known[:, [0, 4]] = True
    batch = ChainBatch(torch.zeros(1, n, 32, 32), masks, known, known.clone(), steps=3)
    inputs = []
    original = model.forward
    model.forward = lambda image, mask: inputs.append(mask.detach().clone()) or original(image, mask)
    Trainer(model).train_chain(batch)
    # step 2 starts with the key mask of slice 4 at its first position, not the carried copy
    assert torch.equal(inputs[2][0, 0, 0], masks[0, 4])
    assert inputs[2][0, 0, 1].min() > 0.99            # unannotated positions keep the carried value
