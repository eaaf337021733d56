"""A deliberately naive model of the annotation tools and the Document's rules, voxel by voxel in
plain Python, for tiny volumes. The property test checks the real thing against it."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from usannotator.core.provenance import Source

# Screen layout of each view: (row axis, col axis), written out again here on purpose.
VIEW_AXES = {0: (1, 2), 1: (0, 2), 2: (1, 0)}
FILLED = (Source.INTERPOLATED, Source.PROPAGATED, Source.CORRECTED)


class Refused(Exception):
    """The model expects the tool or the document to refuse (error type in `kind`)."""

    def __init__(self, kind):
        self.kind = kind


def point_segment_distance(p, a, b) -> float:
    d = [bi - ai for ai, bi in zip(a, b)]
    length2 = sum(x * x for x in d)
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, sum((pi - ai) * di for pi, ai, di in zip(p, a, d)) / length2))
    return math.sqrt(sum((pi - ai - t * di) ** 2 for pi, ai, di in zip(p, a, d)))


def polyline_distance(p, points, closed=False) -> float:
    pts = list(points) + ([points[0]] if closed and len(points) > 1 else [])
    if len(pts) == 1:
        return point_segment_distance(p, pts[0], pts[0])
    return min(point_segment_distance(p, a, b) for a, b in zip(pts[:-1], pts[1:]))


def to_volume(axis, index, row, col):
    v = [0.0, 0.0, 0.0]
    r_axis, c_axis = VIEW_AXES[axis]
    v[axis], v[r_axis], v[c_axis] = index, row, col
    return v


def slice_cells(shape, axis, index):
    """(row, col, voxel) for every pixel of the slice."""
    r_axis, c_axis = VIEW_AXES[axis]
    for row in range(shape[r_axis]):
        for col in range(shape[c_axis]):
            yield row, col, tuple(int(x) for x in to_volume(axis, index, row, col))


def brush_footprint(shape, axis, index, points, radius, sphere):
    r = max(radius, 0.5)
    path = [to_volume(axis, index, p, q) for p, q in points]
    mask = np.zeros(shape, bool)
    for voxel in np.ndindex(*shape):
        if not sphere and voxel[axis] != index:
            continue
        under_a_point = any(all(math.floor(p + 0.5) == v for p, v in zip(point, voxel)) for point in path)
        if polyline_distance(voxel, path) <= r or under_a_point:
            mask[voxel] = True
    return mask


def polygon_footprint(shape, axis, index, vertices):
    mask = np.zeros(shape, bool)
    for row, col, voxel in slice_cells(shape, axis, index):
        if polyline_distance((row, col), vertices, closed=True) <= 0.5 or _inside(row, col, vertices):
            mask[voxel] = True
    return mask


def _inside(y, x, vertices) -> bool:
    """Even-odd rule, counting crossings of the ray to the right of (y, x)."""
    inside = False
    n = len(vertices)
    for i in range(n):
        (y0, x0), (y1, x1) = vertices[i], vertices[(i + 1) % n]
        if (y0 <= y) != (y1 <= y):
            xc = x0 + (y - y0) / (y1 - y0) * (x1 - x0)
            if xc > x:
                inside = not inside
    return inside


def _component(image, seed, member):
    """4-connected pixels reachable from `seed` through pixels where member(value) holds."""
    h, w = image.shape
    seen, todo = {seed}, deque([seed])
    while todo:
        r, c = todo.popleft()
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= rr < h and 0 <= cc < w and (rr, cc) not in seen and member(image[rr, cc]):
                seen.add((rr, cc))
                todo.append((rr, cc))
    return seen


def view_image(labels, axis, index):
    r_axis, c_axis = VIEW_AXES[axis]
    out = np.zeros((labels.shape[r_axis], labels.shape[c_axis]), labels.dtype)
    for row, col, voxel in slice_cells(labels.shape, axis, index):
        out[row, col] = labels[voxel]
    return out


def flood_footprint(labels, axis, index, seed, label, bounded_by):
    image = view_image(labels, axis, index)
    r, c = (int(round(v)) for v in seed)
    if not (0 <= r < image.shape[0] and 0 <= c < image.shape[1]) or image[r, c] == label:
        return None
    start_value = image[r, c]
    member = (lambda v: v != label) if bounded_by == "label" else (lambda v: v == start_value)
    region = _component(image, (r, c), member)
    h, w = image.shape
    if any(rr in (0, h - 1) or cc in (0, w - 1) for rr, cc in region):
        raise Refused("NotEnclosedError")
    mask = np.zeros(labels.shape, bool)
    for row, col, voxel in slice_cells(labels.shape, axis, index):
        mask[voxel] = (row, col) in region
    return mask


def holes_footprint(labels, axis, index, label):
    image = view_image(labels, axis, index)
    h, w = image.shape
    outside = set()
    for r in range(h):
        for c in range(w):
            if (r in (0, h - 1) or c in (0, w - 1)) and image[r, c] != label and (r, c) not in outside:
                outside |= _component(image, (r, c), lambda v: v != label)
    mask = np.zeros(labels.shape, bool)
    for row, col, voxel in slice_cells(labels.shape, axis, index):
        mask[voxel] = image[row, col] != label and (row, col) not in outside
    return mask


class Model:
    """Labels, provenance and table flags, changed only through `write` (the Document's rules)."""

    def __init__(self, labels, sources: dict):
        """Starts from `labels` and {label: per-slice Source}."""
        self.labels = labels.astype(np.uint16)
        self.prov = {v: np.array(a, np.int8) for v, a in sources.items()}
        self.locked, self.hidden = set(), set()

    def state(self):
        return self.labels.copy(), {v: a.copy() for v, a in self.prov.items()}

    def restore(self, state):
        self.labels, prov = state[0].copy(), state[1]
        self.prov = {v: a.copy() for v, a in prov.items()}

    def check_paint_label(self, label, rule):
        if label is None or label == 0:
            raise Refused("NoActiveLabelError")
        if label in self.locked or (label in self.hidden and rule == "visible"):
            raise Refused("LockedLabelError")

    def write(self, mask, value, rule, set_sources=None) -> bool:
        """Hand edit: write `value` where mask and the rule allow; True if anything changed."""
        protected = self.locked | (self.hidden if rule == "visible" else set())
        wanted = mask & (self.labels != value)
        allowed = np.zeros_like(wanted)
        for voxel in zip(*np.nonzero(wanted)):
            old = int(self.labels[voxel])
            if old in protected or value in protected or (rule == "background" and old != 0):
                continue
            allowed[voxel] = True
        if wanted.any() and not allowed.any() and not set_sources:
            raise Refused("LockedLabelError")
        before = self.state()
        for voxel in zip(*np.nonzero(allowed)):
            for v in (int(self.labels[voxel]), value):
                if v:
                    arr = self.prov[v]
                    arr[voxel[0]] = Source.CORRECTED if arr[voxel[0]] in FILLED else Source.MANUAL
        self.labels[allowed] = value
        touched = False
        for v, sources in (set_sources or {}).items():
            if v in self.locked:
                continue
            touched = True
            for z, s in sources.items():
                self.prov[v][z] = s
        if set_sources and not touched and not allowed.any():
            raise Refused("LockedLabelError")
        return not (np.array_equal(before[0], self.labels)
                    and all(np.array_equal(before[1][v], self.prov[v]) for v in self.prov))

    def mark_interpolated(self, label, z) -> bool:
        """An algorithm's `slices_written`: never over key slices nor locked labels."""
        if label in self.locked or Source(int(self.prov[label][z])).is_key or self.prov[label][z] == Source.INTERPOLATED:
            return False
        self.prov[label][z] = Source.INTERPOLATED
        return True
