"""Training: the loss goes down, runs are reproducible, the log carries alpha and beta."""

import io
import json

import numpy as np
import pytest
import torch

from usannotator_plugins.ifss.model import IFSSNet, foreground_probability
from usannotator_plugins.ifss.train import (Trainer, TrainingSettings, sample_batch, train,
                                            volume_from_arrays)


@pytest.fixture
def tiny_volume(tiny_config):
    from usannotator.phantom import generate_phantom

    phantom = generate_phantom(1000, size="small")
    return volume_from_arrays(phantom.volume.array, phantom.truth, tiny_config, complete=True)


def _batch_loss(trainer, batch):
    """The chain's mean window loss in eval mode, without updating anything."""
    model, config = trainer.model, trainer.model.config
    model.eval()
    carried, losses = None, []
    with torch.no_grad():
        for j in range(batch.steps):
            window = slice(1 + j * config.stride, 1 + j * config.stride + config.window)
            mask_in = batch.masks[:, :1].expand(-1, config.window, -1, -1) if carried is None else carried
            p = foreground_probability(model(batch.image[:, window, None].transpose(1, 2), mask_in[:, None]))
            losses.append(float(trainer.loss(p, batch.masks[:, window])))
            carried = p
    return float(np.mean(losses))


def test_a_few_steps_lower_the_loss(tiny_config, tiny_volume):
    torch.manual_seed(0)
    trainer = Trainer(IFSSNet(tiny_config), lr=3e-3)
    batch = sample_batch(np.random.default_rng(0), [tiny_volume], tiny_config, 2, 3, augment=False)
    before = _batch_loss(trainer, batch)
    for _ in range(4):
        trainer.train_chain(batch)
    assert trainer.step == 12
    assert _batch_loss(trainer, batch) < before


def test_sparse_volumes_know_only_their_key_slices(tiny_config):
    labels = np.zeros((20, 32, 32), np.uint8)
    labels[[4, 12], 8:20, 8:20] = 1
    volume = volume_from_arrays(np.ones((20, 32, 32), np.uint8), labels, tiny_config, complete=False)
    assert np.flatnonzero(volume.known[1]).tolist() == [4, 12]
    assert volume.starts[1].tolist() == [4, 12] and volume.anchors[1].tolist() == volume.known[1].tolist()
    batch = sample_batch(np.random.default_rng(1), [volume], tiny_config, 3, 2, augment=False)
    assert batch.known[:, 0].all()                          # chains start on a key slice
    assert (batch.masks.sum(dim=(2, 3))[~batch.known] == 0).all()   # unknown slices carry no target


def test_learning_from_key_slices_only_ignores_windows_without_one(tiny_config):
    """known_only (adaptation): a window that meets no key slice changes no weight; one that does
    learns from the key mask only."""
    labels = np.zeros((30, 32, 32), np.uint8)
    labels[[2, 12], 8:20, 8:20] = 1
    volume = volume_from_arrays(np.random.default_rng(0).integers(1, 255, (30, 32, 32)).astype(np.uint8),
                                labels, tiny_config, complete=False)
    batch = sample_batch(np.random.default_rng(2), [volume], tiny_config, 1, 1, augment=False)
    assert not batch.known[:, 1:].any()             # one window, past the start: no key slice in it
    torch.manual_seed(0)
    trainer = Trainer(IFSSNet(tiny_config), lr=1e-2)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    assert trainer.train_chain(batch, known_only=True) == [] and trainer.step == 1
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    assert trainer.train_chain(batch) != []         # with pseudo-labels the same window updates
    assert not all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def _tiny_run(config, tmp_path, name, seed, steps=3):
    log = io.StringIO()
    settings = TrainingSettings(config=config, seeds=[1000, 1001], size="small", pool=2, steps=steps, seed=seed,
                                batch=2, chain_steps=(3, 3), validation_seeds=[950], validate_every=steps,
                                log_every=1)
    summary = train(settings, tmp_path / name, log=log)
    return summary, [json.loads(line) for line in log.getvalue().splitlines()]


def test_training_is_reproducible_and_logs_alpha_and_beta(tiny_config, tmp_path):
    from usannotator_plugins.ifss.weights import read_weights_file

    summary, lines = _tiny_run(tiny_config, tmp_path, "a.pt", seed=3)
    _, _ = _tiny_run(tiny_config, tmp_path, "b.pt", seed=3)
    _, _ = _tiny_run(tiny_config, tmp_path, "c.pt", seed=4)
    assert summary["steps_done"] == 3 and summary["best_step"] in (0, 3)
    steps = [l for l in lines if "loss" in l]
    assert steps and all({"alpha", "beta"} <= set(l) for l in steps)
    assert all(abs(l["alpha"] + l["beta"] - 1) < 1e-3 for l in steps)
    assert [l["step"] for l in lines if "validation_dice" in l] == [0, 3]
    a, b, c = (read_weights_file(tmp_path / n) for n in ("a.pt", "b.pt", "c.pt"))
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert any(not torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])
    assert a["info"]["seed"] == 3
    assert a["info"]["trained_steps"] == summary["best_step"]
