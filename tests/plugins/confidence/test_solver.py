"""The fast solver against a plain sparse direct solve (spec section 9, test 8)."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from usannotator_plugins.confidence.algorithm import (
    ConfidenceSolver, boundary_values, confidence_map, depth_weighting, edge_weights, normalised,
)
from usannotator_plugins.confidence.grid_solver import GridCholesky

STEPS = ((1, 0), (0, 1), (1, 1), (1, -1))       # below, right, below-right, below-left


def random_grid_system(shape, rng):
    """A random symmetric, diagonally dominant 9-point system, as GridCholesky takes it, and the
    same matrix as a scipy sparse matrix."""
    H, W = shape
    ids = np.arange(H * W).reshape(H, W)
    couplings, rows, cols, vals = [], [], [], []
    for dr, dc in STEPS:
        c = -rng.random((H, W))
        r_ok = np.arange(H)[:, None] + dr < H
        c_ok = (np.arange(W)[None, :] + dc >= 0) & (np.arange(W)[None, :] + dc < W)
        c[~(r_ok & c_ok)] = 0.0
        couplings.append(c)
        r, k = np.nonzero(c)
        rows.append(ids[r, k]), cols.append(ids[r + dr, k + dc]), vals.append(c[r, k])
    off = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(H * W, H * W))
    off = off + off.T
    diagonal = -np.asarray(off.sum(axis=1)).ravel() + 0.1 + rng.random(H * W)
    matrix = (off + sp.diags(diagonal)).tocsc()
    return diagonal.reshape(H, W), couplings, rng.random((H, W)), matrix


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (3, 7), (17, 23), (40, 31),
                                   (33, 64), (70, 5)])
def test_grid_solver_equals_a_direct_solve(shape):
    rng = np.random.default_rng(sum(shape))
    grid = GridCholesky(shape)
    for _ in range(2):                           # one analysis, several systems
        diagonal, couplings, rhs, matrix = random_grid_system(shape, rng)
        expected = spsolve(matrix, rhs.ravel()).reshape(shape)
        assert np.abs(grid.solve(diagonal, couplings, rhs) - expected).max() < 1e-10


def test_grid_solver_with_small_leaves_and_no_batches():
    """The same answer whichever way the fronts are cut and factored."""
    rng = np.random.default_rng(7)
    diagonal, couplings, rhs, matrix = random_grid_system((29, 37), rng)
    expected = spsolve(matrix, rhs.ravel()).reshape(29, 37)
    for leaf in (1, 4, 60):
        got = GridCholesky((29, 37), leaf_area=leaf).solve(diagonal, couplings, rhs)
        assert np.abs(got - expected).max() < 1e-10


@pytest.mark.parametrize("small_cut", [0, 8, 1000])
def test_grid_solver_whichever_fronts_are_compiled(monkeypatch, small_cut):
    """0: every front in LAPACK; 1000: every front in the compiled kernels; 8: both, meeting at
    several depths. All give the direct solve's answer."""
    import usannotator_plugins.confidence.grid_solver as grid_solver

    monkeypatch.setattr(grid_solver, "SMALL_CUT", small_cut)
    rng = np.random.default_rng(11)
    diagonal, couplings, rhs, matrix = random_grid_system((45, 38), rng)
    expected = spsolve(matrix, rhs.ravel()).reshape(45, 38)
    grid = GridCholesky((45, 38))
    assert any(grid.small) == (small_cut > 0) and all(grid.small) == (small_cut == 1000)
    assert np.abs(grid.solve(diagonal, couplings, rhs) - expected).max() < 1e-10


def test_grid_solver_refuses_a_matrix_that_is_not_positive_definite():
    rng = np.random.default_rng(3)
    diagonal, couplings, rhs, _ = random_grid_system((20, 20), rng)
    diagonal[3, 4] = -5.0                          # inside a leaf: the compiled kernels see it
    with pytest.raises(np.linalg.LinAlgError):
        GridCholesky((20, 20)).solve(diagonal, couplings, rhs)


def plain_confidence_map(image, alpha, beta, gamma, sink, sink_mask=None):
    """The slow path, built the way the reference code does: the Laplacian of all pixels numbered
    column-major, marked pixels removed, L_UU x_U = -L_UM x_M solved by SuperLU."""
    H, W = image.shape
    intensity = normalised(image)
    weights = edge_weights(intensity * depth_weighting(H, alpha)[:, None], beta, gamma)
    ids = np.arange(H * W).reshape(W, H).T
    rows, cols, vals = [], [], []
    for w, (dr, dc) in zip(weights, STEPS):
        r, c = np.indices(w.shape)
        c = c + (1 if dc < 0 else 0)             # below-left edges are stored from column 1
        rows.append(ids[r, c].ravel()), cols.append(ids[r + dr, c + dc].ravel()), vals.append(w.ravel())
    adjacency = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(H * W, H * W)).tocsr()
    adjacency = adjacency + adjacency.T
    laplacian = (sp.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency).tocsr()
    fixed, value = boundary_values(intensity, sink, sink_mask)
    marked = fixed.T.ravel()
    x_marked = value.T.ravel()[marked]
    free = np.flatnonzero(~marked)
    l_uu = laplacian[free][:, free].tocsc()
    rhs = -laplacian[free][:, np.flatnonzero(marked)] @ x_marked
    x = value.T.ravel().copy()
    x[free] = spsolve(l_uu, rhs)
    return x.reshape(W, H).T


@pytest.mark.parametrize("sink", ["all", "mid", "min", "mask"])
def test_reused_solver_equals_the_plain_solve_on_real_slices(bone_crops, sink):
    H, W = bone_crops.shape[1:]
    solver = ConfidenceSolver((H, W), alpha=2.0, beta=90.0, gamma=0.05, sink=sink)
    for k, crop in enumerate(bone_crops):
        mask = None
        if sink == "mask":                      # a different sink region on every slice
            mask = np.zeros((H, W), bool)
            mask[H - 10 - 5 * k:H - 5 * k, 20 + 10 * k:60 + 10 * k] = True
        fast = solver(crop, mask)
        slow = plain_confidence_map(crop, 2.0, 90.0, 0.05, sink, mask)
        assert np.abs(fast - slow).max() < 1e-10


def test_solver_reuse_equals_one_shot_maps(bone_crops):
    solver = ConfidenceSolver(bone_crops.shape[1:], gamma=0.06)
    for crop in bone_crops:
        assert np.abs(solver(crop) - confidence_map(crop, gamma=0.06)).max() < 1e-12


def test_solver_refuses_another_size(bone_crops):
    solver = ConfidenceSolver(bone_crops.shape[1:])
    with pytest.raises(ValueError, match="this solver is for"):
        solver(bone_crops[0, :50])
