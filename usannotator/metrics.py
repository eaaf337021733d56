"""Segmentation metrics per label, in physical units: Dice, IoU, volume, volume error, HD95, ASD."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

METRIC_NAMES = ("dice", "iou", "volume_ml", "reference_volume_ml", "volume_error_pct", "hd95_mm", "asd_mm")


def surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of the mask that touch the background (6-connectivity)."""
    if not mask.any():
        return mask
    return mask & ~ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1),
                                          border_value=0)


def surface_distances(a: np.ndarray, b: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from each surface voxel of a to the surface of b, and from b to a."""
    sa, sb = surface(a), surface(b)
    box = _union_box(sa | sb)
    sa, sb = sa[box], sb[box]
    to_b = ndimage.distance_transform_edt(~sb, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~sa, sampling=spacing)
    return to_b[sa], to_a[sb]


def _union_box(mask: np.ndarray) -> tuple:
    idx = np.argwhere(mask)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    # one voxel of margin so the distance transform sees background around the surfaces
    return tuple(slice(max(l - 1, 0), h + 1) for l, h in zip(lo, hi))


def binary_metrics(reference: np.ndarray, prediction: np.ndarray, spacing) -> dict:
    """Metrics of one label. spacing in numpy order (z, y, x), mm."""
    ref, pred = reference.astype(bool), prediction.astype(bool)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    n_ref, n_pred = int(ref.sum()), int(pred.sum())
    inter = int(np.count_nonzero(ref & pred))
    union = n_ref + n_pred - inter
    out = {
        "dice": 2 * inter / (n_ref + n_pred) if n_ref + n_pred else 1.0,
        "iou": inter / union if union else 1.0,
        "volume_ml": n_pred * voxel_ml,
        "reference_volume_ml": n_ref * voxel_ml,
        "volume_error_pct": 100.0 * abs(n_pred - n_ref) / n_ref if n_ref else (0.0 if n_pred == 0 else float("inf")),
    }
    if n_ref and n_pred:
        d_ab, d_ba = surface_distances(ref, pred, spacing)
        both = np.concatenate([d_ab, d_ba])
        out["hd95_mm"] = float(max(np.percentile(d_ab, 95), np.percentile(d_ba, 95)))
        out["asd_mm"] = float(both.mean())
    else:
        # no surface on one side: distances are undefined unless both are empty
        same = n_ref == n_pred == 0
        out["hd95_mm"] = 0.0 if same else float("inf")
        out["asd_mm"] = 0.0 if same else float("inf")
    return out


def label_metrics(reference: np.ndarray, prediction: np.ndarray, spacing, labels=None) -> dict:
    """{label: metrics} for every label in the reference (or the given ones), plus "mean"."""
    if reference.shape != prediction.shape:
        raise ValueError(f"reference shape {reference.shape} differs from prediction shape {prediction.shape}")
    if labels is None:
        labels = [int(v) for v in np.unique(reference) if v != 0]
    result = {int(v): binary_metrics(reference == v, prediction == v, spacing) for v in labels}
    if result:
        result["mean"] = {k: float(np.mean([m[k] for m in result.values()])) for k in METRIC_NAMES}
    return result
