"""Adapt to this volume (spec 8.7): a short fine-tuning on the current volume's key slices before
propagating. Chains start at key slices and run toward a neighbouring key; targets are the key
masks where the window meets a key slice and the carried prediction elsewhere (pseudo-labels).
The adapted weights replace the propagator's model, so they stay with this document only."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from usannotator.core.errors import UserError
from usannotator.jobs import Job
from usannotator_plugins.ifss.chains import steps_needed
from usannotator_plugins.ifss.loss import ParametricTversky
from usannotator_plugins.ifss.train import Trainer, sample_batch, volume_from_arrays

ADAPT_LR = 1e-4
MAX_CHAIN_STEPS = 8


@dataclass
class AdaptResult:
    steps_done: int
    losses: list
    seconds: float
    alpha: float
    beta: float


def adapt(progress, propagator, image, labels, key_slices, steps: int = 100, seed: int = 0,
          lr: float = ADAPT_LR, batch: int = 4) -> AdaptResult:
    """Fine-tune a copy of the propagator's model for `steps` window updates, then use it.
    Cancel (progress) leaves the propagator's weights unchanged."""
    started = time.perf_counter()
    if steps < 1:
        raise UserError(f"adaptation needs at least one step, got {steps}")
    model = propagator.ensure_model()
    config = model.config
    keys = {int(l): sorted(int(z) for z in zs) for l, zs in key_slices.items() if len(zs) >= 2}
    if not keys:
        raise UserError("adapting needs a muscle with at least two key slices")
    volume = volume_from_arrays(np.asarray(image), np.asarray(labels), config, complete=False,
                                name="this volume", keys=keys)
    chain = min(MAX_CHAIN_STEPS, steps_needed(int(np.median([np.diff(k).mean() for k in keys.values()])),
                                              config.stride))
    tuned = copy.deepcopy(model).to(propagator.device)
    loss = ParametricTversky(config.alpha_range)
    if propagator.tversky_omega is not None:
        loss.omega.data.copy_(propagator.tversky_omega)
    trainer = Trainer(tuned, lr=lr, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    losses = []
    while trainer.step < steps:
        n = min(chain, steps - trainer.step)
        chains = sample_batch(rng, [volume], config, batch, n, augment="mild", toward_keys=True)
        chains = _to(chains, propagator.device)
        losses += trainer.train_chain(chains, check=lambda: progress.update(
            0.9 * trainer.step / steps, f"adapting to this volume: step {trainer.step} of {steps}"))
    propagator.use_model(tuned)
    progress.update(0.9, "adapted")
    return AdaptResult(trainer.step, losses, time.perf_counter() - started, loss.alpha, loss.beta)


def _to(batch, device):
    if device in (None, "cpu"):
        return batch
    for name in ("image", "masks", "known", "anchors"):
        setattr(batch, name, getattr(batch, name).to(device))
    return batch


def adaptation_job(document, propagator, steps: int = 100, seed: int = 0) -> Job:
    """'Adapt to this volume' as a model job; afterwards propagate with the same propagator."""
    from usannotator_plugins.ifss.propagate import document_inputs

    inputs = document_inputs(document)

    def run(progress, device=None):
        propagator.follow_host_device(device)
        return adapt(progress, propagator, inputs["image"], inputs["labels"], inputs["key_slices"], steps, seed)

    return Job("IFSS-Net: adapt to this volume", run, uses_model=True)
