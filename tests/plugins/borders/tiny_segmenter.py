"""A small real segmenter for the activation-map tests: a two-level U-Net trained in a few seconds on
B-mode-like slices of one muscle band under fat, whose deep fascia is always bright and whose
superficial fascia is bright over a random stretch and missing elsewhere (so the upper border is
distinct in places and completed in others), wrapped in the host's Segmenter API the way a model
plugin offers one."""

from __future__ import annotations

import numpy as np

from usannotator.plugins.api import Segmenter

HEIGHT, WIDTH = 48, 64


def band_slice(rng, fascia_until=None):
    """(image float32, band mask): a muscle band between a superficial and a deep fascia.

    The superficial fascia is drawn only left of `fascia_until` (a column; drawn at random, often all
    or none of the width); the deep one everywhere.
    """
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    top = rng.uniform(12, 20) + rng.uniform(-2, 2) * np.sin(xx / WIDTH * np.pi * rng.uniform(0.5, 2))
    bottom = top + rng.uniform(14, 20)
    band = (yy >= top) & (yy < bottom)
    until = rng.uniform(-0.2 * WIDTH, 1.2 * WIDTH) if fascia_until is None else fascia_until
    image = 0.3 + 0.08 * rng.standard_normal((HEIGHT, WIDTH))
    image[band] += 0.1                                        # muscle slightly brighter than fat
    image[(np.abs(yy - top + 0.5) < 1.2) & (xx < until)] += 1.0
    image[np.abs(yy - bottom + 0.5) < 1.2] += 1.0
    return image.astype(np.float32), band


def build_net(channels=8):
    import torch
    from torch import nn
    import torch.nn.functional as F

    def block(a, b):
        # in-place ReLUs, as many real networks have: hooks must cope with them
        return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(b, b, 3, padding=1),
                             nn.ReLU(inplace=True))

    class TinyUNet(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.enc1, self.enc2, self.bottom = block(1, c), block(c, 2 * c), block(2 * c, 2 * c)
            self.dec2, self.dec1 = block(4 * c, 2 * c), block(3 * c, c)
            self.out = nn.Conv2d(c, 1, 1)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(F.max_pool2d(e1, 2))
            b = self.bottom(F.max_pool2d(e2, 2))
            d2 = self.dec2(torch.cat([F.interpolate(b, scale_factor=2), e2], 1))
            d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2), e1], 1))
            return self.out(d1)

    return TinyUNet(channels)


def train(steps=60, seed=0):
    """The trained network in eval mode. One thread, so that the same seed gives the same weights."""
    import torch
    import torch.nn.functional as F

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(steps, seed)
    finally:
        torch.set_num_threads(threads)


def _train(steps, seed):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net()
    optimiser = torch.optim.Adam(net.parameters(), 3e-3)
    for _ in range(steps):
        batch = [band_slice(rng) for _ in range(8)]
        x = torch.tensor(np.stack([b[0] for b in batch])[:, None])
        y = torch.tensor(np.stack([b[1] for b in batch])[:, None], dtype=torch.float32)
        optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(net(x), y).backward()
        optimiser.step()
    return net.eval()


class BandSegmenter(Segmenter):
    """Label 1 only; its layers in the order a model plugin declares them (first = default)."""

    name = "tiny-band"
    title = "Tiny band U-Net"

    def __init__(self, net):
        self.net = net

    def load(self, device="cpu"):
        return self.net.to(device)

    def layers(self, model):
        # dec2 is the penultimate decoder stage; dec1 is followed only by the 1x1 output convolution
        return {"dec2": model.dec2, "bottom": model.bottom, "dec1": model.dec1, "out": model.out,
                "dec2 first convolution": model.dec2[0]}

    def slice_logits(self, model, image, labels, z, label):
        import torch

        x = torch.as_tensor(np.asarray(image[z], np.float32)[None, None])
        return model(x)[0, 0]
