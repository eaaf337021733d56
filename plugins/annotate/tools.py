"""Slice tools: each turns one gesture on a slice view into ONE Edit for `Document.apply_edit`.

Coordinates. A gesture happens on `ViewSlice(axis, index)`: the slice `index` along numpy axis
`axis` of the (z, y, x) label map. Points are (row, col) pixels of that slice as the views show it
(`usannotator.core.geometry.SLICE_AXES`: depth runs down the rows in every view), floats allowed,
a pixel's centre at integer coordinates. Points outside the slice are clipped.

What each builder returns. An Edit whose region is the bounding box of the footprint (never the
whole volume), or None when the gesture cannot change anything (entirely outside the slice, no
hole to fill, seed already on the label). Undo, provenance (the slice becomes a key slice), locks
and the overwrite rule are the Document's job.

Errors. `NoActiveLabelError` when no label (None or 0) or a label missing from the table is
chosen; `LockedLabelError` when the active label is locked, or hidden under the rule "visible
unlocked labels only" (that rule protects hidden labels, also as paint); `NotEnclosedError` when a
flood fill would leak to the slice edge. Painting a hidden label under the other rules is allowed,
as in ITK-SNAP: `label_warning` gives the line the GUI shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from usannotator.core.edits import Edit, LockedLabelError, OverwriteRule, bounding_box, compose
from usannotator.core.errors import UserError
from usannotator.core.geometry import SLICE_AXES, slice_of, slice_region

# A pen thinner than half a voxel would leave gaps in a diagonal line; at 0.5 every line drawn is
# 8-connected, which is what keeps a 4-connected flood fill from leaking through it.
MIN_RADIUS = 0.5


class NoActiveLabelError(UserError):
    """Raised when a tool is used with no label selected, or with a value the label table lacks."""


class NotEnclosedError(UserError):
    """Raised when a flood fill's region reaches the edge of the slice (the outline is not closed)."""


@dataclass(frozen=True)
class ViewSlice:
    """The slice a view shows: index `index` along numpy axis `axis` (0 sweep, 1 depth, 2 lateral)."""

    axis: int
    index: int

    @property
    def rows_cols(self) -> tuple:
        return SLICE_AXES[self.axis]


# ----- what the GUI calls, one function per tool -----

def brush(doc, where: ViewSlice, points, radius: float, label, *, sphere: bool = False,
          rule: OverwriteRule = OverwriteRule.EVERYTHING) -> Edit | None:
    """Paint `label` along a stroke (a polyline; one point is a dab) with a disk, or a sphere."""
    label = active_label(doc, label, rule)
    found = stroke_footprint(doc.labels.shape, where, points, radius, sphere)
    if found is None:
        return None
    region, mask = found
    name = "Brush 3D" if sphere else "Brush"
    return Edit(region, label, mask, describe(doc, name, label, region), rule=rule)


def erase(doc, where: ViewSlice, points, radius: float, *, label=None, sphere: bool = False,
          rule: OverwriteRule = OverwriteRule.EVERYTHING) -> Edit | None:
    """Set voxels under the stroke to background: every label, or only `label` when given.

    "Paint over background only" means nothing to an eraser, so it then behaves as "everything";
    "visible unlocked only" keeps hidden labels, and locked labels are never erased.
    """
    if label is not None:
        label = active_label(doc, label, rule)
    found = stroke_footprint(doc.labels.shape, where, points, radius, sphere)
    if found is None:
        return None
    region, mask = found
    old = doc.labels[region]
    mask = mask & ((old != 0) if label is None else (old == label))
    if rule is OverwriteRule.BACKGROUND_ONLY:
        rule = OverwriteRule.EVERYTHING
    return Edit(region, 0, mask, describe(doc, "Erase", label, region), rule=rule)


def polygon_fill(doc, where: ViewSlice, vertices, label, *, rule: OverwriteRule = OverwriteRule.EVERYTHING,
                 tool_name: str = "Polygon") -> Edit | None:
    """Fill the closed polygon (its inside and its outline) with `label`."""
    label = active_label(doc, label, rule)
    shape2 = _slice_shape(doc.labels.shape, where)
    found = _polygon_mask(shape2, np.asarray(vertices, dtype=float).reshape(-1, 2))
    if found is None:
        return None
    region, mask = _to_volume(where, *found)
    return Edit(region, label, mask, describe(doc, tool_name, label, region), rule=rule)


def freehand_fill(doc, where: ViewSlice, contour, label, *,
                  rule: OverwriteRule = OverwriteRule.EVERYTHING) -> Edit | None:
    """A closed freehand contour: a polygon with one vertex per mouse sample."""
    return polygon_fill(doc, where, contour, label, rule=rule, tool_name="Freehand")


def flood_fill(doc, where: ViewSlice, seed, label, *, bounded_by: str = "label",
               rule: OverwriteRule = OverwriteRule.EVERYTHING) -> Edit | None:
    """Fill the region around `seed` (4-connected pixels of the slice).

    bounded_by="label": the region is everything that is not `label`, enclosed by `label` (the
    usual case: outline a muscle, click inside). bounded_by="any": the region is the pixels holding
    the seed's own value, enclosed by any other value (e.g. a gap between two muscles).
    A region that reaches the slice edge is not enclosed: NotEnclosedError, nothing is filled.
    """
    from scipy import ndimage

    label = active_label(doc, label, rule)
    if bounded_by not in ("label", "any"):
        raise ValueError(f"bounded_by must be 'label' or 'any', got {bounded_by!r}")
    _check_slice(doc.labels.shape, where)
    image = slice_of(doc.labels, where.axis, where.index)
    r, c = (int(round(v)) for v in np.asarray(seed, dtype=float).reshape(2))
    if not (0 <= r < image.shape[0] and 0 <= c < image.shape[1]) or image[r, c] == label:
        return None
    inside = image != label if bounded_by == "label" else image == image[r, c]
    components, _ = ndimage.label(inside)  # default structure: 4-connected
    region2 = components == components[r, c]
    if region2[0].any() or region2[-1].any() or region2[:, 0].any() or region2[:, -1].any():
        raise NotEnclosedError("the region around the clicked point reaches the edge of the slice; "
                               "close the outline first")
    box = bounding_box(region2)
    region, mask = _to_volume(where, box[0], box[1], region2[box])
    return Edit(region, label, mask, describe(doc, "Fill", label, region), rule=rule)


def fill_holes(doc, where: ViewSlice, label, *, rule: OverwriteRule = OverwriteRule.EVERYTHING) -> Edit | None:
    """Fill the holes of `label` on this slice: regions it encloses (4-connected) that are not it.

    Other labels inside a hole are painted over as the overwrite rule allows ("background only"
    fills just the empty gaps).
    """
    from scipy import ndimage

    label = active_label(doc, label, rule)
    _check_slice(doc.labels.shape, where)
    image = slice_of(doc.labels, where.axis, where.index)
    box = bounding_box(image == label)
    if box is None:
        return None
    # Holes lie strictly inside the label's bounding box, so the crop finds exactly the same ones.
    own = image[box] == label
    holes = ndimage.binary_fill_holes(own) & ~own
    inner = bounding_box(holes)
    if inner is None:
        return None
    rows, cols = compose(box, inner)
    region, mask = _to_volume(where, rows, cols, holes[inner])
    return Edit(region, label, mask, describe(doc, "Fill holes", label, region), rule=rule)


def label_warning(doc, label) -> str:
    """A line for the status bar when the chosen label is hidden or locked; "" when all is well."""
    if label is None or int(label) not in doc.label_table:
        return ""
    entry = doc.label_table[label]
    if entry.locked:
        return f"{entry.name} is locked: no tool can change it until it is unlocked."
    if not entry.visible:
        return f"{entry.name} is hidden: you are painting a label you cannot see."
    return ""


# ----- shared pieces -----

def active_label(doc, label, rule: OverwriteRule) -> int:
    """The label to paint with, after refusing what no tool may paint with."""
    if label is None or int(label) == 0:
        raise NoActiveLabelError("no label is selected: choose the label to paint with")
    label = int(label)
    if label not in doc.label_table:
        raise NoActiveLabelError(f"label {label} is not in the label table: add it first")
    entry = doc.label_table[label]
    if entry.locked:
        raise LockedLabelError(f"{entry.name} is locked: unlock it to paint or erase it")
    if not entry.visible and rule is OverwriteRule.VISIBLE_UNLOCKED:
        raise LockedLabelError(f"{entry.name} is hidden and the rule '{rule.title}' protects hidden "
                               "labels: show it or choose another rule")
    return label


def describe(doc, tool: str, label, region) -> str:
    """Undo text in the user's words: "Brush GM, slice 412" (slice numbers along the sweep)."""
    what = tool
    if label is not None:
        what += " " + (doc.label_table[label].name if label in doc.label_table else f"label {label}")
    sweep = region[doc.sweep_axis]
    first, last = sweep.start, sweep.stop - 1
    return f"{what}, slice {first}" if first == last else f"{what}, slices {first}-{last}"


def _check_slice(shape, where: ViewSlice) -> None:
    if where.axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {where.axis}")
    if not 0 <= where.index < shape[where.axis]:
        raise ValueError(f"slice {where.index} is outside 0..{shape[where.axis] - 1} along axis {where.axis}")


def _slice_shape(shape, where: ViewSlice) -> tuple:
    _check_slice(shape, where)
    row_axis, col_axis = where.rows_cols
    return shape[row_axis], shape[col_axis]


def _to_volume(where: ViewSlice, rows: slice, cols: slice, mask2: np.ndarray) -> tuple:
    """The (z, y, x) region and mask of a rows x cols mask drawn on the slice."""
    row_axis, col_axis = where.rows_cols
    # once `axis` is dropped numpy keeps the other two in increasing order: transpose if the view doesn't
    mask = mask2.T if row_axis > col_axis else mask2
    return slice_region(where.axis, where.index, rows, cols), np.expand_dims(mask, where.axis)


# ----- footprints -----

def stroke_footprint(shape, where: ViewSlice, points, radius: float, sphere: bool = False):
    """(region, mask) of the voxels within `radius` of the stroke, and the voxel under each point,
    clipped to the volume; None if none is inside. A disk stays on the slice; a sphere reaches
    `radius` voxels off it. Radii below MIN_RADIUS draw as MIN_RADIUS (a one-voxel pen)."""
    _check_slice(shape, where)
    r = max(float(radius), MIN_RADIUS)
    limit_lo, limit_hi = np.zeros(3, int), np.array(shape)
    if not sphere:
        limit_lo[where.axis], limit_hi[where.axis] = where.index, where.index + 1
    path = _points_in_volume(where, points)
    segments = _segment_boxes(path, r, limit_lo, limit_hi)
    if not len(segments[0]):
        return None
    lo, hi = segments[2].min(axis=0), segments[3].max(axis=0)
    mask = np.zeros(hi - lo, dtype=bool)
    _draw_path(mask, lo, segments, r)
    # the voxel under each point is always painted: a click on a pixel's corner with the thinnest
    # pen (0.71 from every centre) must not paint nothing
    under = np.floor(path + 0.5).astype(int)
    under = under[np.all((under >= limit_lo) & (under < limit_hi), axis=1)]
    mask[tuple((under - lo).T)] = True
    tight = bounding_box(mask)
    if tight is None:
        return None
    region = compose(tuple(slice(int(l), int(h)) for l, h in zip(lo, hi)), tight)
    return region, mask[tight]


def _segment_boxes(path: np.ndarray, r: float, lo_limit, hi_limit) -> tuple:
    """(a, b, lo, hi), one row per segment ab of the path: the integer box [lo, hi) of voxels that
    may lie within r of it, clipped to [lo_limit, hi_limit); segments entirely outside are left out."""
    a, b = (path, path) if len(path) == 1 else (path[:-1], path[1:])
    lo = np.maximum(np.floor(np.minimum(a, b) - r).astype(int), lo_limit)
    hi = np.minimum(np.floor(np.maximum(a, b) + r).astype(int) + 1, hi_limit)
    keep = np.all(hi > lo, axis=1)
    return a[keep], b[keep], lo[keep], hi[keep]


SHORT = 8   # voxels: segments whose box fits in SHORT^d are drawn all at once (freehand samples are)


def _draw_path(mask: np.ndarray, origin, segments: tuple, r: float) -> None:
    """Set the voxels of `mask` (whose first voxel is at `origin`) within r of any segment.
    Work follows the path's area, not its bounding box: each segment looks only at its own box."""
    a, b, lo, hi = segments
    short = np.all(hi - lo <= SHORT, axis=1)
    if short.any():
        # every short segment's box padded to SHORT^d: one array operation instead of a loop
        offsets = np.indices((SHORT,) * mask.ndim).reshape(mask.ndim, -1).T
        voxels = lo[short][:, None, :] + offsets[None]
        ends = a[short][:, None, :], b[short][:, None, :]
        near = _distance_to_segment(np.moveaxis(voxels, 2, 0), *(np.moveaxis(e, 2, 0) for e in ends)) <= r
        near &= np.all(voxels < hi[short][:, None, :], axis=2)
        mask[tuple((voxels[near] - origin).T)] = True
    for a1, b1, lo1, hi1 in zip(a[~short], b[~short], lo[~short], hi[~short]):
        grids = np.ogrid[tuple(slice(l, h) for l, h in zip(lo1, hi1))]
        box = tuple(slice(l - o, h - o) for l, h, o in zip(lo1, hi1, origin))
        mask[box] |= _distance_to_segment(grids, a1, b1) <= r


def _distance_to_segment(p, a, b) -> np.ndarray:
    """Distance from points to segments ab. p, a, b: one coordinate array (or number) per axis,
    broadcast together; open grids stay open, so a segment's box costs its area, not 3 times it."""
    d = [bk - ak for ak, bk in zip(a, b)]
    rel = [pk - ak for pk, ak in zip(p, a)]
    length2 = sum(dk * dk for dk in d)
    with np.errstate(divide="ignore", invalid="ignore"):   # a zero-length segment is its point: t = 0
        t = np.where(length2 > 0, sum(rk * dk for rk, dk in zip(rel, d)) / length2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.sqrt(sum((rk - t * dk) ** 2 for rk, dk in zip(rel, d)))


def _points_in_volume(where: ViewSlice, points) -> np.ndarray:
    """(n, 3) float (z, y, x) positions of the stroke's (row, col) points."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    row_axis, col_axis = where.rows_cols
    out = np.empty((len(pts), 3))
    out[:, where.axis] = where.index
    out[:, row_axis], out[:, col_axis] = pts[:, 0], pts[:, 1]
    return out


def _polygon_mask(shape2, vertices: np.ndarray):
    """(rows, cols, mask) of a closed polygon on a slice: pixel centres inside it (even-odd rule)
    plus its outline drawn with the thinnest pen, clipped to the slice; None if nothing is inside."""
    if len(vertices) == 0:
        return None
    lo = np.maximum(np.floor(vertices.min(axis=0) - 1).astype(int), 0)
    hi = np.minimum(np.floor(vertices.max(axis=0) + 1).astype(int) + 1, shape2)
    if np.any(hi <= lo):
        return None
    mask = _scanline_fill(vertices, lo, hi)
    closed = np.vstack([vertices, vertices[:1]])
    _draw_path(mask, lo, _segment_boxes(closed, MIN_RADIUS, lo, hi), MIN_RADIUS)
    tight = bounding_box(mask)
    if tight is None:
        return None
    rows, cols = compose((slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1]))), tight)
    return rows, cols, mask[tight]


def _scanline_fill(vertices: np.ndarray, lo, hi) -> np.ndarray:
    """Pixel centres of the box [lo, hi) inside the polygon: per row, between pairs of crossings."""
    a, b = vertices, np.roll(vertices, -1, axis=0)
    rows = np.arange(lo[0], hi[0], dtype=float)[:, None]
    # half-open on the row coordinate, so a vertex on a scan line counts once: crossings stay paired
    crosses = (a[:, 0] <= rows) != (b[:, 0] <= rows)
    with np.errstate(divide="ignore", invalid="ignore"):  # horizontal edges never cross: masked below
        t = (rows - a[:, 0]) / (b[:, 0] - a[:, 0])
        xs = np.where(crosses, a[:, 1] + t * (b[:, 1] - a[:, 1]), np.inf)
    xs.sort(axis=1)
    n = xs.shape[1] // 2 * 2
    enter, leave = xs[:, 0:n:2], xs[:, 1:n:2]
    width = int(hi[1] - lo[1])
    paired = np.isfinite(leave)
    start = np.clip(np.ceil(enter[paired]) - lo[1], 0, width).astype(int)
    stop = np.clip(np.floor(leave[paired]) - lo[1] + 1, 0, width).astype(int)
    row_of = np.broadcast_to(np.arange(len(rows))[:, None], enter.shape)[paired]
    edges = np.zeros((len(rows), width + 1), dtype=np.int32)
    np.add.at(edges, (row_of, start), 1)
    np.add.at(edges, (row_of, stop), -1)
    return np.cumsum(edges, axis=1)[:, :width] > 0
