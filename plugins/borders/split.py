"""Split each muscle's reference border into distinct (visible) and completed (drawn from anatomy) parts.

Thesis definition: B_distinct = Thres(I * K_smooth * K_sobel) ⊙ B, B_completed = B \\ B_distinct.
The sources leave the recipe open; ours (spec section 3) works per sweep slice by default, because
visibility is judged on the B-mode slice, with depth along the rows:

  border      label voxels with a 4-neighbour of another label in the slice, or on the image edge
  edge        Sobel gradient magnitude of the slice smoothed by a Gaussian of `sigma_px`
  tolerance   the edge maximum over a disc of `tol_px` (drawn borders sit a pixel beside bright lines)
  threshold   the `edge_percentile` of the edge over the whole volume (or Otsu), not per slice, so that
              a slice where nothing is visible is not forced to have distinct borders
  distinct    border voxels whose tolerated edge is strictly above the threshold

Arrays are numpy (z, y, x) = (sweep, depth, lateral).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from usannotator.metrics import surface
from usannotator_plugins.borders.parameters import SplitParameters

KINDS = ("distinct", "completed")
SLAB = 32  # slices filtered at a time: bounds the temporary float arrays on thesis-sized volumes


@dataclass
class BorderSplit:
    """Reference border voxels of each kind, carrying their muscle's label value (0 elsewhere)."""

    distinct: np.ndarray
    completed: np.ndarray
    threshold: float                    # edge strength above which a border voxel is distinct
    parameters: SplitParameters = field(default_factory=SplitParameters)

    @property
    def border(self) -> np.ndarray:
        return self.distinct + self.completed  # disjoint by construction

    @property
    def muscles(self) -> list[int]:
        return [int(v) for v in np.unique(self.border) if v != 0]

    def kind(self, name: str) -> np.ndarray:
        if name not in KINDS:
            raise ValueError(f"border kind must be one of {KINDS}, got {name!r}")
        return getattr(self, name)

    def counts(self) -> dict:
        """{muscle or "all": {"distinct": n, "completed": n}} in voxels."""
        out = {m: {k: int(np.count_nonzero(self.kind(k) == m)) for k in KINDS} for m in self.muscles}
        out["all"] = {k: int(np.count_nonzero(self.kind(k))) for k in KINDS}
        return out

    def shares(self) -> dict:
        """{muscle or "all": {"distinct": %, "completed": %}} of that muscle's border (NaN when empty)."""
        out = {}
        for key, n in self.counts().items():
            total = n["distinct"] + n["completed"]
            out[key] = {k: 100.0 * n[k] / total if total else float("nan") for k in KINDS}
        return out

    def summary(self) -> dict:
        return {"parameters": self.parameters.to_dict(), "threshold": self.threshold,
                "counts": {str(k): v for k, v in self.counts().items()},
                "shares_pct": {str(k): v for k, v in self.shares().items()}}


def label_border(labels: np.ndarray, mode: str = "2d") -> np.ndarray:
    """Border voxels of every label (value kept, 0 elsewhere): a one-voxel inner boundary.

    A voxel of label L is on the border when a neighbour has another label or lies outside the image;
    so each border voxel belongs to exactly one muscle.
    """
    border = np.zeros_like(labels)
    for value in (int(v) for v in np.unique(labels) if v != 0):
        border[_muscle_border(labels == value, mode)] = value
    return border


def _muscle_border(mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "3d":
        return surface(mask)
    # erosion with 4-neighbours inside each slice, image edge counting as outside
    return np.stack([surface(plane) for plane in mask]) if mask.size else mask


def edge_strength(image: np.ndarray, sigma_px: float = 1.0, mode: str = "2d") -> np.ndarray:
    """Sobel gradient magnitude (float32) of the Gaussian-smoothed image, per slice in "2d" mode."""
    img = np.asarray(image, dtype=np.float32)
    axes = (1, 2) if mode == "2d" else (0, 1, 2)
    sigma = [sigma_px if a in axes else 0.0 for a in range(3)]
    smooth = ndimage.gaussian_filter(img, sigma) if sigma_px > 0 else img
    squared = np.zeros_like(smooth)
    for axis in axes:
        squared += _sobel(smooth, axis, axes) ** 2
    return np.sqrt(squared)


def _sobel(img: np.ndarray, axis: int, axes) -> np.ndarray:
    # scipy's sobel smooths across every other axis, sweep included; build it only from in-plane axes
    out = ndimage.correlate1d(img, [-1.0, 0.0, 1.0], axis=axis, mode="nearest")
    for other in axes:
        if other != axis:
            out = ndimage.correlate1d(out, [1.0, 2.0, 1.0], axis=other, mode="nearest")
    return out


def tolerated(strength: np.ndarray, tol_px: int, mode: str = "2d") -> np.ndarray:
    """Maximum of the edge strength over a disc (ball in "3d") of radius `tol_px`."""
    if tol_px <= 0:
        return strength
    r = int(tol_px)
    grid = np.mgrid[-r:r + 1, -r:r + 1, -r:r + 1]
    ball = (grid ** 2).sum(axis=0) <= r * r
    footprint = ball[r:r + 1] if mode == "2d" else ball  # the disc in the slice plane
    return ndimage.maximum_filter(strength, footprint=footprint, mode="nearest")


def edge_threshold(strength: np.ndarray, method: str = "percentile", percentile: float = 90.0,
                   field_of_view: np.ndarray | None = None) -> float:
    """Volume-wide threshold on edge strength; zeros outside a field of view would drag it down."""
    values = strength[field_of_view.astype(bool)] if field_of_view is not None else strength.ravel()
    if values.size == 0:
        raise ValueError("the field of view holds no voxel")
    if method == "otsu":
        return otsu(values)
    return float(np.percentile(values, percentile))


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut maximising the between-class variance of a histogram."""
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (m0 / w0 - (m0[-1] - m0) / w1) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    # empty bins between two modes make a plateau of equal scores: cut in its middle
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    gaps = np.flatnonzero(np.diff(best) > 1)
    plateau = best[: gaps[0] + 1] if gaps.size else best
    return float((edges[plateau[0] + 1] + edges[plateau[-1] + 1]) / 2)


def split_borders(image: np.ndarray, labels: np.ndarray, parameters: SplitParameters | None = None,
                  field_of_view: np.ndarray | None = None, progress=None) -> BorderSplit:
    """Distinct and completed parts of every muscle's reference border.

    `progress` (a usannotator Progress, optional) is updated between slabs, so Cancel stops the work.
    """
    p = parameters or SplitParameters()
    image, labels = np.asarray(image), np.asarray(labels)
    if image.shape != labels.shape or image.ndim != 3:
        raise ValueError(f"image {image.shape} and labels {labels.shape} need the same 3D shape")
    border = label_border(labels, p.mode)
    strength = _edge_by_slabs(image, p, progress)
    threshold = edge_threshold(strength, p.threshold_method, p.edge_percentile, field_of_view)
    visible = _visible_by_slabs(strength, p, threshold)
    distinct = np.where(visible, border, 0).astype(labels.dtype)
    completed = np.where(visible, 0, border).astype(labels.dtype)
    if progress is not None:
        progress.update(1.0, "borders split")
    return BorderSplit(distinct, completed, threshold, p)


def _halo(p: SplitParameters, radius: int) -> int:
    # slices a 3D kernel reaches beyond a slab; 2D kernels stay inside their slice
    return radius if p.mode == "3d" else 0


def _slabs(n: int, halo: int):
    for start in range(0, n, SLAB):
        stop = min(start + SLAB, n)
        lo, hi = max(start - halo, 0), min(stop + halo, n)
        yield start, stop, lo, hi


def _edge_by_slabs(image: np.ndarray, p: SplitParameters, progress) -> np.ndarray:
    out = np.empty(image.shape, dtype=np.float32)
    halo = _halo(p, int(4 * p.sigma_px + 0.5) + 1)  # scipy truncates the Gaussian at 4 sigma; +1 Sobel
    for start, stop, lo, hi in _slabs(image.shape[0], halo):
        out[start:stop] = edge_strength(image[lo:hi], p.sigma_px, p.mode)[start - lo:stop - lo]
        if progress is not None:
            progress.update(0.8 * stop / image.shape[0], "edge strength")
    return out


def _visible_by_slabs(strength: np.ndarray, p: SplitParameters, threshold: float) -> np.ndarray:
    """Where the tolerated edge is strictly above the threshold (strict: a flat image gives no distinct)."""
    out = np.empty(strength.shape, dtype=bool)
    for start, stop, lo, hi in _slabs(strength.shape[0], _halo(p, p.tol_px)):
        out[start:stop] = tolerated(strength[lo:hi], p.tol_px, p.mode)[start - lo:stop - lo] > threshold
    return out
