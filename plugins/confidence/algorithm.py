"""Ultrasound confidence maps: the random walk of Karamalis et al. (2012), in the exact form of the
authors' reference code (spec: /work/shared/specs/confidence-maps.md, section 3).

Each pixel gets the probability that a random walker starting there reaches the transducer (row 0)
before a sink (by default the bottom row). Walkers move between 8-neighbours with weights that
fall with the intensity difference, so they rarely cross strong reflectors: confidence drops in
acoustic shadows. Qt-free and torch-free: numpy and scipy only.
"""

from __future__ import annotations

import functools

import numpy as np

from usannotator_plugins.confidence.grid_solver import GridCholesky

# Tag for cached maps: bump it whenever the formulation changes, so that maps from another
# formulation (e.g. MONAI 1.3's, spec section 8) never mix with ours.
ALGORITHM_VERSION = "karamalis2012-code/1"
SINK_MODES = ("all", "mid", "min", "mask")
WEIGHT_FLOOR = 1e-5          # the reference code's "10e-6": keeps every pixel connected
EPS = np.finfo(np.float64).eps
DEFAULTS = {"alpha": 2.0, "beta": 90.0, "gamma": 0.05, "sink": "all"}
# Parameter sets with a name users know (spec section 4). The thesis gives (alpha, beta) for maps
# fed to networks but no gamma; [ours] keep the default gamma with them.
PRESETS = {
    "default": {"alpha": 2.0, "beta": 90.0, "gamma": 0.05},
    "network input (thesis)": {"alpha": 0.5, "beta": 100.0, "gamma": 0.05},
    "loss weight (thesis)": {"alpha": 0.5, "beta": 400.0, "gamma": 0.05},
}


def confidence_map(image, alpha: float = 2.0, beta: float = 90.0, gamma: float = 0.05,
                   sink: str = "all", sink_mask=None, mode: str = "B") -> np.ndarray:
    """The confidence map (float64, values in [0, 1]) of one 2D frame, rows going deeper.

    sink: "all" (bottom row), "mid" (middle of the bottom row), "min" (darkest bottom-row pixels
    between 10 % and 90 % of the width) or "mask" (non-zero pixels of `sink_mask`).
    mode: "B" for B-mode frames, "RF" for radio-frequency data (the envelope is used).
    """
    image = np.asarray(image)
    check_frame(image)
    return ConfidenceSolver(image.shape, alpha, beta, gamma, sink, mode)(image, sink_mask)


class ConfidenceSolver:
    """Confidence maps for many frames of one size (the slices of a volume, the frames of a
    sequence): the ordering and symbolic analysis of the linear system are done once per size
    (and kept for the process), each frame then only pays for the numeric factorisation."""

    def __init__(self, shape, alpha: float = 2.0, beta: float = 90.0, gamma: float = 0.05,
                 sink: str = "all", mode: str = "B"):
        check_parameters(alpha, beta, gamma, sink, mode)
        self.shape = (int(shape[0]), int(shape[1]))
        if self.shape[0] < 2 or self.shape[1] < 1:
            raise ValueError(f"a frame needs at least 2 rows and 1 column, got {self.shape[0]} x "
                             f"{self.shape[1]} (one row leaves no room between source and sink)")
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.sink, self.mode = sink, mode
        self._grid = _grid_for(self.shape)

    def __call__(self, image, sink_mask=None) -> np.ndarray:
        image = np.asarray(image)
        check_frame(image)
        if image.shape != self.shape:
            raise ValueError(f"this solver is for {self.shape} frames, got {image.shape}")
        intensity = normalised(image)
        if self.mode == "RF":
            intensity = envelope(intensity)
        fixed, value = boundary_values(intensity, self.sink, sink_mask)
        weights = edge_weights(intensity * depth_weighting(self.shape[0], self.alpha)[:, None],
                               self.beta, self.gamma)
        diagonal, couplings, rhs = random_walk_system(weights, fixed, value)
        x = self._grid.solve(diagonal, couplings, rhs)
        x[fixed] = value[fixed]
        # exact arithmetic keeps the walk's probabilities in [0, 1]; rounding may not, by 1e-16
        return np.clip(x, 0.0, 1.0, out=x)


@functools.lru_cache(maxsize=4)
def _grid_for(shape) -> GridCholesky:
    return GridCholesky(shape)


# ---- checks --------------------------------------------------------------------------------------

def check_parameters(alpha, beta, gamma, sink, mode) -> None:
    if not alpha > 0 or not beta > 0 or not gamma >= 0:
        raise ValueError(f"alpha and beta must be > 0 and gamma >= 0, got alpha={alpha}, "
                         f"beta={beta}, gamma={gamma}")
    if sink not in SINK_MODES:
        raise ValueError(f"sink must be one of {', '.join(SINK_MODES)}, got {sink!r}")
    if mode not in ("B", "RF"):
        raise ValueError(f"mode must be 'B' or 'RF', got {mode!r}")


def check_frame(image: np.ndarray) -> None:
    if image.ndim != 2:
        raise ValueError(f"a frame must be a 2D grey image, got an array of shape {image.shape}")
    if image.shape[0] < 2:
        raise ValueError(f"a frame needs at least 2 rows (source and sink), got {image.shape[0]}")
    if image.shape[1] < 1:
        raise ValueError("a frame needs at least one column")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ValueError(f"a frame must hold real numbers, got {image.dtype}")
    if not np.isfinite(image).all():
        raise ValueError("the frame contains NaN or infinite values")


# ---- the formulation (spec section 3) --------------------------------------------------------------

def normalised(image) -> np.ndarray:
    """Intensities scaled to [0, 1]; a constant frame becomes all zeros (not NaN)."""
    x = np.asarray(image, dtype=np.float64)
    low = x.min()
    return (x - low) / (x.max() - low + EPS)


def envelope(intensity) -> np.ndarray:
    """RF mode: the envelope along each scan line (column), from the analytic signal."""
    from scipy.signal import hilbert

    return np.abs(hilbert(intensity, axis=0))


def depth_weighting(n_rows: int, alpha: float) -> np.ndarray:
    """1 - exp(-alpha d), d from 0 (transducer) to 1 (bottom). The reference code multiplies by
    this, not by exp(-alpha d): differences between deep pixels count more."""
    depth = np.arange(n_rows) / (n_rows - 1)
    return 1.0 - np.exp(-alpha * depth)


def edge_weights(cost, beta: float, gamma: float) -> tuple:
    """Weights of the edges below, right, below-right and below-left of each pixel (arrays of
    shapes (H-1, W), (H, W-1), (H-1, W-1), (H-1, W-1))."""
    edges = [np.abs(cost[1:, :] - cost[:-1, :]),          # vertical: along the scan line
             np.abs(cost[:, 1:] - cost[:, :-1]),          # horizontal
             np.abs(cost[1:, 1:] - cost[:-1, :-1]),       # diagonal down-right
             np.abs(cost[1:, :-1] - cost[:-1, 1:])]       # diagonal down-left (stored at the upper end)
    _normalise_together(edges)
    for e in edges[1:]:            # beam-width penalty: walkers prefer to stay on their scan line
        e += gamma
    _normalise_together(edges)
    return tuple(np.exp(-beta * e) + WEIGHT_FLOOR for e in edges)


def _normalise_together(edges) -> None:
    """Divide all edges by their common maximum (plus eps), in place. The reference code
    normalises min-max, but over a vector that also holds a zero placeholder for every diagonal
    entry, so its minimum is always 0 ("the minimum counts as 0"), even when no edge is 0."""
    top = max(e.max() for e in edges if e.size)
    for e in edges:
        e /= top + EPS


def boundary_values(intensity, sink: str, sink_mask=None) -> tuple:
    """Which pixels are fixed, and to what: sources (row 0) at 1, sinks at 0."""
    H, W = intensity.shape
    fixed = np.zeros((H, W), dtype=bool)
    if sink == "all":
        fixed[-1, :] = True
    elif sink == "mid":
        fixed[-1, W // 2] = True
    elif sink == "min":
        fixed[-1, darkest_bottom_columns(intensity[-1])] = True
    else:
        fixed |= _sink_mask(sink_mask, (H, W))
    value = np.zeros((H, W))
    fixed[0, :] = True          # a mask pixel on row 0 stays a source, as in the reference output
    value[0, :] = 1.0
    return fixed, value


def darkest_bottom_columns(bottom_row) -> np.ndarray:
    """Columns of the bottom row, within 10 %..90 % of the width, equal to its minimum there.
    [ours] Frames narrower than 10 columns use the whole row (the reference code fails there)."""
    W = len(bottom_row)
    margin = int(np.floor(0.1 * W))
    columns = np.arange(margin, W - margin) if margin else np.arange(W)
    values = bottom_row[columns]
    return columns[values == values.min()]


def _sink_mask(sink_mask, shape) -> np.ndarray:
    if sink_mask is None:
        raise ValueError("sink mode 'mask' needs a sink mask")
    mask = np.asarray(sink_mask)
    if mask.shape != shape:
        raise ValueError(f"the sink mask has shape {mask.shape}, the frame {shape}")
    mask = mask != 0
    if not mask[1:].any():
        raise ValueError("the sink mask marks no pixel below the top row")
    return mask


def random_walk_system(weights, fixed, value) -> tuple:
    """The Laplacian system on the whole grid, fixed pixels written as identity rows.

    Unknown pixel i: sum_j w_ij x_i - sum_{j unknown} w_ij x_j = sum_{j fixed} w_ij value_j.
    Keeping fixed pixels in the grid (instead of removing them) keeps one sparsity pattern for
    every sink mode, so one analysis of the grid serves them all. Returns the diagonal, the four
    couplings (below, right, below-right, below-left, stored at the upper/left pixel) and the
    right-hand side, each of shape (H, W).
    """
    H, W = fixed.shape
    free = ~fixed
    diagonal = np.zeros((H, W))
    rhs = np.zeros((H, W))
    couplings = []
    for w, (dr, dc) in zip(weights, ((1, 0), (0, 1), (1, 1), (1, -1))):
        a, b = _edge_ends(H, W, dr, dc)             # the two ends of every edge of this kind
        diagonal[a] += w
        diagonal[b] += w
        rhs[a] += w * (free[a] & fixed[b]) * value[b]
        rhs[b] += w * (free[b] & fixed[a]) * value[a]
        coupling = np.zeros((H, W))
        coupling[a] = -w * (free[a] & free[b])
        couplings.append(coupling)
    diagonal[fixed] = 1.0
    rhs[fixed] = value[fixed]
    return diagonal, couplings, rhs


def _edge_ends(H, W, dr, dc) -> tuple:
    """Slices selecting, for every edge (r, c) -> (r + dr, c + dc) inside the grid, the upper/left
    end and the other end."""
    rows_a, rows_b = slice(0, H - dr), slice(dr, H)
    if dc >= 0:
        cols_a, cols_b = slice(0, W - dc), slice(dc, W)
    else:
        cols_a, cols_b = slice(-dc, W), slice(0, W + dc)
    return (rows_a, cols_a), (rows_b, cols_b)


def looks_fan_shaped(image) -> bool:
    """Whether a frame has the fan-shaped black border of a scan-converted convex probe. The
    method assumes parallel vertical scan lines; the sources give no rule for fans, so [ours] we
    compute as is and warn. Test: across the middle 80 % of the imaged columns, the first imaged
    row varies by more than 5 % of the height (a linear frame starts on the same row everywhere)."""
    from scipy.ndimage import binary_opening

    imaged = binary_opening(np.asarray(image) > 0, iterations=2)     # ignore lone dark pixels
    columns = np.flatnonzero(imaged.any(axis=0))
    if len(columns) < 10:
        return False
    margin = len(columns) // 10
    first_row = np.argmax(imaged[:, columns[0] + margin:columns[-1] - margin + 1], axis=0)
    spread = np.percentile(first_row, 95) - np.percentile(first_row, 5)
    return bool(spread > 0.05 * imaged.shape[0])
