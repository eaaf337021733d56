"""The split's parameters, apart so that the command line can show their defaults without numpy."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SplitParameters:
    """Every choice the split depends on; stored with each result because shares depend on them."""

    # Defaults tuned on demo phantoms (README.md, "Choosing the defaults"): the spec's starting values
    # but the 90th percentile instead of the 85th, which called a quarter of the faint stretches distinct.
    mode: str = "2d"                    # "2d": per sweep slice; "3d": 6-neighbour border, 3D kernels
    sigma_px: float = 1.0               # Gaussian smoothing before Sobel, pixels
    tol_px: int = 1                     # edge looked up within this radius of a border voxel, pixels
    threshold_method: str = "percentile"  # "percentile" or "otsu"
    edge_percentile: float = 90.0       # used by "percentile"

    def __post_init__(self):
        if self.mode not in ("2d", "3d"):
            raise ValueError(f"mode must be '2d' or '3d', got {self.mode!r}")
        if self.threshold_method not in ("percentile", "otsu"):
            raise ValueError(f"threshold_method must be 'percentile' or 'otsu', got {self.threshold_method!r}")
        if self.sigma_px < 0 or self.tol_px < 0:
            raise ValueError("sigma_px and tol_px must not be negative")
        if not 0.0 <= self.edge_percentile <= 100.0:
            raise ValueError(f"edge_percentile must lie in [0, 100], got {self.edge_percentile}")

    def to_dict(self) -> dict:
        return asdict(self)
