"""A 3D ultrasound volume: voxels in numpy order (z, y, x) plus geometry."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from usannotator.core.geometry import Geometry


@dataclass
class Volume:
    array: np.ndarray                       # (z, y, x) = (sweep, depth, lateral)
    geometry: Geometry = field(default_factory=Geometry)
    sweep_axis: int = 0                     # numpy axis along which the probe moved
    depth_axis: int = 1                     # numpy axis along which depth grows (row 0 = transducer)
    name: str = ""
    path: str | None = None
    metadata: dict = field(default_factory=dict)  # e.g. PLUS per-frame tracking transforms

    def __post_init__(self):
        if self.array.ndim != 3:
            raise ValueError(f"a volume needs 3 dimensions, got {self.array.ndim}")

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def n_slices(self) -> int:
        return self.array.shape[self.sweep_axis]

    def intensity_range(self) -> tuple:
        return float(self.array.min()), float(self.array.max())
