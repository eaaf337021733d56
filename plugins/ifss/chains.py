"""The window recurrence (spec section 6), shared by training and propagation.

A chain starts at a key slice k with a known mask and walks in one direction. Step j sees the
image slices k+d(1+jS) ... k+d(1+jS+w-1) (d = +1 forward, -1 backward; indices past the volume
edge repeat the edge slice) and as mask input the key mask repeated (j = 0) or the previous step's
soft output, position by position (so slice z is guided by the prediction of slice z - dS).
Positions 0..S-1 of the output are the chain's predictions for its next S slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from usannotator_plugins.ifss.model import foreground_probability


def window_slices(start: int, direction: int, step: int, window: int, stride: int, n_slices: int) -> list:
    """Volume indices of the image window of a chain step, clamped to the volume."""
    first = 1 + step * stride
    return [min(max(start + direction * (first + p), 0), n_slices - 1) for p in range(window)]


def steps_needed(n: int, stride: int) -> int:
    """Steps for a chain to predict n slices."""
    return -(-n // stride)


@dataclass
class ChainPlan:
    """One chain to evaluate: from `start` in `direction`, predicting `length` slices.

    `done` slices may already be known (a cached prefix); the chain then resumes from `carried`,
    the last step's full soft output. `stop_area` (pixels) ends a chain once three consecutive
    predictions have less foreground than that (tails beyond the last key, spec 8.2).
    """

    label: int
    start: int
    direction: int
    length: int
    key_mask: torch.Tensor                    # (s, s) float on the grid
    done: int = 0
    carried: torch.Tensor | None = None       # (w, s, s)
    stop_area: float | None = None
    outputs: list = field(default_factory=list)   # (s, s) float16 tensors, in chain order
    small_run: int = 0
    stopped: bool = False
    cache_key: tuple | None = None
    from_cache: int = 0                       # slices taken from the cache

    def active(self) -> bool:
        return not self.stopped and self.done < self.length

    def slices(self, count: int) -> list:
        """Volume indices of the chain's next `count` predictions."""
        return [self.start + self.direction * (self.done + 1 + i) for i in range(count)]


class ChainRunner:
    """Runs chains in lock-step, all active windows of a step in one batch (spec 8.4)."""

    def __init__(self, model, image: torch.Tensor, config, device: str, batch: int = 32):
        self.model = model
        self.image = image            # (Z, s, s) on the grid, on `device`
        self.config = config
        self.device = device
        self.batch = batch
        self.windows_evaluated = 0

    def run(self, plans: list, check=None, on_step=None) -> None:
        """Evaluate until every plan is complete. check(): raises to cancel (called per batch);
        on_step(plan, slices, probabilities): new predictions of a plan, as they come."""
        w, stride = self.config.window, self.config.stride
        n_z = self.image.shape[0]
        while True:
            active = [p for p in plans if p.active()]
            if not active:
                return
            for first in range(0, len(active), self.batch):
                if check is not None:
                    check()
                group = active[first:first + self.batch]
                probs = self._evaluate(group, w, stride, n_z)
                for plan, p in zip(group, probs):
                    self._advance(plan, p, stride, on_step)

    def _evaluate(self, group, w, stride, n_z):
        idx = []
        masks = []
        for plan in group:
            step = plan.done // stride
            idx.append(window_slices(plan.start, plan.direction, step, w, stride, n_z))
            if plan.carried is None:
                masks.append(plan.key_mask.to(self.device).expand(w, -1, -1))
            else:
                masks.append(plan.carried)
        images = self.image[torch.tensor(idx, device=self.device)]
        with torch.inference_mode():
            logits = self.model(images[:, None], torch.stack(masks)[:, None].float())
            probs = foreground_probability(logits)
        self.windows_evaluated += len(group)
        return probs

    @staticmethod
    def _advance(plan: ChainPlan, prob: torch.Tensor, stride: int, on_step) -> None:
        count = min(stride, plan.length - plan.done)
        new = prob[:count].to("cpu", torch.float16)
        slices = plan.slices(count)
        plan.outputs.extend(new)
        plan.done += count
        plan.carried = prob
        if on_step is not None:
            on_step(plan, slices, new)
        if plan.stop_area is not None:
            for area in (new.float() >= 0.5).sum(dim=(1, 2)).tolist():
                plan.small_run = plan.small_run + 1 if area < plan.stop_area else 0
            if plan.small_run >= 3:
                plan.stopped = True
