"""Compiled kernels for the thousands of small fronts near the leaves of the dissection tree.

Near the leaves a front is a few dozen pixels. In numpy every step of such a front is a call over
a stack of tiny matrices, and the time went to call overhead and to temporaries (about 60 % of a
512 x 476 solve). Here each front is assembled, eliminated and handed up in one compiled loop
over the group's members, in a scratch front that stays in the cache. The large fronts higher up
keep LAPACK/BLAS level 3 (grid_solver.py); both pass updates in the same layout.

Layouts (all shared with grid_solver.py):
- the front is f = s + b pixels, cut first then ring;
- factors are (members, s, f): column k of L for each cut pixel k (rows k..f-1 valid), kept
  column by column so the inner loops run over contiguous memory; with z (members, s), L^-1 of
  the cut's right-hand side;
- an update handed up is (members, b, b), "what the parent subtracts", valid in its lower
  triangle [i, j] with i >= j, with its right-hand side part (members, b).
The member's cut columns are assembled in place in `factors` and its ring block in `update`, so
no scratch front is copied.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np

# cache=True: compiled once per machine (into __pycache__, or numba's user cache when the install
# is read-only), so only the very first map pays the few seconds of compiling.
_jit = numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")


class SmallSubtrees:
    """The part of the dissection tree whose fronts are all small, flattened for the kernels.

    Each member box of a small group is a node. The kernels walk every small subtree depth first
    (children before parents), so a child's update waits in a small per-depth buffer that stays
    in the cache until its parent adds it in, instead of going out to memory for a whole level.
    Only nodes whose parent is a large front (the roots of the small subtrees) write their
    update out, into one (members, b, b) array per group that grid_solver's large fronts read.
    """

    def __init__(self, groups: list, small: list):
        self.groups = [gi for gi in range(len(groups)) if small[gi]]
        where = {gi: k for k, gi in enumerate(self.groups)}
        first_node = np.cumsum([0] + [len(groups[gi].base) for gi in self.groups])
        n_nodes = int(first_node[-1])
        self.node_group = np.repeat(np.arange(len(self.groups)), np.diff(first_node))
        self.node_base = np.concatenate([groups[gi].base for gi in self.groups]) if n_nodes else np.zeros(0, np.int64)
        self.node_child = np.full((n_nodes, 2), -1, np.int64)
        self.node_slot = np.full(n_nodes, -1, np.int64)           # which child of its small parent
        self.pos_at = np.zeros((len(self.groups), 2), np.int64)   # where each slot's pos array starts
        positions = []
        none = np.zeros((0, 2), np.int64)
        cut_maps, ring_maps = [none] * (2 * len(self.groups)), [none] * (2 * len(self.groups))
        at = 0
        for k, gi in enumerate(self.groups):
            for slot, link in enumerate(groups[gi].children):
                members = np.arange(first_node[k], first_node[k + 1])
                child = first_node[where[link.group]] + link.rows.start + np.arange(len(members))
                self.node_child[members, slot] = child
                self.node_slot[child] = slot
                self.pos_at[k, slot] = at
                positions.append(link.pos)
                at += len(link.pos)
                cut_maps[2 * k + slot], ring_maps[2 * k + slot] = _extend_add_maps(
                    link.pos, len(groups[gi].cut), len(groups[gi].ring))
        self.positions = np.concatenate(positions).astype(np.int64) if positions else np.zeros(0, np.int64)
        self.cut_map, self.cut_map_at = _flat(cut_maps, (0, 2))
        self.ring_map, self.ring_map_at = _flat(ring_maps, (0, 2))
        self.n_cut = np.array([len(groups[gi].cut) for gi in self.groups], np.int64)
        self.n_ring = np.array([len(groups[gi].ring) for gi in self.groups], np.int64)
        self.cuts, self.cut_at = _flat([groups[gi].cut for gi in self.groups])
        self.rings, self.ring_at = _flat([groups[gi].ring for gi in self.groups])
        self.patterns, self.pattern_at = _flat([groups[gi].pattern for gi in self.groups], (0, 3))
        self.order = self._post_order(n_nodes)
        self.depth = self._depths(n_nodes)
        sizes = self.n_cut[self.node_group] * (self.n_cut + self.n_ring)[self.node_group]
        self.factor_at = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.z_at = np.concatenate([[0], np.cumsum(self.n_cut[self.node_group])]).astype(np.int64)
        self._handoff_layout(groups, first_node)
        self._scratch_layout(n_nodes)
        self._local = threading.local()

    def _post_order(self, n_nodes):
        """Children before parents, each subtree finished before its sibling's starts."""
        order, stack = [], [(int(r), False) for r in reversed(np.flatnonzero(self.node_slot < 0))]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((int(c), False) for c in reversed(self.node_child[node]) if c >= 0)
        return np.array(order, np.int64)

    def _depths(self, n_nodes):
        depth = np.zeros(n_nodes, np.int64)
        for node in self.order[::-1]:               # parents first
            for c in self.node_child[node]:
                if c >= 0:
                    depth[c] = depth[node] + 1
        return depth

    def _handoff_layout(self, groups, first_node):
        """Subtree roots write their update into their group's array, at their own row."""
        n_nodes = len(self.node_group)
        self.handoff_at = np.full(n_nodes, -1, np.int64)
        self.r_handoff_at = np.full(n_nodes, -1, np.int64)
        self.handoff_groups = {}                     # group index -> (offset, r offset, members, b)
        at = r_at = 0
        for k, gi in enumerate(self.groups):
            roots = np.flatnonzero(self.node_slot[first_node[k]:first_node[k + 1]] < 0)
            if len(roots):
                n, b = len(groups[gi].base), int(self.n_ring[k])
                self.handoff_groups[gi] = (at, r_at, n, b)
                self.handoff_at[first_node[k] + roots] = at + roots * b * b
                self.r_handoff_at[first_node[k] + roots] = r_at + roots * b
                at, r_at = at + n * b * b, r_at + n * b
        self.handoff_size, self.r_handoff_size = at, r_at

    def _scratch_layout(self, n_nodes):
        """One update buffer per depth and slot, as large as the largest ring at that depth."""
        depths = int(self.depth.max()) + 1 if n_nodes else 1
        ring = np.zeros((depths, 2), np.int64)
        children = self.node_slot >= 0
        np.maximum.at(ring, (self.depth[children], self.node_slot[children]),
                      self.n_ring[self.node_group[children]])
        self.scratch_at = np.concatenate([[0], np.cumsum((ring * ring).ravel())]).astype(np.int64)
        self.r_scratch_at = np.concatenate([[0], np.cumsum(ring.ravel())]).astype(np.int64)

    def eliminate(self, coef, rhs):
        """Factor every small subtree; returns (factors, z, {group: (update, r_update)} for the
        groups whose updates the large fronts read). The arrays belong to this thread's workspace
        and are overwritten by its next solve."""
        w = self._workspace()
        failed = _eliminate_nodes(
            self.order, self.node_group, self.node_base, self.node_child, self.node_slot, self.depth,
            self.n_cut, self.n_ring, self.cuts, self.cut_at, self.patterns, self.pattern_at,
            self.positions, self.pos_at, self.cut_map, self.cut_map_at, self.ring_map, self.ring_map_at,
            coef, rhs, w.factors, self.factor_at, w.z, self.z_at,
            w.handoff, self.handoff_at, w.r_handoff, self.r_handoff_at,
            w.scratch, self.scratch_at, w.r_scratch, self.r_scratch_at)
        if failed >= 0:
            raise np.linalg.LinAlgError("the system is not positive definite")
        out = {}
        for gi, (at, r_at, n, b) in self.handoff_groups.items():
            out[gi] = (w.handoff[at:at + n * b * b].reshape(n, b, b), w.r_handoff[r_at:r_at + n * b].reshape(n, b))
        return w.factors, w.z, out

    def _workspace(self):
        """This thread's buffers, allocated on its first solve. Reused because they are large
        (60 MB of factors for 512 x 476): fresh ones cost a page fault per 4 KB on every slice."""
        w = self._local.__dict__
        if not w:
            w.update(factors=np.empty(self.factor_at[-1]), z=np.empty(self.z_at[-1]),
                     handoff=np.empty(self.handoff_size), r_handoff=np.empty(self.r_handoff_size),
                     scratch=np.empty(self.scratch_at[-1]), r_scratch=np.empty(self.r_scratch_at[-1]))
        return self._local

    def back_substitute(self, factors, z, x) -> None:
        _back_nodes(self.order[::-1].copy(), self.node_group, self.node_base, self.n_cut, self.n_ring,
                    self.cuts, self.cut_at, self.rings, self.ring_at, factors, self.factor_at, z, self.z_at, x)


def _extend_add_maps(pos, n_cut, n_ring):
    """Where each entry of a child's update (lower triangle, row by row) lands in its parent:
    (child index, index into the parent's cut columns L (s, f)) for entries that meet the cut,
    (child index, index into the parent's ring block U (b, b), lower half) for the rest."""
    cb, f = len(pos), n_cut + n_ring
    i, j = np.tril_indices(cb)
    low, high = np.minimum(pos[i], pos[j]), np.maximum(pos[i], pos[j])
    source = i * cb + j
    in_cut = low < n_cut
    cut_map = np.stack([source[in_cut], low[in_cut] * f + high[in_cut]], 1)
    ring_map = np.stack([source[~in_cut], (high[~in_cut] - n_cut) * n_ring + low[~in_cut] - n_cut], 1)
    return cut_map, ring_map


def _flat(arrays, empty=(0,)):
    """Concatenate per-group arrays; returns (flat, offsets)."""
    at = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    flat = np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(empty, np.int64)
    return flat, at


@_jit
def _eliminate_nodes(order, node_group, node_base, node_child, node_slot, depth, n_cut, n_ring,
                     cuts, cut_at, patterns, pattern_at, positions, pos_at, cut_map, cut_map_at,
                     ring_map, ring_map_at, coef, rhs,
                     factors, factor_at, z, z_at, handoff, handoff_at, r_handoff, r_handoff_at,
                     scratch, scratch_at, r_scratch, r_scratch_at) -> int:
    """Assemble, partly factor and hand up every node's front, children first; returns the first
    node whose cut block is not positive definite, or -1."""
    for node in order:
        g = node_group[node]
        s, b = n_cut[g], n_ring[g]
        f = s + b
        L = factors[factor_at[node]:factor_at[node + 1]].reshape((s, f))
        zn = z[z_at[node]:z_at[node + 1]]
        if node_slot[node] >= 0:
            k = 2 * depth[node] + node_slot[node]
            U = scratch[scratch_at[k]:scratch_at[k] + b * b].reshape((b, b))
            ru = r_scratch[r_scratch_at[k]:r_scratch_at[k] + b]
        else:
            U = handoff[handoff_at[node]:handoff_at[node] + b * b].reshape((b, b))
            ru = r_handoff[r_handoff_at[node]:r_handoff_at[node] + b]
        L[:, :] = 0.0
        U[:, :] = 0.0           # all of it: large fronts read whole blocks (and use the lower half)
        ru[:] = 0.0
        base = node_base[node]
        for t in range(pattern_at[g], pattern_at[g + 1]):
            L[patterns[t, 0], patterns[t, 1]] += coef[patterns[t, 2] + base]
        for i in range(s):
            zn[i] = rhs[base + cuts[cut_at[g] + i]]
        for slot in range(2):
            child = node_child[node, slot]
            if child >= 0:
                cb = n_ring[node_group[child]]
                k = 2 * depth[child] + slot
                m = 2 * g + slot
                _extend_add(factors[factor_at[node]:factor_at[node + 1]], zn, U.ravel(), ru, s,
                            scratch[scratch_at[k]:scratch_at[k] + cb * cb], r_scratch[r_scratch_at[k]:r_scratch_at[k] + cb],
                            positions[pos_at[g, slot]:pos_at[g, slot] + cb],
                            cut_map[cut_map_at[m]:cut_map_at[m + 1]], ring_map[ring_map_at[m]:ring_map_at[m + 1]])
        if not _factor_cut(L, zn, ru, s):
            return node
        _ring_update(L, U, s)
    return -1


@_jit
def _extend_add(L, z, U, ru, n_cut, child_update, child_r, pos, cut_map, ring_map) -> None:
    """A child's update, where its ring lands in this front (see _extend_add_maps): subtracted
    from the cut's columns, or added to the ring block, which holds what the parent subtracts.
    L, U and child_update are flat."""
    for i in range(pos.shape[0]):
        p = pos[i]
        if p < n_cut:
            z[p] -= child_r[i]
        else:
            ru[p - n_cut] += child_r[i]
    for t in range(cut_map.shape[0]):
        L[cut_map[t, 1]] -= child_update[cut_map[t, 0]]
    for t in range(ring_map.shape[0]):
        U[ring_map[t, 1]] += child_update[ring_map[t, 0]]


@_jit
def _factor_cut(L, z, ru, n_cut) -> bool:
    """Columns of L for the cut pixels (Cholesky of the cut block and the ring rows below it),
    z = L^-1 of the cut's right-hand side, and L21 z added to what the parent subtracts."""
    f = L.shape[1]
    for k in range(n_cut):
        d = L[k, k]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        L[k, k] = d
        for i in range(k + 1, f):
            L[k, i] /= d
        zk = z[k] / d
        z[k] = zk
        for j in range(k + 1, n_cut):
            lj = L[k, j]
            if lj != 0.0:
                for i in range(j, f):
                    L[j, i] -= lj * L[k, i]
                z[j] -= lj * zk
        for i in range(n_cut, f):
            ru[i - n_cut] += L[k, i] * zk
    return True


@_jit
def _ring_update(L, U, n_cut) -> None:
    """U += L21 L21^T on the lower triangle, a row at a time (contiguous inner loops), four
    columns of L21 per pass so each row of U is loaded and stored a quarter as often."""
    b = U.shape[0]
    for i in range(b):
        row = U[i]
        k = 0
        while k + 4 <= n_cut:
            l0, l1, l2, l3 = L[k, n_cut + i], L[k + 1, n_cut + i], L[k + 2, n_cut + i], L[k + 3, n_cut + i]
            c0, c1, c2, c3 = L[k, n_cut:], L[k + 1, n_cut:], L[k + 2, n_cut:], L[k + 3, n_cut:]
            for j in range(i + 1):
                row[j] += l0 * c0[j] + l1 * c1[j] + l2 * c2[j] + l3 * c3[j]
            k += 4
        while k < n_cut:
            li, column = L[k, n_cut + i], L[k, n_cut:]
            for j in range(i + 1):
                row[j] += li * column[j]
            k += 1


@_jit
def _back_nodes(order, node_group, node_base, n_cut, n_ring, cuts, cut_at, rings, ring_at,
                factors, factor_at, z, z_at, x) -> None:
    """Every node's cut pixels from its ring's known values, parents first:
    x_cut = L11^-T (z - L21^T x_ring)."""
    size = int((n_cut + n_ring).max()) if n_cut.shape[0] else 0
    v, ring_values = np.empty(size), np.empty(size)
    for node in order:
        g = node_group[node]
        s, b = n_cut[g], n_ring[g]
        L = factors[factor_at[node]:factor_at[node + 1]].reshape((s, s + b))
        base = node_base[node]
        for k in range(b):
            ring_values[k] = x[base + rings[ring_at[g] + k]]
        for i in range(s):
            acc = z[z_at[node] + i]
            for k in range(b):
                acc -= L[i, s + k] * ring_values[k]
            v[i] = acc
        for i in range(s - 1, -1, -1):
            acc = v[i]
            for j in range(i + 1, s):
                acc -= L[i, j] * v[j]
            v[i] = acc / L[i, i]
        for i in range(s):
            x[base + cuts[cut_at[g] + i]] = v[i]
