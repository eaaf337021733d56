"""Interpolating muscle labels between key slices: ZOI, shape-based (sdf) and morphological (ITK).

Qt-free. `interpolate` never changes its input: it returns an InterpolationResult (the new values of
one box of the label map, which voxels change, and which (label, slice) pairs it recomputed) that
the caller previews, applies as one undoable edit, or discards.

Write rules, shared by every method (spec section 4.4):
- Each label of the run recomputes only the slices strictly between its first and last key slice
  that are not key slices (its "gap slices"). Key slices and everything outside that extent stay
  as they are, bit for bit. Locked labels are not in the run and are never changed.
- On a gap slice of label L, the old voxels of L are cleared (they are recomputed). L may then
  write only on background, or on a voxel of another label M of the run for which the slice is a
  gap slice too (M recomputes it as well). So interpolation never overwrites a locked label, a
  label outside the run, or any label on its own key slice: neighbouring muscles do not eat each
  other's drawn outlines or untouched voxels.
- Conflicts: a voxel claimed by several labels goes to the one with the highest score: the
  smoothed occupancy F for ZOI, the depth inside the interpolated shape (mm) for sdf, and for the
  morphological method (which gives no per-voxel score) the label whose nearest key slice is
  closer. Ties go to the lower label value.
- An empty key slice inside a label's extent means the muscle is absent there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import boxes
from .morphological import MorphologicalField
from .shape_based import SignedDistanceField
from .zero_order import (DEFAULT_RADIUS, DEFAULT_SIGMA, DEFAULT_SOURCE_RULE, DEFAULT_THRESHOLD,
                         ZeroOrderField)

METHODS = ("zoi", "sdf", "morphological")
METHOD_TITLES = {"zoi": "zero-order (ZOI)", "sdf": "shape-based (signed distance)",
                 "morphological": "morphological (ITK)"}
ZOI_SETTINGS = ("source_rule", "smooth_axes", "sigma", "sigma_mm", "radius", "threshold")


@dataclass
class LabelRun:
    """One label's share of a run: its key slices and the in-plane box where it may change."""

    label: int
    keys: np.ndarray
    box: tuple

    @property
    def recomputed(self) -> np.ndarray:
        """Gap slices: strictly between the first and last key slice, and not key slices."""
        inner = np.arange(int(self.keys[0]) + 1, int(self.keys[-1]))
        return inner[~np.isin(inner, self.keys)]


@dataclass
class InterpolationResult:
    """What an interpolation would change, in the input's axis order.

    region: three slices into the label map; values: the new labels there (unchanged voxels keep
    their old value); changed: the voxels whose value changes; slices_written: {label: sweep indices}
    that label recomputed (provenance "interpolated"); settings: the method's settings as used.
    """

    region: tuple
    values: np.ndarray
    changed: np.ndarray
    slices_written: dict
    method: str
    settings: dict = field(default_factory=dict)
    sweep_axis: int = 0

    @property
    def written(self) -> list:
        """The (label, slice) pairs recomputed."""
        return [(label, int(z)) for label, zs in self.slices_written.items() for z in zs]

    @property
    def n_changed(self) -> int:
        return int(np.count_nonzero(self.changed))

    def apply_to(self, labels: np.ndarray, copy: bool = True) -> np.ndarray:
        """The label map with this result pasted in (a new array unless copy=False)."""
        out = labels.copy() if copy else labels
        np.copyto(out[self.region], self.values, where=self.changed)
        return out


def interpolate(labels: np.ndarray, key_slices: dict, locked=(), method: str = "zoi", sweep_axis: int = 0,
                spacing=None, progress=None, **settings) -> InterpolationResult:
    """Fill each label's gap slices from its key slices; see the module docstring for the rules.

    labels: integer label map (any axis order; `sweep_axis` names the sweep). key_slices: {label:
    sweep indices of its key slices} (a key slice may hold no voxel of the label: absent there);
    the run is every label listed that is not locked. spacing: voxel size in mm in numpy order
    (used by sdf and sigma_mm). progress: a usannotator.jobs.Progress (or None); cancelling raises
    Cancelled between slices. ZOI settings: source_rule ("nearest" | "smallest" | "previous"),
    smooth_axes ("3d" | "2d" | "none"), sigma (voxels, default 1.4) or sigma_mm, radius (3),
    threshold (0.5).
    """
    _check_inputs(labels, method, sweep_axis, settings)
    work = np.moveaxis(labels, sweep_axis, 0)
    spacing_work = _moved_spacing(spacing, sweep_axis)
    report = _Reporter(progress)
    runs = _plan_runs(work, key_slices, set(int(v) for v in locked))
    _extend_to_stale_voxels(work, runs)
    fields = _build_fields(work, runs, method, spacing_work, settings, report)
    region, values, changed = _fill(work, fields, report)
    written = {run.label: run.recomputed for run in runs}
    used = _settings_used(method, settings)
    return _in_input_order(region, values, changed, written, method, used, sweep_axis)


def _check_inputs(labels, method, sweep_axis, settings) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if labels.ndim != 3:
        raise ValueError(f"labels must be 3D, got {labels.ndim} dimensions")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must hold integers, got {labels.dtype}")
    if sweep_axis not in (0, 1, 2):
        raise ValueError(f"sweep_axis must be 0, 1 or 2, got {sweep_axis}")
    allowed = ZOI_SETTINGS if method == "zoi" else ()
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise TypeError(f"method {method!r} takes no setting {', '.join(unknown)}")


def _moved_spacing(spacing, sweep_axis) -> tuple:
    spacing = (1.0, 1.0, 1.0) if spacing is None else tuple(float(s) for s in spacing)
    others = [a for a in range(3) if a != sweep_axis]
    return (spacing[sweep_axis], spacing[others[0]], spacing[others[1]])


def _plan_runs(work, key_slices, locked) -> list:
    """Labels of the run (ascending), with key slices sorted; labels with no gap slice are done."""
    n_slices = work.shape[0]
    top = np.iinfo(work.dtype).max
    runs = []
    for label in sorted(int(v) for v in key_slices):
        keys = np.unique(np.asarray(key_slices[label], dtype=np.int64))
        if label == 0 or label in locked or keys.size == 0:
            continue
        if keys[0] < 0 or keys[-1] >= n_slices:
            raise ValueError(f"key slices of label {label} must lie in 0..{n_slices - 1}")
        if not 0 < label <= top:
            raise ValueError(f"label {label} does not fit the label map's type {work.dtype}")
        run = LabelRun(label, keys, boxes.EMPTY)
        if run.recomputed.size:
            run.box = boxes.union(*(boxes.of_mask(work[k] == label) for k in keys))
            runs.append(run)
    return runs


def _extend_to_stale_voxels(work, runs) -> None:
    """Grow each box over old voxels of its label on its gap slices, which must be cleared.

    A sparse input has none and costs one quick test per slice; a label map that was interpolated
    before (then had a key slice redrawn smaller) has them outside the new key masks' box.
    """
    for z, active in _active_by_slice(runs):
        plane = work[z]
        if not plane.any():
            continue
        for run in active:
            run.box = boxes.union(run.box, boxes.of_mask(plane == run.label))


def _active_by_slice(items) -> list:
    """[(z, items recomputing slice z)] in increasing z; items keep their (label) order."""
    by_slice = {}
    for item in items:
        for z in item.recomputed.tolist():
            by_slice.setdefault(z, []).append(item)
    return sorted(by_slice.items())


def _build_fields(work, runs, method, spacing, settings, report) -> list:
    share = 0.6 if method == "morphological" else 0.05      # ITK does all its work up front
    fields = []
    for i, run in enumerate(runs):
        report.update(share * i / max(len(runs), 1), f"preparing label {run.label}")
        fields.append(_Field(run, _make_field(work, run, method, spacing, settings)))
    report.share = share
    return fields


def _make_field(work, run, method, spacing, settings):
    if method == "sdf":
        return SignedDistanceField(work, run, spacing_yx=spacing[1:])
    if method == "morphological":
        return MorphologicalField(work, run)
    settings = dict(settings)
    sigma_mm = settings.pop("sigma_mm", None)
    if sigma_mm is not None:
        settings["sigma"] = tuple(float(sigma_mm) / s for s in spacing)
    return ZeroOrderField(work, run, **settings)


@dataclass
class _Field:
    """A label of the run with its method's field (`at(z)` -> candidates, score; `box`)."""

    run: LabelRun
    method_field: object

    @property
    def label(self) -> int:
        return self.run.label

    @property
    def box(self) -> tuple:
        return self.method_field.box

    @property
    def recomputed(self) -> np.ndarray:
        return self.run.recomputed


def _fill(work, fields, report) -> tuple:
    """Resolve every gap slice of the run; returns (region, values, changed) in sweep-first order."""
    plan = _active_by_slice(fields)
    if not plan:
        report.update(1.0, "nothing to interpolate")
        empty = (slice(0, 0),) * 3
        return empty, work[empty].copy(), np.zeros((0, 0, 0), dtype=bool)
    in_plane = boxes.union(*(f.box for f in fields))
    region = (slice(plan[0][0], plan[-1][0] + 1),) + in_plane
    values = work[region].copy()
    changed = np.zeros(values.shape, dtype=bool)
    for i, (z, active) in enumerate(plan):
        report.slice_done(i / len(plan), z)
        row = z - region[0].start
        _resolve_slice(z, active, work[z], values[row], changed[row], in_plane)
    report.update(1.0, "done")
    return region, values, changed


def _resolve_slice(z, active, old_plane, new_plane, changed_plane, in_plane) -> None:
    """Write one gap slice: clear what the active labels recompute, then let each claim its voxels.

    new_plane starts as a copy of old_plane. Voxels that can change ("free") are the same for
    every label of the run: background, or a label that recomputes this slice.
    """
    box = boxes.union(*(f.box for f in active))
    old = old_plane[box]
    target = boxes.within(box, in_plane)
    new = new_plane[target]
    claims = [_Claim(f, boxes.within(f.box, box), *f.method_field.at(z))
              for f in active if not boxes.is_empty(f.box)]
    _settle_conflicts(claims)
    if old.any():                                   # a sparse input's gap slices are empty
        free = old == 0
        for f in active:
            free |= old == f.label
        np.copyto(new, 0, where=free)               # recomputed: cleared, then claimed afresh
        for claim in claims:
            claim.keep_only(free[claim.part])
    for claim in claims:
        np.copyto(new[claim.part], claim.field.label, where=claim.candidates)
    np.not_equal(new, old, out=changed_plane[target])


class _Claim:
    """One label's candidate voxels on a slice, with the scores that settle conflicts."""

    def __init__(self, field, part, candidates, score):
        self.field, self.part, self.candidates, self.score = field, part, candidates, score
        self._own = False

    def keep_only(self, allowed) -> None:
        if self._own:
            self.candidates &= allowed
        else:
            self.candidates, self._own = self.candidates & allowed, True

    def lose(self, part, lost) -> None:
        self._make_own()
        self.candidates[part] &= np.logical_not(lost)

    def _make_own(self) -> None:
        if not self._own:                           # candidates may be a field's cached array
            self.candidates, self._own = self.candidates.copy(), True

    def score_in(self, part):
        return self.score if np.ndim(self.score) == 0 else self.score[part]


def _settle_conflicts(claims) -> None:
    """Where several labels claim a voxel, keep the highest score (ties: the lower label).

    Pairwise, only where boxes overlap: the winner of a voxel beats every other claimant there,
    so removing each pair's loser leaves exactly the winner.
    """
    for i, first in enumerate(claims):
        for second in claims[i + 1:]:
            overlap = boxes.intersection(first.field.box, second.field.box)
            if boxes.is_empty(overlap):
                continue
            in_first = boxes.within(overlap, first.field.box)
            in_second = boxes.within(overlap, second.field.box)
            both = first.candidates[in_first] & second.candidates[in_second]
            if not both.any():
                continue
            second_wins = np.greater(second.score_in(in_second), first.score_in(in_first))
            first.lose(in_first, both & second_wins)
            second.lose(in_second, both & np.logical_not(second_wins))


def _settings_used(method, settings) -> dict:
    if method != "zoi":
        return {}
    used = {"source_rule": DEFAULT_SOURCE_RULE, "smooth_axes": "3d", "sigma": DEFAULT_SIGMA,
            "radius": DEFAULT_RADIUS, "threshold": DEFAULT_THRESHOLD}
    if "sigma_mm" in settings:
        del used["sigma"]
    used.update(settings)
    return used


def _in_input_order(region, values, changed, written, method, used, sweep_axis) -> InterpolationResult:
    if sweep_axis != 0:
        others = [a for a in range(3) if a != sweep_axis]
        order = [None] * 3
        order[sweep_axis], order[others[0]], order[others[1]] = region
        region = tuple(order)
        values = np.moveaxis(values, 0, sweep_axis)
        changed = np.moveaxis(changed, 0, sweep_axis)
    return InterpolationResult(region, values, changed, written, method, used, sweep_axis)


class _Reporter:
    """Progress for the job runner: a message per label, a fraction per slice, Cancel between slices."""

    def __init__(self, progress):
        self.progress = progress
        self.share = 0.0
        self._last_percent = -1

    def update(self, fraction, message) -> None:
        if self.progress is not None:
            self.progress.update(fraction, message)

    def slice_done(self, fraction, z) -> None:
        if self.progress is None:
            return
        overall = self.share + (1.0 - self.share) * fraction
        percent = int(100 * overall)
        if percent != self._last_percent:       # at most a hundred messages, whatever the size
            self._last_percent = percent
            self.progress.update(overall, f"slice {z}")
        else:
            self.progress.check()
