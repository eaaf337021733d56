"""Parametric Tversky loss with learned false-positive / false-negative weights.

Per batch element, sums over the window (D, H, W):
  TP = sum p g, FP = sum p (1 - g), FN = sum (1 - p) g,
  (alpha, beta) = softmax(omega), T = (TP + 1) / (TP + alpha FP + beta FN + 1), loss = 1 - mean(T).
alpha weighs false positives, beta misses; alpha + beta = 1 by construction.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn as nn

SMOOTHING = 1.0
FAITHFUL_WARN_RANGE = (0.2, 0.8)


class ParametricTversky(nn.Module):
    def __init__(self, alpha_range: tuple | None = None, smoothing: float = SMOOTHING):
        super().__init__()
        # equal weights: training starts as the soft Dice loss
        self.omega = nn.Parameter(torch.zeros(2))
        self.alpha_range = tuple(alpha_range) if alpha_range else None
        self.smoothing = smoothing

    def weights(self):
        """(alpha, beta) as tensors; alpha + beta = 1."""
        alpha, beta = torch.softmax(self.omega, dim=0)
        return alpha, beta

    @property
    def alpha(self) -> float:
        return float(self.weights()[0].detach())

    @property
    def beta(self) -> float:
        return float(self.weights()[1].detach())

    def forward(self, probability, target):
        """probability, target: (B, D, H, W) foreground probability and target in [0, 1]."""
        if probability.shape != target.shape:
            raise ValueError(f"probability {tuple(probability.shape)} and target {tuple(target.shape)} differ")
        dims = tuple(range(1, probability.ndim))
        tp = (probability * target).sum(dims)
        fp = (probability * (1 - target)).sum(dims)
        fn = ((1 - probability) * target).sum(dims)
        alpha, beta = self.weights()
        s = self.smoothing
        tversky = (tp + s) / (tp + alpha * fp + beta * fn + s)
        return 1 - tversky.mean()

    @torch.no_grad()
    def keep_in_range(self) -> None:
        """After an optimiser step: hold alpha inside its range by projecting omega.

        Projection rather than clamping inside forward(): a clamp there zeroes the gradient, and a
        weight stuck at the bound could never come back."""
        if self.alpha_range is None:
            lo, hi = FAITHFUL_WARN_RANGE
            if not lo <= self.alpha <= hi:
                warnings.warn(f"Tversky alpha = {self.alpha:.3f} left [{lo}, {hi}]: the loss now tolerates "
                              f"{'false positives' if self.alpha < lo else 'misses'} strongly", stacklevel=2)
            return
        lo, hi = self.alpha_range
        alpha = min(max(self.alpha, lo), hi)
        if alpha != self.alpha:
            # softmax(omega)[0] = sigmoid(omega0 - omega1); keep the pair's mean unchanged
            gap = math.log(alpha / (1 - alpha))
            mean = float(self.omega.mean())
            self.omega.copy_(torch.tensor([mean + gap / 2, mean - gap / 2]))
