"""A direct solver for symmetric positive definite systems on a 2D pixel grid with 8 neighbours.

Why a solver of our own: SciPy's `spsolve` (what MONAI uses) factors the confidence-map system with
SuperLU and the COLAMD ordering, ignores symmetry and runs its dense kernels without level-3 BLAS.
The grid structure lets us do much better with numpy, SciPy's LAPACK/BLAS and a few compiled loops
(numba; all BSD. CHOLMOD's supernodal code is GPL, PARDISO needs MKL):

- Ordering: geometric nested dissection. Cut the rectangle with a one-pixel line across its longer
  side (with 8 neighbours a single row or column separates the halves), recurse into both halves,
  eliminate the line last. This is the classic fill-reducing ordering for grids.
- Factorisation: multifrontal Cholesky. Each box of the dissection eliminates its cut line inside a
  small dense "front" (its line plus the ring of pixels around the box) and hands the Schur
  complement on the ring to its parent box. Large fronts use LAPACK/BLAS level 3 in place (potrf,
  trsm, syrk). The tens of thousands of small fronts near the leaves run in compiled loops
  (small_fronts.py), subtree by subtree, so their updates stay in the cache.
- Reuse: the dissection only depends on the image size. All boxes of one depth with the same size
  and the same image borders share one local structure, so the analysis (`GridCholesky(shape)`) is
  done once per size and every later solve only does numeric work.
- Memory traffic, which dominates the large fronts' assembly, is kept down: rings are ordered
  clockwise so a child's ring lands in its parent's front in two or three straight runs (block
  additions, no fancy indexing); symmetric blocks are only kept and added in their lower triangle;
  siblings are stored so that each parent reads its children's updates as one slice.

Measured on the 512 x 476 femur reference (2-core machine, one BLAS thread): see
benchmarks/confidence_speed.py and the confidence plugin's notes for the figures against MONAI.

A system is given as the diagonal and four coupling arrays of shape (H, W): the matrix entry
between pixel (r, c) and its neighbour below, right, below-right and below-left, stored at (r, c)
(zero where the neighbour does not exist). Dirichlet pixels are written as identity rows by the
caller, so one analysis serves every set of fixed pixels.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from usannotator_plugins.confidence import small_fronts

# Coupling kinds, in the order of the `couplings` tuple; index 0 is the diagonal.
DIAGONAL, BELOW, RIGHT, BELOW_RIGHT, BELOW_LEFT = range(5)

# The 8 neighbour steps (dr, dc), with the coupling kind of that edge and the step from the pixel
# to the pixel the edge is stored at (its upper, or for horizontal edges its left, end).
_NEIGHBOURS = np.array([
    # dr, dc, kind, stored-at dr, stored-at dc
    (1, 0, BELOW, 0, 0), (-1, 0, BELOW, -1, 0),
    (0, 1, RIGHT, 0, 0), (0, -1, RIGHT, 0, -1),
    (1, 1, BELOW_RIGHT, 0, 0), (-1, -1, BELOW_RIGHT, -1, -1),
    (1, -1, BELOW_LEFT, 0, 0), (-1, 1, BELOW_LEFT, -1, 1),
])


LEAF_AREA = 16          # boxes this small are eliminated whole (tuned on 512 x 476)
SMALL_CUT = 24          # fronts that eliminate at most this many pixels run in the compiled kernels


class _Run(NamedTuple):
    """A stretch of a child's ring that lands on consecutive positions of the parent's front."""

    child: slice                     # the child's ring indices, in the order of the front
    first: int                       # the smallest of them
    start: int                       # the first front position
    n: int
    backwards: bool                  # the child walks the stretch the other way


@dataclass
class _ChildLink:
    """Where a child group's updates land in its parent's front (cut first, then ring).

    Updates and cut blocks are symmetric and only their lower triangle is kept up to date:
    each block is added once, read from whichever side of the child's diagonal is valid.
    """

    group: int                       # index of the child group
    rows: slice                      # the children of the parent's members, in the child group
    pos: np.ndarray                  # where each of the child's ring pixels lands in the front
    cut_size: int                    # s of the parent
    runs: list = None

    def __post_init__(self):
        self.runs = _straight_runs(self.pos, self.cut_size)

    def add_cut_part(self, cut_block, coupling_block, update) -> None:
        """Subtract the child's update where it meets the parent's cut: from A (lower
        triangle), and from B (the ring-by-cut part is B's transpose, which is not stored)."""
        s = self.cut_size
        for a in self.runs:
            if a.start >= s:
                continue
            for b in self.runs:
                if b.start < s and b.start > a.start:
                    continue
                target = cut_block[:, a.start:a.start + a.n, b.start:b.start + b.n] if b.start < s \
                    else coupling_block[:, a.start:a.start + a.n, b.start - s:b.start - s + b.n]
                target -= _block(update, a, b)

    def add_ring_part(self, parent_update, update) -> None:
        """Add the child's update where it meets the parent's ring straight into the parent's
        own update (both are amounts to subtract), which is what the ring block C would pass on."""
        s = self.cut_size
        ring = [r for r in self.runs if r.start >= s]
        for a in ring:
            for b in ring:
                if b.start <= a.start:
                    parent_update[:, a.start - s:a.start - s + a.n, b.start - s:b.start - s + b.n] \
                        += _block(update, a, b)


def _block(update, a: _Run, b: _Run):
    """The child's update on runs a x b, taken from its valid (lower) side of the diagonal."""
    if a is b:
        block = update[:, a.child, a.child]
        return block.transpose(0, 2, 1) if a.backwards else block
    if a.first > b.first:
        return update[:, a.child, b.child]
    return update[:, b.child, a.child].transpose(0, 2, 1)


def _straight_runs(pos, cut_size) -> list:
    """Split a child's ring into runs that land on consecutive front positions, forwards or
    backwards (a cut is walked one way by one child and the other way by the other), never
    across the end of the cut. Block additions along runs are far cheaper than fancy indexing."""
    runs, start = [], 0
    while start < len(pos):
        end, step = start + 1, 0
        while end < len(pos) and (pos[end] >= cut_size) == (pos[start] >= cut_size):
            d = int(pos[end] - pos[end - 1])
            if abs(d) != 1 or (step and d != step):
                break
            step, end = d, end + 1
        n = end - start
        if step >= 0:
            runs.append(_Run(slice(start, end), start, int(pos[start]), n, False))
        else:   # read the child backwards so the front is written forwards
            runs.append(_Run(slice(end - 1, start - 1 if start else None, -1), start,
                             int(pos[end - 1]), n, True))
        start = end
    return runs


@dataclass
class _Group:
    """Boxes of one depth that share size and image borders, hence one local structure.

    Pixel ids are row-major (r * W + c). A member's pixels are its `base` id plus the group's
    relative ids, so one set of index patterns serves every member.
    """

    base: np.ndarray                 # (members,) id of each member's top-left pixel
    cut_rc: np.ndarray               # (s, 2) pixels eliminated here, as (dr, dc) from the top-left
    ring_rc: np.ndarray              # (b, 2) pixels around the box (they lie on ancestors' cuts)
    cut: np.ndarray                  # (s,) the same as relative ids
    ring: np.ndarray                 # (b,)
    local: np.ndarray                # front position of each (dr + 1, dc + 1); -1 elsewhere
    diag_pos: np.ndarray = None      # flat positions in A of the cut pixels' diagonal entries
    diag_src: np.ndarray = None      # and where they come from: kind * N + relative id
    cut_pair_pos: np.ndarray = None  # (2, n) flat positions (p, q), (q, p) in A of couplings
    cut_pair_src: np.ndarray = None
    ring_pair_pos: np.ndarray = None # flat positions (p, q - s) in B of couplings to the ring
    ring_pair_src: np.ndarray = None
    children: list = field(default_factory=list)

    pattern: np.ndarray = None       # (k, 3) front positions p <= q and source, for small_fronts


class GridCholesky:
    """Nested-dissection analysis for one grid size; `solve` factors and solves one system on it."""

    def __init__(self, shape, leaf_area: int = LEAF_AREA):
        self.shape = (int(shape[0]), int(shape[1]))
        if min(self.shape) < 1:
            raise ValueError(f"the grid needs at least one pixel, got {self.shape}")
        self.leaf_area = int(leaf_area)
        self.groups: list[_Group] = []
        self._analyse()

    # ---- analysis, once per size -------------------------------------------------------------

    def _analyse(self) -> None:
        boxes = np.array([[0, self.shape[0], 0, self.shape[1]]])
        previous, order = None, np.zeros(len(boxes))
        while len(boxes):
            group_of, row = self._add_depth(boxes, order)
            if previous is not None:
                self._link_children(previous, boxes, group_of, row)
            children, parent, slot = self._split(boxes)
            previous = (boxes, group_of, row, parent, slot)
            # list siblings of one parent group and slot together, in the parents' order, so each
            # parent group reads its children's updates as one slice
            order = (group_of[parent] * 2 + slot) * len(boxes) + row[parent]
            boxes = children
        for g in self.groups:
            g.local = None          # only needed while linking
        self.small = self._small_groups()
        self.subtrees = small_fronts.SmallSubtrees(self.groups, self.small)

    def _small_groups(self) -> list:
        """Groups whose fronts, and all their descendants' fronts, cut at most SMALL_CUT pixels:
        those run in the compiled kernels."""
        small = [False] * len(self.groups)
        for gi in reversed(range(len(self.groups))):          # children before parents
            g = self.groups[gi]
            small[gi] = len(g.cut) <= SMALL_CUT and all(small[link.group] for link in g.children)
        return small

    def _is_leaf(self, h, w):
        return (h * w <= self.leaf_area) | (np.maximum(h, w) < 3)

    def _split(self, boxes):
        """Cut every box that is not a leaf across its longer side, through its middle."""
        r0, r1, c0, c1 = boxes.T
        cut = ~self._is_leaf(r1 - r0, c1 - c0)
        rows = cut & (r1 - r0 >= c1 - c0)
        mid_r, mid_c = (r0 + r1) // 2, (c0 + c1) // 2
        first = np.stack([r0, np.where(rows, mid_r, r1), c0, np.where(rows, c1, mid_c)], 1)
        second = np.stack([np.where(rows, mid_r + 1, r0), r1, np.where(rows, c0, mid_c + 1), c1], 1)
        parent = np.flatnonzero(cut)
        children = np.concatenate([first[parent], second[parent]])
        return children, np.concatenate([parent, parent]), np.repeat([0, 1], len(parent))

    def _add_depth(self, boxes, order):
        """Group the boxes of one depth (members sorted by `order`); return each box's group
        index and its row in the group."""
        H, W = self.shape
        r0, r1, c0, c1 = boxes.T
        keys = np.stack([r1 - r0, c1 - c0, r0 == 0, r1 == H, c0 == 0, c1 == W], 1).astype(np.int64)
        _, key_of = np.unique(keys, axis=0, return_inverse=True)
        key_of = key_of.ravel()
        group_of = np.empty(len(boxes), dtype=np.int64)
        row = np.empty(len(boxes), dtype=np.int64)
        for key in range(key_of.max() + 1):
            members = np.flatnonzero(key_of == key)
            members = members[np.argsort(order[members], kind="stable")]
            group_of[members] = len(self.groups)
            row[members] = np.arange(len(members))
            self.groups.append(self._local_structure(boxes[members]))
        return group_of, row

    def _local_structure(self, boxes) -> _Group:
        H, W = self.shape
        r0, r1, c0, c1 = (int(v) for v in boxes[0])
        leaf = bool(self._is_leaf(r1 - r0, c1 - c0))
        cut_rc = _cut_cells(r1 - r0, c1 - c0, leaf)
        ring_rc = _ring_cells(r0, r1, c0, c1, H, W)
        front_rc = np.concatenate([cut_rc, ring_rc])
        local = np.full((r1 - r0 + 2, c1 - c0 + 2), -1, dtype=np.int64)
        local[front_rc[:, 0] + 1, front_rc[:, 1] + 1] = np.arange(len(front_rc))
        g = _Group(base=(boxes[:, 0] * W + boxes[:, 2]).astype(np.int64),
                   cut_rc=cut_rc, ring_rc=ring_rc, cut=cut_rc @ (W, 1), ring=ring_rc @ (W, 1),
                   local=local)
        self._assembly_pattern(g)
        return g

    def _assembly_pattern(self, g: _Group) -> None:
        """Where the matrix entries of the cut pixels land in the front. Couplings to pixels inside
        the box are left out: those pixels belong to the boxes below, which assemble them."""
        H, W = self.shape
        N = H * W
        s, f = len(g.cut), len(g.cut) + len(g.ring)
        p = np.repeat(np.arange(s), len(_NEIGHBOURS))
        step = np.tile(_NEIGHBOURS, (s, 1))
        nr = g.cut_rc[p, 0] + step[:, 0]
        nc = g.cut_rc[p, 1] + step[:, 1]
        inside = (nr >= -1) & (nr < g.local.shape[0] - 1) & (nc >= -1) & (nc < g.local.shape[1] - 1)
        p, step, nr, nc = p[inside], step[inside], nr[inside], nc[inside]
        q = g.local[nr + 1, nc + 1]
        keep = (q >= 0) & ((q >= s) | (q > p))       # each pair once; ring pixels always
        p, q, step = p[keep], q[keep], step[keep]
        src = step[:, 2] * N + (g.cut_rc[p, 0] + step[:, 3]) * W + (g.cut_rc[p, 1] + step[:, 4])
        in_cut = q < s
        g.diag_pos = np.arange(s) * (s + 1)
        g.diag_src = g.cut.copy()                    # kind DIAGONAL is 0
        g.cut_pair_pos = np.stack([p[in_cut] * s + q[in_cut], q[in_cut] * s + p[in_cut]])
        g.cut_pair_src = src[in_cut]
        g.ring_pair_pos = p[~in_cut] * (f - s) + q[~in_cut] - s
        g.ring_pair_src = src[~in_cut]
        diagonal = np.stack([np.arange(s), np.arange(s), g.diag_src], 1)
        g.pattern = np.concatenate([diagonal, np.stack([p, q, src], 1)]).astype(np.int64)

    def _link_children(self, previous, boxes, group_of, row) -> None:
        """For every parent group and child slot: the child group, and where its updates land."""
        parent_boxes, parent_group, parent_row, parent, slot = previous
        for pg in np.unique(parent_group[parent]):
            for k in (0, 1):
                picked = np.flatnonzero((parent_group[parent] == pg) & (slot == k))
                picked = picked[np.argsort(parent_row[parent[picked]])]
                child_groups = np.unique(group_of[picked])
                if len(child_groups) != 1:
                    raise AssertionError("children of one group must share one structure")
                child = self.groups[child_groups[0]]
                rows = row[picked]
                if not np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
                    raise AssertionError("siblings must be listed together")
                rows = slice(int(rows[0]), int(rows[0]) + len(rows))
                offset = boxes[picked[0], [0, 2]] - parent_boxes[parent[picked[0]], [0, 2]]
                at = child.ring_rc + offset + 1
                pos = self.groups[pg].local[at[:, 0], at[:, 1]]
                if (pos < 0).any():
                    raise AssertionError("a child's ring must lie in its parent's front")
                self.groups[pg].children.append(
                    _ChildLink(int(child_groups[0]), rows, pos, len(self.groups[pg].cut)))

    # ---- numeric work, per system ------------------------------------------------------------

    def solve(self, diagonal, couplings, rhs) -> np.ndarray:
        """Solve the system. `diagonal`, `rhs` and each of the 4 `couplings` (below, right,
        below-right, below-left) have the grid's shape."""
        with one_blas_thread():
            return self._solve(diagonal, couplings, rhs)

    def _solve(self, diagonal, couplings, rhs) -> np.ndarray:
        H, W = self.shape
        coef = np.concatenate([np.asarray(a, np.float64).ravel() for a in (diagonal, *couplings)])
        rhs = np.asarray(rhs, np.float64).ravel()
        small_factors, small_z, updates = self.subtrees.eliminate(coef, rhs)
        factors = [None] * len(self.groups)
        waiting = self._parents_per_group()
        # groups were made depth by depth, so going backwards meets every child before its parent
        for gi in reversed(range(len(self.groups))):
            if self.small[gi]:
                continue
            cut_block, coupling_block, r, taken = self._assemble(self.groups[gi], coef, rhs, updates)
            factors[gi], update, r_ring = _eliminate_one_by_one(cut_block, coupling_block, r)
            for link, child_update in taken:
                link.add_ring_part(update, child_update)
                waiting[link.group] -= 1
                if not waiting[link.group]:      # every parent took it: free the memory
                    del updates[link.group]
            updates[gi] = (update, r_ring)
        x = np.empty(H * W)
        for gi, g in enumerate(self.groups):
            if not self.small[gi]:
                x[g.base[:, None] + g.cut] = _back_one_by_one(factors[gi], x[g.base[:, None] + g.ring])
        self.subtrees.back_substitute(small_factors, small_z, x)
        return x.reshape(H, W)

    def _parents_per_group(self) -> dict:
        """How many large fronts read each group's update (small parents read theirs in the kernels)."""
        waiting = {}
        for gi, g in enumerate(self.groups):
            if self.small[gi]:
                continue
            for link in g.children:
                waiting[link.group] = waiting.get(link.group, 0) + 1
        return waiting

    def _assemble(self, g: _Group, coef, rhs, updates):
        """The front's cut block A (s x s), its coupling block B (s x b) and the right-hand side.
        The ring block is never formed: children's ring parts go straight into the update."""
        n, s, b = len(g.base), len(g.cut), len(g.ring)
        cut_block = np.zeros((n, s, s))
        coupling_block = np.zeros((n, s, b))
        cut_flat, coupling_flat = cut_block.reshape(n, -1), coupling_block.reshape(n, -1)
        cut_flat[:, g.diag_pos] = coef[g.base[:, None] + g.diag_src]
        values = coef[g.base[:, None] + g.cut_pair_src]
        cut_flat[:, g.cut_pair_pos[0]] = values
        cut_flat[:, g.cut_pair_pos[1]] = values
        coupling_flat[:, g.ring_pair_pos] = coef[g.base[:, None] + g.ring_pair_src]
        r = np.zeros((n, s + b))
        r[:, :s] = rhs[g.base[:, None] + g.cut]
        taken = []
        for link in g.children:
            update, r_update = updates[link.group]
            update, r_update = update[link.rows], r_update[link.rows]
            link.add_cut_part(cut_block, coupling_block, update)
            r[:, link.pos] -= r_update
            taken.append((link, update))
        return cut_block, coupling_block, r, taken


_blas_lock = threading.Lock()
_blas_state = {"users": 0, "limits": None}


@contextmanager
def one_blas_thread():
    """Run BLAS single-threaded while any solve is running (threadpoolctl, when installed).

    Our fronts are mid-sized: a multithreaded BLAS gains little on them, and on a busy machine its
    waiting threads cost several times the work (measured: 5x the CPU time on 106 x 147 slices
    with 2 OpenBLAS threads on a shared 2-core machine). Parallelism comes from solving slices
    side by side instead. Counted, so that concurrent solves in threads restore the setting once.
    """
    with _blas_lock:
        if _blas_state["users"] == 0:
            _blas_state["limits"] = _limit_blas_threads()
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0 and _blas_state["limits"] is not None:
                _blas_state["limits"].restore_original_limits()
                _blas_state["limits"] = None


def _limit_blas_threads():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:         # optional: without it BLAS keeps its own thread count
        return None
    return threadpool_limits(limits=1, user_api="blas")


def _cut_cells(h: int, w: int, leaf: bool) -> np.ndarray:
    """The pixels a box eliminates, as (dr, dc): all of a leaf, else the middle line across the
    longer side (rows are cut when the box is at least as tall as wide)."""
    if leaf:
        dr, dc = np.divmod(np.arange(h * w), w)
    elif h >= w:
        dr, dc = np.full(w, h // 2), np.arange(w)
    else:
        dr, dc = np.arange(h), np.full(h, w // 2)
    return np.stack([dr, dc], 1).astype(np.int64)


def _ring_cells(r0, r1, c0, c1, H, W) -> np.ndarray:
    """The pixels around a box that exist in the image, as (dr, dc), clockwise from the top-left:
    top row, right column, bottom row, left column. With every ring in the same turning order, a
    child's ring lands in its parent's front in about three straight runs (see _ChildLink)."""
    h, w = r1 - r0, c1 - c0
    across = np.arange(-1 if c0 > 0 else 0, w + 1 if c1 < W else w)
    down = np.arange(h)
    parts = []
    if r0 > 0:
        parts.append(np.stack([np.full(len(across), -1), across], 1))
    if c1 < W:
        parts.append(np.stack([down, np.full(h, w)], 1))
    if r1 < H:
        parts.append(np.stack([np.full(len(across), h), across[::-1]], 1))
    if c0 > 0:
        parts.append(np.stack([down[::-1], np.full(h, -1)], 1))
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros((0, 2), np.int64)


# ---- dense kernels ---------------------------------------------------------------------------------
# A front is [[A, B], [B.T, C]] with the s cut pixels first. With A = L L.T and Y = L^-1 B,
# eliminating the cut leaves C - Y.T Y on the ring and r_ring - Y.T z on the right-hand side, with
# z = L^-1 r_cut; back substitution then gives the cut pixels as L^-T (z - Y x_ring).
# What a front passes up is what its parent must subtract: Y.T Y and Y.T z - r_ring (this saves
# a pass over the largest arrays).

def _eliminate_one_by_one(cut_block, coupling_block, r):
    """Large fronts, one at a time with LAPACK/BLAS level 3, in place: potrf, trsm, syrk.
    A C-ordered block's transpose is Fortran-ordered, so LAPACK sees A (symmetric; its valid
    lower triangle is Fortran's upper one) and B.T, and factors A = U.T U with U = L.T."""
    from scipy.linalg.blas import dsyrk, dtrsm, dtrsv
    from scipy.linalg.lapack import dpotrf

    n, s, b = coupling_block.shape
    update, r_ring, factors = np.zeros((n, b, b)), np.empty((n, b)), []   # zeros: blocks are added whole
    for k in range(n):
        upper, info = dpotrf(cut_block[k].T, lower=0, clean=0, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("the system is not positive definite")
        z = dtrsv(upper, r[k, :s], lower=0, trans=1)                               # L^-1 r
        yt = coupling_block[k].T
        if b:
            yt = dtrsm(1.0, upper, yt, side=1, lower=0, overwrite_b=1)             # B.T L^-T
            dsyrk(1.0, yt, beta=0.0, c=update[k].T, lower=0, overwrite_c=1)        # Y.T Y
            r_ring[k] = yt @ z - r[k, s:]
        factors.append((upper, yt, z))
    return factors, update, r_ring


def _back_one_by_one(factors, ring_values):
    from scipy.linalg.blas import dtrsv

    out = np.empty((len(factors), factors[0][0].shape[0]))
    for k, ((upper, yt, z), ring) in enumerate(zip(factors, ring_values)):
        out[k] = dtrsv(upper, z - ring @ yt, lower=0)                              # L^-T v
    return out
