"""Image geometry and the one place where index, world and VTK conventions meet.

Arrays are in numpy order (z, y, x) = (sweep, depth, lateral), as SimpleITK returns them.
Geometry keeps spacing, origin and direction in ITK order (x, y, z), as the files store them,
so that every round trip through SimpleITK is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _tuple(values, n, name):
    values = tuple(float(v) for v in values)
    if len(values) != n:
        raise ValueError(f"{name} needs {n} values, got {len(values)}")
    return values


@dataclass(frozen=True)
class Geometry:
    spacing: tuple = (1.0, 1.0, 1.0)          # mm, ITK order (x, y, z)
    origin: tuple = (0.0, 0.0, 0.0)           # mm, ITK order
    direction: tuple = field(default=(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))  # row-major 3x3, ITK order

    def __post_init__(self):
        object.__setattr__(self, "spacing", _tuple(self.spacing, 3, "spacing"))
        object.__setattr__(self, "origin", _tuple(self.origin, 3, "origin"))
        object.__setattr__(self, "direction", _tuple(self.direction, 9, "direction"))
        if min(self.spacing) <= 0:
            raise ValueError(f"spacing must be positive, got {self.spacing}")

    @property
    def spacing_zyx(self) -> tuple:
        return self.spacing[::-1]

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.array(self.direction).reshape(3, 3)

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0

    def index_to_world(self, index_zyx) -> np.ndarray:
        """World position (x, y, z) in mm of a (possibly fractional) numpy index (z, y, x)."""
        ijk = np.asarray(index_zyx, dtype=float)[..., ::-1]
        return np.asarray(self.origin) + (ijk * np.asarray(self.spacing)) @ self.direction_matrix.T

    def world_to_index(self, world_xyz) -> np.ndarray:
        """Fractional numpy index (z, y, x) of a world position (x, y, z) in mm."""
        offset = np.asarray(world_xyz, dtype=float) - np.asarray(self.origin)
        ijk = (offset @ np.linalg.inv(self.direction_matrix).T) / np.asarray(self.spacing)
        return ijk[..., ::-1]

    def matches(self, other: "Geometry", tol: float = 1e-4) -> bool:
        return all(
            np.allclose(a, b, atol=tol)
            for a, b in ((self.spacing, other.spacing), (self.origin, other.origin),
                         (self.direction, other.direction))
        )

    def describe_mismatch(self, other: "Geometry") -> str:
        parts = []
        for name in ("spacing", "origin", "direction"):
            a, b = getattr(self, name), getattr(other, name)
            if not np.allclose(a, b, atol=1e-4):
                parts.append(f"{name} {tuple(round(v, 4) for v in b)} instead of {tuple(round(v, 4) for v in a)}")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {"spacing": list(self.spacing), "origin": list(self.origin), "direction": list(self.direction)}

    @classmethod
    def from_dict(cls, d: dict) -> "Geometry":
        return cls(d["spacing"], d["origin"], d["direction"])


# How each slice orientation is laid out on screen: (row axis, column axis) of the (z, y, x) array.
# Depth (axis 1) always runs down the screen, as on the scanner; the sweep runs across otherwise.
SLICE_AXES = {0: (1, 2), 1: (0, 2), 2: (1, 0)}
ORIENTATION_NAMES = {0: "Cross-section (sweep)", 1: "Coronal (depth)", 2: "Longitudinal (lateral)"}


def slice_of(array: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The 2D slice shown for `axis` at `index`, rows and columns as on screen (a view, no copy)."""
    sl = np.take(array, index, axis=axis)
    row_axis, col_axis = SLICE_AXES[axis]
    # np.take drops `axis`; the remaining axes keep their order, so only the lateral view transposes
    return sl.T if row_axis > col_axis else sl


def voxel_at(axis: int, index: int, row: int, col: int) -> tuple:
    """The (z, y, x) voxel under a (row, col) pixel of the slice `index` along `axis`."""
    voxel = [0, 0, 0]
    row_axis, col_axis = SLICE_AXES[axis]
    voxel[axis], voxel[row_axis], voxel[col_axis] = index, row, col
    return tuple(voxel)


def slice_region(axis: int, index: int, rows: slice, cols: slice) -> tuple:
    """The (z, y, x) box of a rows x cols rectangle on the slice `index` along `axis`."""
    region = [None, None, None]
    row_axis, col_axis = SLICE_AXES[axis]
    region[axis], region[row_axis], region[col_axis] = slice(index, index + 1), rows, cols
    return tuple(region)
