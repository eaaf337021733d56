"""From a volume's slices to the network's slice grid and back (spec section 7).

lite: each slice resized to slice_size x slice_size (linear for images; linear then >= 0.5 for
masks); probabilities resized back linearly before thresholding.
full: centre crop or zero pad to slice_size x slice_size; cropped-away pixels are predicted
background on the way back.
Intensities: per-volume z-score over non-zero voxels, so other scanners work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from usannotator_plugins.ifss.config import IFSSConfig

MIN_STD = 1e-6


@dataclass(frozen=True)
class IntensityStats:
    mean: float
    std: float

    @classmethod
    def of(cls, volume: np.ndarray) -> "IntensityStats":
        """Statistics over non-zero voxels (zero is usually outside the scanned sector)."""
        values = volume[volume != 0]
        if values.size == 0:
            return cls(0.0, 1.0)
        values = values.astype(np.float64)
        return cls(float(values.mean()), max(float(values.std()), MIN_STD))

    def apply(self, x):
        return (x - self.mean) / self.std


class SliceGrid:
    """Maps (n, Y, X) stacks of volume slices to (n, s, s) network slices and back."""

    def __init__(self, slice_shape: tuple, config: IFSSConfig):
        self.shape = tuple(int(v) for v in slice_shape)
        self.size = config.slice_size
        self.fit = config.fit
        if self.fit not in ("resize", "crop"):
            raise ValueError(f"unknown slice fit {self.fit!r}")
        # crop/pad offsets: volume index = grid index + offset (negative offset = padding)
        self.offsets = tuple((n - self.size) // 2 for n in self.shape)

    def image(self, slices: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """fill: the value of padding (a z-scored zero voxel, so padding looks like no signal)."""
        if self.fit == "resize":
            return self._resize(slices.float(), (self.size, self.size), antialias=True)
        return self._to_crop(slices.float(), fill)

    def masks(self, slices: torch.Tensor) -> torch.Tensor:
        if self.fit == "resize":
            soft = self._resize(slices.float(), (self.size, self.size), antialias=True)
            return (soft >= 0.5).float()
        return self._to_crop(slices.float())

    def back(self, probability: torch.Tensor) -> torch.Tensor:
        """Probabilities on the grid -> probabilities on the volume's slices."""
        return self.to_volume(probability.float()).clamp(0, 1)

    def to_volume(self, values: torch.Tensor) -> torch.Tensor:
        """Any per-pixel values (e.g. logits, differentiably) from the grid to the volume's slices."""
        if self.fit == "resize":
            return self._resize(values, self.shape, antialias=False)
        return self._from_crop(values)

    def mask_outside_crop(self, mask: np.ndarray) -> bool:
        """True when a (Y, X) mask has foreground the crop throws away."""
        if self.fit != "crop":
            return False
        inside = np.zeros(mask.shape, dtype=bool)
        inside[self._volume_window()] = True
        return bool((mask.astype(bool) & ~inside).any())

    @staticmethod
    def _resize(x, size, antialias):
        if tuple(x.shape[-2:]) == tuple(size):
            return x.clone()
        return F.interpolate(x[:, None], size=size, mode="bilinear", align_corners=False,
                             antialias=antialias)[:, 0]

    def _volume_window(self):
        return tuple(slice(max(o, 0), max(o, 0) + min(self.size, n)) for o, n in zip(self.offsets, self.shape))

    def _grid_window(self):
        return tuple(slice(max(-o, 0), max(-o, 0) + min(self.size, n)) for o, n in zip(self.offsets, self.shape))

    def _to_crop(self, x, fill=0.0):
        out = x.new_full((x.shape[0], self.size, self.size), fill)
        out[(slice(None),) + self._grid_window()] = x[(slice(None),) + self._volume_window()]
        return out

    def _from_crop(self, p):
        out = p.new_zeros((p.shape[0],) + self.shape)
        out[(slice(None),) + self._volume_window()] = p[(slice(None),) + self._grid_window()]
        return out


def prepare_image(volume: np.ndarray, config: IFSSConfig, chunk: int = 64):
    """The whole volume z-scored and on the network grid: ((Z, s, s) float32 tensor, grid, stats)."""
    stats = IntensityStats.of(volume)
    grid = SliceGrid(volume.shape[1:], config)
    parts = []
    for z0 in range(0, volume.shape[0], chunk):
        block = torch.from_numpy(np.ascontiguousarray(volume[z0:z0 + chunk], dtype=np.float32))
        parts.append(grid.image(stats.apply(block), fill=stats.apply(0.0)))
    return torch.cat(parts), grid, stats
