"""Training IFSS-Net (spec section 9) on phantoms and on user volumes with sparse labels.

A training step is one window of a chain (batch of chains in lock-step): the network sees the
image window and the carried mask, the loss compares its output with the ground truth where the
slice is annotated and with the carried (previous, detached) prediction elsewhere (sequential
pseudo-labelling), and the weights are updated after every window.

Reproducible: a fixed seed fixes the weights' start, the phantoms, the data order and the
augmentation; the learning-rate schedule does not depend on the total number of steps, so the
weights saved at step N equal those of a run with --steps N (same machine, same thread count).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from usannotator_plugins.ifss.config import IFSSConfig, config_named
from usannotator_plugins.ifss.grid import SliceGrid
from usannotator_plugins.ifss.loss import ParametricTversky
from usannotator_plugins.ifss.model import IFSSNet, foreground_probability

LR_START, LR_END, LR_DECAY_STEPS = 1e-3, 1e-4, 3000   # lite recipe: 1e-3 decaying to 1e-4
FULL_LR, FULL_LR_LATE, FULL_LR_SWITCH = 1e-4, 1e-5, 8000   # published recipe
VALIDATION_EVERY_K = 20                                # key slices every 20 in validation


# ----------------------------------------------------------------------------- data

@dataclass
class TrainingVolume:
    """One volume on the network grid, with what is known about each muscle."""

    image: torch.Tensor          # (Z, s, s) uint8 intensities, z-scored after augmentation
    masks: dict                  # label -> (Z, s, s) bool
    known: dict                  # label -> (Z,) bool: slices whose mask is known (targets)
    starts: dict                 # label -> slices a chain may start at
    anchors: dict                # label -> (Z,) bool: key slices that re-anchor a chain
    name: str = ""
    complete: bool = False       # every slice's labels known (phantoms)


def volume_from_arrays(image: np.ndarray, labels: np.ndarray, config: IFSSConfig, complete: bool,
                       name: str = "", keys: dict | None = None) -> TrainingVolume:
    """complete=True: every slice's labels are known (phantoms). Otherwise only key slices are:
    `keys` {label: slices} (provenance), or by default the slices holding the label (sparse files)."""
    grid = SliceGrid(image.shape[1:], config)
    grey = _as_uint8(image)
    grid_image = grid.image(torch.from_numpy(grey).float()).round().clamp(0, 255).to(torch.uint8)
    masks, known, starts, anchors = {}, {}, {}, {}
    n_z = image.shape[0]
    values = sorted(keys) if keys is not None else [int(v) for v in np.unique(labels) if v]
    for label in values:
        present = (labels == label).reshape(n_z, -1).any(axis=1)
        masks[label] = grid.masks(torch.from_numpy(labels == label)).bool()
        if complete:
            first, last = np.flatnonzero(present)[[0, -1]]
            known[label] = np.ones(n_z, dtype=bool)
            starts[label] = np.arange(first, last + 1)
            anchors[label] = np.zeros(n_z, dtype=bool)
            continue
        key = present.copy() if keys is None else np.isin(np.arange(n_z), list(keys[label]))
        known[label], anchors[label], starts[label] = key, key.copy(), np.flatnonzero(key)
    return TrainingVolume(grid_image, masks, known, starts, anchors, name, complete)


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """Intensities on 0..255: phantoms are uint8 already; other scanners are rescaled."""
    if image.dtype == np.uint8:
        return image
    lo, hi = np.percentile(image, [0.5, 99.5])
    return np.clip((image - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)


def phantom_volume(seed: int, config: IFSSConfig, size: str = "demo") -> TrainingVolume:
    from usannotator.phantom import generate_phantom

    phantom = generate_phantom(seed, size=size)
    return volume_from_arrays(phantom.volume.array, phantom.truth, config, complete=True, name=f"phantom {seed}")


@dataclass
class ChainBatch:
    image: torch.Tensor          # (B, n, s, s) z-scored
    masks: torch.Tensor          # (B, n, s, s) float 0/1 (zeros where unknown)
    known: torch.Tensor          # (B, n) bool
    anchors: torch.Tensor        # (B, n) bool
    steps: int


def chunk_length(steps: int, config: IFSSConfig) -> int:
    """Slices a chain of `steps` windows reads: its key slice, then the windows."""
    return 1 + steps * config.stride + (config.window - config.stride)


def sample_chain(rng: np.random.Generator, volumes: list, steps: int, config: IFSSConfig, augment,
                 toward_keys: bool = False):
    """One chain's slices (image, masks, known, anchors), from a random volume, muscle, start
    and direction; the backward direction is the same chain on the z-flipped volume."""
    vol = volumes[rng.integers(len(volumes))]
    label = [l for l in sorted(vol.starts) if len(vol.starts[l])]
    label = label[rng.integers(len(label))]
    starts = vol.starts[label]
    direction = 1 if rng.random() < 0.5 else -1
    if vol.complete:
        starts = _starts_inside_extent(starts, direction, steps * config.stride)
    start = int(starts[rng.integers(len(starts))])
    if toward_keys:
        direction = _direction_toward_a_key(starts, start, direction)
    n_z = vol.image.shape[0]
    idx = np.clip(start + direction * np.arange(chunk_length(steps, config)), 0, n_z - 1)
    image = vol.image[idx].float() / 255.0
    masks = vol.masks[label][idx].float()
    known = torch.from_numpy(vol.known[label][idx])
    anchors = torch.from_numpy(vol.anchors[label][idx])
    if augment:
        image, masks = augmented(rng, image, masks, augment if isinstance(augment, str) else "strong")
    return zscore(image), masks * known[:, None, None], known, anchors


def _starts_inside_extent(starts, direction, span):
    """Starts from which a chain stays inside the muscle's extent, as chains between key slices
    do in use (chains running off the muscle's end would dominate the loss and teach little)."""
    first, last = int(starts[0]), int(starts[-1])
    inside = starts[starts <= last - span] if direction > 0 else starts[starts >= first + span]
    return inside if len(inside) else starts


def _direction_toward_a_key(starts, start, direction) -> int:
    """Prefer a direction with another key slice ahead (adaptation learns from reaching it)."""
    ahead = starts > start if direction > 0 else starts < start
    if ahead.any():
        return direction
    return -direction


# Augmentation ranges: scale and contrast and gain as +- fractions, shift as a fraction of the
# half-width, gamma as +- log, speckle as the largest log-normal noise sigma.
AUGMENTATION = {
    "strong": {"scale": 0.1, "shift": 0.08, "gamma": 0.25, "contrast": 0.2, "gain": 0.15, "speckle": 0.25},
    "mild": {"scale": 0.05, "shift": 0.04, "gamma": 0.1, "contrast": 0.1, "gain": 0.1, "speckle": 0.1},
}


def augmented(rng, image, masks, level: str = "strong"):
    """Robustness: lateral flip, small scale and shift, gain, contrast, gamma, speckle."""
    a = AUGMENTATION[level]
    if rng.random() < 0.5:
        image, masks = image.flip(-1), masks.flip(-1)
    scale = rng.uniform(1 - a["scale"], 1 + a["scale"])
    shift = rng.uniform(-a["shift"], a["shift"], size=2)
    theta = torch.tensor([[1 / scale, 0, shift[0]], [0, 1 / scale, shift[1]]], dtype=torch.float32)
    size = (image.shape[0], 1) + tuple(image.shape[1:])
    warp = F.affine_grid(theta.expand(image.shape[0], 2, 3), size, align_corners=False)
    image = F.grid_sample(image[:, None], warp, align_corners=False)[:, 0]
    masks = (F.grid_sample(masks[:, None], warp, align_corners=False)[:, 0] >= 0.5).float()
    gamma = math.exp(rng.uniform(-a["gamma"], a["gamma"]))
    contrast = rng.uniform(1 - a["contrast"], 1 + a["contrast"])
    gain = rng.uniform(1 - a["gain"], 1 + a["gain"])
    mean = float(image.mean())
    image = ((image.clamp(0, 1) ** gamma - mean) * contrast + mean) * gain
    sigma = rng.uniform(0.0, a["speckle"])
    noise = torch.from_numpy(rng.standard_normal(image.shape).astype(np.float32))
    return (image * torch.exp(sigma * noise)).clamp(0, 1), masks


def zscore(image):
    values = image[image != 0]
    if values.numel() < 2:
        return image
    return (image - values.mean()) / values.std().clamp_min(1e-6)


def sample_batch(rng, volumes, config, batch: int, steps: int, augment="strong",
                 toward_keys: bool = False) -> ChainBatch:
    parts = [sample_chain(rng, volumes, steps, config, augment, toward_keys) for _ in range(batch)]
    return ChainBatch(*(torch.stack(p) for p in zip(*parts)), steps=steps)


# ----------------------------------------------------------------------------- steps

class Trainer:
    """Weights, loss and optimiser; `train_chain(batch)` runs one chain batch window by window."""

    def __init__(self, model: IFSSNet, lr: float | None = None, tversky_lr: float | None = None,
                 loss: ParametricTversky | None = None, seed: int = 0, lr_start: float = LR_START):
        config = model.config
        self.model = model
        self.lr_start = lr_start
        self.loss = loss or ParametricTversky(config.alpha_range)
        self.fixed_lr = lr
        groups = [{"params": list(model.parameters()), "lr": lr or self._scheduled_lr(0)}]
        own = tversky_lr if tversky_lr is not None else config.tversky_lr
        groups.append({"params": list(self.loss.parameters()), "lr": own or groups[0]["lr"]})
        self.tversky_follows_network = own is None
        self.optimiser = torch.optim.Adam(groups)
        self.step = 0
        self.dropout_generator = torch.Generator().manual_seed(seed)

    def _scheduled_lr(self, step: int) -> float:
        if self.model.config.name == "full":
            return FULL_LR if step < FULL_LR_SWITCH else FULL_LR_LATE
        return max(LR_END, self.lr_start * (LR_END / LR_START) ** (step / LR_DECAY_STEPS))

    @property
    def lr(self) -> float:
        return self.optimiser.param_groups[0]["lr"]

    def train_chain(self, batch: ChainBatch, check=None, known_only: bool = False) -> list:
        """Window by window along the chains; returns the loss of each window that updated.

        known_only: learn from annotated slices only (the loss ignores the rest, and a window
        without one just carries the prediction on), instead of pseudo-labels where nothing is
        known. Adaptation uses it: see adapt.py."""
        config = self.model.config
        w, s = config.window, config.stride
        self.model.train()
        carried = None
        losses = []
        for j in range(batch.steps):
            if check is not None:
                check()
            window = slice(1 + j * s, 1 + j * s + w)
            mask_in = batch.masks[:, :1].expand(-1, w, -1, -1) if carried is None else carried
            truth, known = batch.masks[:, window], batch.known[:, window, None, None]
            image = batch.image[:, window]
            if not known_only:
                target = torch.where(known, truth, mask_in)    # pseudo-label where nothing is known
                losses.append(self._update(image, mask_in, target))
            elif known.any():
                losses.append(self._update(image, mask_in, truth, weight=known.expand_as(truth).float()))
            else:
                self._carry_only(image, mask_in)
            carried = self._carry(batch, window, truth)
        return losses

    def _carry_only(self, image, mask_in) -> None:
        self.model.eval()
        with torch.no_grad():
            self._last_probability = foreground_probability(self.model(image[:, None], mask_in[:, None]))
        self.model.train()
        self.step += 1

    def _update(self, image, mask_in, target, weight=None) -> float:
        """One optimiser step on a window; `weight` (0 or 1 per pixel) leaves pixels out of the loss."""
        self._set_lr()
        self.model.redraw_dropout(self.dropout_generator)
        probability = foreground_probability(self.model(image[:, None], mask_in[:, None]))
        loss = self.loss(probability, target) if weight is None else self.loss(probability * weight, target * weight)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.loss.keep_in_range()
        self.step += 1
        self._last_probability = probability.detach()
        return float(loss.detach())

    def _carry(self, batch, window, truth):
        # the carried mask is detached: gradients stay within one window; key slices re-anchor it
        anchors = batch.anchors[:, window, None, None]
        return torch.where(anchors, truth, self._last_probability)

    def _set_lr(self):
        lr = self.fixed_lr or self._scheduled_lr(self.step)
        self.optimiser.param_groups[0]["lr"] = lr
        if self.tversky_follows_network:
            self.optimiser.param_groups[1]["lr"] = lr


# ----------------------------------------------------------------------------- validation

def validation_dice(model, phantoms: list, every: int = VALIDATION_EVERY_K) -> float:
    """Mean Dice over the muscles of held-out phantoms, propagated with the full protocol."""
    from usannotator.core import Provenance
    from usannotator.jobs import Progress
    from usannotator.metrics import label_metrics
    from usannotator.phantom import sparse_key_slices
    from usannotator_plugins.ifss.propagate import Propagator

    propagator = Propagator(device="cpu")
    propagator.use_model(model)
    scores = []
    for phantom in phantoms:
        sparse = sparse_key_slices(phantom.truth, every=every)
        prov = Provenance.from_sparse_labels(sparse)
        keys = {l: list(prov.key_slices(l)) for l in prov.labels()}
        result = propagator.propagate(Progress(), phantom.volume.array, sparse, keys, preview=False)
        metrics = label_metrics(phantom.truth, result.applied_to(sparse), phantom.geometry.spacing_zyx)
        scores.append(metrics["mean"]["dice"])
    model.train()
    return float(np.mean(scores))


# ----------------------------------------------------------------------------- the run

@dataclass
class TrainingSettings:
    config: object = "lite"          # a configuration name, or an IFSSConfig (tests: tiny slices)
    seeds: list = field(default_factory=lambda: list(range(1000, 1200)))
    size: str = "demo"
    pool: int = 16                   # phantoms in memory at a time
    refresh_every: int = 50          # steps between replacing the oldest phantom with the next seed
    steps: int = 3000
    seed: int = 0
    batch: int = 4
    chain_steps: tuple = (6, 8)      # windows per chain, drawn per batch
    user_volumes: list = field(default_factory=list)   # [(image array, sparse labels array, name)]
    validation_seeds: list = field(default_factory=lambda: [950])
    validate_every: int = 500
    log_every: int = 25
    init: str | None = None          # weights to start from
    augment: str = "strong"          # a level of AUGMENTATION
    lr_start: float = LR_START       # the lite schedule: lr_start, divided by 10 over 3000 steps, floor 1e-4
    minutes: float | None = None     # stop at the first validation after this wall time
    threads: int | None = None
    command: str = ""                # the command line, recorded in the weights file


def log_line(stream, **fields):
    stream.write(json.dumps(fields) + "\n")
    stream.flush()


def train(settings: TrainingSettings, out_path, log=None, check=None) -> dict:
    """Train and save the weights at every validation and at the end; returns the run's summary."""
    from usannotator.phantom import generate_phantom
    from usannotator_plugins.ifss.weights import load_model, save_weights

    log = log or sys.stderr
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    config = settings.config if isinstance(settings.config, IFSSConfig) else config_named(settings.config)
    model = load_model(settings.init, config.name)[0] if settings.init else IFSSNet(config)
    trainer = Trainer(model, seed=settings.seed, lr_start=settings.lr_start)
    if settings.init:
        _load_tversky(trainer.loss, settings.init)
    pool = PhantomPool(settings, config)
    keeper = BestKeeper(settings, trainer, [generate_phantom(s, size=settings.size) for s in settings.validation_seeds],
                        out_path, log)
    keeper.validate()
    recent = []
    while trainer.step < settings.steps:
        pool.refresh(trainer.step)
        steps = int(rng.integers(settings.chain_steps[0], settings.chain_steps[1] + 1))
        steps = min(steps, settings.steps - trainer.step)
        batch = sample_batch(rng, pool.volumes, config, settings.batch, steps, augment=settings.augment)
        before = trainer.step
        recent += trainer.train_chain(batch, check)
        if trainer.step // settings.log_every > before // settings.log_every:
            log_line(log, step=trainer.step, loss=round(float(np.mean(recent)), 5), alpha=round(trainer.loss.alpha, 4),
                     beta=round(trainer.loss.beta, 4), lr=trainer.lr, minutes=keeper.minutes())
            recent = []
        if trainer.step // settings.validate_every > before // settings.validate_every or trainer.step >= settings.steps:
            keeper.validate()
            if settings.minutes is not None and keeper.minutes() >= settings.minutes:
                break
    return keeper.summary


class BestKeeper:
    """Validates and keeps the weights with the best validation Dice (the starting weights
    included, so training never ships weights worse than what it started from on that volume).
    Without validation volumes it keeps the latest weights."""

    def __init__(self, settings, trainer, validation, out_path, log):
        self.settings, self.trainer, self.validation = settings, trainer, validation
        self.out_path, self.log = out_path, log
        self.started = time.perf_counter()
        self.best = -math.inf
        config = trainer.model.config
        self.summary = {"config": config.name, "seed": settings.seed, "steps_done": 0, "validation": []}

    def minutes(self) -> float:
        return round((time.perf_counter() - self.started) / 60, 2)

    def validate(self) -> None:
        from usannotator_plugins.ifss.weights import save_weights

        step = self.trainer.step
        self.summary["steps_done"] = step
        if not self.validation:
            if step:
                self._record(step, None)
                save_weights(self.out_path, self.trainer.model, self.trainer.loss, info=_info(self.settings, self.summary))
            return
        dice = validation_dice(self.trainer.model, self.validation)
        self.summary["validation"].append({"step": step, "dice": round(dice, 5)})
        log_line(self.log, step=step, validation_dice=round(dice, 5), minutes=self.minutes())
        if dice > self.best:
            self.best = dice
            self._record(step, dice)
            save_weights(self.out_path, self.trainer.model, self.trainer.loss, info=_info(self.settings, self.summary))

    def _record(self, step, dice) -> None:
        self.summary.update(best_step=step, validation_dice=dice, minutes=self.minutes(),
                            alpha=self.trainer.loss.alpha, beta=self.trainer.loss.beta)


def _load_tversky(loss, path) -> None:
    """Continue with the learned Tversky weights of the weights we start from."""
    from usannotator_plugins.ifss.weights import read_weights_file

    omega = read_weights_file(path).get("tversky_omega")
    if omega is not None:
        loss.omega.data.copy_(omega)


def _info(settings: TrainingSettings, summary: dict) -> dict:
    seeds = settings.seeds
    return {
        "command": settings.command,
        "trained_steps": summary.get("best_step", summary["steps_done"]),
        "validation_history": summary["validation"],
        "seed": settings.seed,
        "init": settings.init,
        "lr_start": settings.lr_start,
        "augment": settings.augment,
        "phantom_seeds": f"{seeds[0]}-{seeds[-1]}" if seeds else "",
        "phantom_size": settings.size,
        "user_volumes": [name for _, _, name in settings.user_volumes],
        "validation_seeds": list(settings.validation_seeds),
        "validation_dice": summary.get("validation_dice"),
        "alpha": summary.get("alpha"),
        "beta": summary.get("beta"),
        "minutes": summary.get("minutes"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


class PhantomPool:
    """Phantoms in memory; every `refresh_every` steps the oldest makes room for the next seed,
    so a long run sees many phantoms while memory stays small. User volumes stay."""

    def __init__(self, settings: TrainingSettings, config: IFSSConfig):
        self.settings = settings
        self.config = config
        self.next_seed = 0
        self.refreshed = 0
        self.phantoms = []
        self.users = [volume_from_arrays(img, lab, config, complete=False, name=name)
                      for img, lab, name in settings.user_volumes]
        for _ in range(min(settings.pool, len(settings.seeds))):
            self._add()

    def _add(self):
        seeds = self.settings.seeds
        if not seeds:
            return
        seed = seeds[self.next_seed % len(seeds)]
        self.next_seed += 1
        self.phantoms.append(phantom_volume(seed, self.config, self.settings.size))

    def refresh(self, step: int):
        every = self.settings.refresh_every
        if not every or step // every <= self.refreshed:
            return
        self.refreshed = step // every
        if len(self.settings.seeds) > len(self.phantoms):
            self.phantoms.pop(0)
            self._add()

    @property
    def volumes(self) -> list:
        return self.phantoms + self.users
