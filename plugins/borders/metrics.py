"""Scoring a prediction separately on the distinct and the completed part of the reference border.

Per muscle L and kind k (spec section 4), with d(v) the distance in mm from reference border voxel v
to the nearest voxel of the predicted border of L (built like the reference border, measured in 3D):

  ref_share          100 |B_k| / |B|                   the reference border's composition
  recovered_of_total 100 #hits in B_k / |B|            the thesis' figure; both kinds add up to BTP
  recall             100 #hits in B_k / |B_k|          recovery within the kind (can reverse the story)
  mean_dist_mm, p95_dist_mm over B_k
  inside_*           the same two percentages with hit(v) = (prediction(v) == L) (thesis reproduction)

"all" pools the border voxels of every muscle.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from usannotator.metrics import surface_distances
from usannotator_plugins.borders.split import KINDS, BorderSplit, label_border

FIGURES = ("n_voxels", "ref_share", "recovered_of_total", "recall", "mean_dist_mm", "p95_dist_mm",
           "inside_recovered_of_total", "inside_recall")
DEFAULT_TOLERANCE_MM = 1.0


def border_metrics(split: BorderSplit, prediction: np.ndarray, spacing_zyx, tolerance_mm: float = DEFAULT_TOLERANCE_MM) -> dict:
    """{"muscles": {L: {"distinct": {...}, "completed": {...}, "btp": %, ...}}, "all": {...},
    "notes": [...], "tolerance_mm": ..., "split": split.summary()}. Muscles the prediction lacks: NaN."""
    if prediction.shape != split.distinct.shape:
        raise ValueError(f"prediction shape {prediction.shape} differs from the reference {split.distinct.shape}")
    if tolerance_mm < 0:
        raise ValueError(f"the tolerance must not be negative, got {tolerance_mm} mm")
    predicted_border = label_border(np.asarray(prediction), split.parameters.mode)
    notes, per_voxel = _foreign_labels(split, prediction), {}
    for muscle in split.muscles:
        per_voxel[muscle] = voxel_scores(split, prediction, predicted_border, muscle, spacing_zyx)
        if per_voxel[muscle] is None:
            notes.append(f"label {muscle}: the prediction does not contain it; its figures are NaN")
    muscles = {m: _figures(v, tolerance_mm) for m, v in per_voxel.items()}
    return {"tolerance_mm": float(tolerance_mm), "muscles": muscles, "all": _pooled(per_voxel, tolerance_mm),
            "notes": notes, "split": split.summary()}


def _foreign_labels(split, prediction) -> list[str]:
    extra = sorted(set(int(v) for v in np.unique(prediction)) - {0} - set(split.muscles))
    return [f"prediction labels {extra} have no reference border; they are not scored"] if extra else []


def voxel_scores(split, prediction, predicted_border, muscle, spacing):
    """Per reference border voxel of `muscle` (C order): kind, distance (mm), inside the prediction."""
    border = split.border == muscle
    mine = predicted_border == muscle
    if not mine.any():
        return None
    # surface() of a one-voxel border is the border itself (each of its voxels has a neighbour outside
    # it), so the host's surface distances measure border to border here
    distances, _ = surface_distances(border, mine, spacing)
    return {"distinct": (split.distinct == muscle)[border], "distance": distances,
            "inside": (prediction == muscle)[border]}


def _figures(scores, tolerance_mm) -> dict:
    if scores is None:
        nan = {name: math.nan for name in FIGURES}
        return {**{k: dict(nan) for k in KINDS}, "btp": math.nan, "inside_btp": math.nan}
    total = scores["distance"].size
    out = {}
    for kind in KINDS:
        members = scores["distinct"] if kind == "distinct" else ~scores["distinct"]
        out[kind] = _kind_figures(scores["distance"][members], scores["inside"][members], total, tolerance_mm)
    out["btp"] = out["distinct"]["recovered_of_total"] + out["completed"]["recovered_of_total"]
    out["inside_btp"] = out["distinct"]["inside_recovered_of_total"] + out["completed"]["inside_recovered_of_total"]
    return out


def _kind_figures(distance, inside, total, tolerance_mm) -> dict:
    n = distance.size
    hits = int(np.count_nonzero(distance <= tolerance_mm))
    inside_hits = int(np.count_nonzero(inside))
    return {
        "n_voxels": n,
        "ref_share": 100.0 * n / total,
        "recovered_of_total": 100.0 * hits / total,
        "recall": 100.0 * hits / n if n else math.nan,
        "mean_dist_mm": float(distance.mean()) if n else math.nan,
        "p95_dist_mm": float(np.percentile(distance, 95)) if n else math.nan,
        "inside_recovered_of_total": 100.0 * inside_hits / total,
        "inside_recall": 100.0 * inside_hits / n if n else math.nan,
    }


def _pooled(per_voxel, tolerance_mm) -> dict:
    found = [v for v in per_voxel.values() if v is not None]
    if not found:
        return _figures(None, tolerance_mm)
    # muscles missing from the prediction are left out of the pool; their NaN and a note say so
    pooled = {key: np.concatenate([v[key] for v in found]) for key in ("distinct", "distance", "inside")}
    return _figures(pooled, tolerance_mm)


def metrics_rows(result: dict, names: dict | None = None) -> list[dict]:
    """One row per muscle (and "all") and kind: the flat table behind metrics.csv."""
    names = names or {}
    rows = []
    groups = [(m, names.get(m, str(m)), f) for m, f in result["muscles"].items()] + [("all", "all", result["all"])]
    for muscle, name, figures in groups:
        for kind in KINDS:
            rows.append({"label": muscle, "name": name, "kind": kind, **figures[kind],
                         "btp": figures["btp"], "tolerance_mm": result["tolerance_mm"]})
    return rows


def metrics_csv(result: dict, names: dict | None = None) -> str:
    rows = metrics_rows(result, names)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return out.getvalue()


def _csv_value(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return value


def jsonable(value):
    """The result with string keys and NaN as null, so that strict JSON readers accept it."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    return value
