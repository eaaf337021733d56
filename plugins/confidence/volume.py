"""Confidence maps for whole volumes and tracked sequences: one map per slice along the sweep (per
frame for a PLUS sequence), with progress, Cancel between slices, and a disk cache.

`confidence_volume(progress, volume, ...)` is a job: the GUI runs it as
`Job("Confidence map", confidence_volume, kwargs={"volume": volume, ...})`, the command line inline.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from usannotator.io.files import user_folder

from usannotator_plugins.confidence.algorithm import (
    ALGORITHM_VERSION, ConfidenceSolver, check_frame, check_parameters,
)

# [ours] A 200 x 512 x 476 volume's maps take 195 MB; keep the most recent few GB.
CACHE_LIMIT_BYTES = 4 * 2 ** 30


def default_workers(leave_a_core_free: bool = False) -> int:
    """Slices solved side by side: one per core (at most 8; each needs ~300 MB for 512 x 512),
    less one that stays with the window when the GUI runs the job. Threads scale because the
    solver's compiled kernels and LAPACK release the GIL (measured on 2 cores: 0.17 s per
    512 x 476 slice with 2, 0.25 s with 1)."""
    cores = os.cpu_count() or 2
    return max(1, min(8, cores - (1 if leave_a_core_free else 0)))


def confidence_volume(progress, volume, alpha: float = 2.0, beta: float = 90.0, gamma: float = 0.05,
                      sink: str = "all", sink_mask=None, cache_dir=None, use_cache: bool = True,
                      workers: int = 1) -> np.ndarray:
    """The confidence map of every slice along the sweep, float32, in the volume's array shape.

    volume: a Volume (its sweep and depth axes are honoured; a PLUS sequence whose frames run from
    far to near, `UltrasoundImageOrientation` ?N?, is flipped for the computation and back) or a
    (z, y, x) array (slices along axis 0, depth along axis 1).
    progress: a Progress; it gets one update per slice and stops the job there when cancelled.
    cache_dir: where finished maps are kept (default: user_cache_dir()); a map is written only
    once the whole volume is done, so a cancelled job leaves nothing behind.
    workers: slices solved at the same time (threads; the solver's numeric work releases the GIL).
    """
    check_parameters(alpha, beta, gamma, sink, "B")
    stack, restore = sweep_stack(volume)
    masks = None if sink_mask is None else sweep_stack_like(volume, sink_mask)
    params = {"alpha": float(alpha), "beta": float(beta), "gamma": float(gamma), "sink": sink}
    key = cache_key(stack, params, masks)
    folder = Path(cache_dir) if cache_dir is not None else user_cache_dir()
    cached = read_cached(folder, key, stack.shape) if use_cache else None
    if cached is not None:
        progress.update(1.0, "confidence map from the cache")
        return restore(cached)
    maps = _compute(progress, stack, params, masks, workers)
    if use_cache:
        write_cached(folder, key, maps)
        prune_cache(folder)
    return restore(maps)


def _compute(progress, stack, params, masks, workers) -> np.ndarray:
    n = stack.shape[0]
    for z in range(n):          # refuse a bad slice before minutes of work, not after
        check_frame(stack[z])
    solver = ConfidenceSolver(stack.shape[1:], params["alpha"], params["beta"], params["gamma"],
                              params["sink"])
    maps = np.empty(stack.shape, dtype=np.float32)
    progress.update(0.0, f"confidence map: 0 of {n} slices")

    def one(z):
        return z, solver(stack[z], None if masks is None else masks[z])

    batch = max(1, int(workers))
    with ThreadPoolExecutor(batch) as pool:
        # `batch` slices at a time, so that Cancel waits for at most one batch
        for start in range(0, n, batch):
            for z, cm in pool.map(one, range(start, min(n, start + batch))):
                maps[z] = cm
                progress.partial({"slice": z, "map": maps[z]})
            done = min(n, start + batch)
            progress.update(done / n, f"confidence map: {done} of {n} slices")
    return maps


# ---- slices in solver order --------------------------------------------------------------------

def sweep_stack(volume) -> tuple:
    """The slices as a (sweep, depth, lateral) array, and a function that puts maps computed on
    it back into the volume's own array order."""
    array, sweep, depth, flip = _layout(volume)
    if array.ndim != 3:
        raise ValueError(f"a volume needs 3 dimensions, got an array of shape {array.shape}")
    lateral = ({0, 1, 2} - {sweep, depth}).pop()
    order = (sweep, depth, lateral)
    stack = np.transpose(array, order)
    if flip:
        stack = stack[:, ::-1]
    inverse = np.argsort(order)

    def restore(maps):
        maps = maps[:, ::-1] if flip else maps
        return np.ascontiguousarray(np.transpose(maps, inverse))

    return stack, restore


def sweep_stack_like(volume, array) -> np.ndarray:
    """Another array of the volume's shape (a sink mask) in the same slice order."""
    like, sweep, depth, flip = _layout(volume)
    array = np.asarray(array)
    if array.shape != like.shape:
        raise ValueError(f"the sink mask has shape {array.shape}, the volume {like.shape}")
    lateral = ({0, 1, 2} - {sweep, depth}).pop()
    stack = np.transpose(array, (sweep, depth, lateral))
    return stack[:, ::-1] if flip else stack


def _layout(volume) -> tuple:
    if isinstance(volume, np.ndarray):
        return volume, 0, 1, False
    return volume.array, volume.sweep_axis, volume.depth_axis, rows_run_far_to_near(volume)


def rows_run_far_to_near(volume) -> bool:
    """PLUS states the frame orientation as e.g. 'MF': the second letter F means rows go from
    near to Far (what the method needs), N the other way."""
    orientation = volume.metadata.get("header", {}).get("UltrasoundImageOrientation", "")
    return len(orientation) >= 2 and orientation[1].upper() == "N"


# ---- disk cache -----------------------------------------------------------------------------------

def user_cache_dir() -> Path:
    return user_folder("cache", "confidence")


def cache_key(stack, params: dict, masks=None) -> str:
    """A hash of the pixels (with their shape and type), every parameter, the sink mask and the
    algorithm version: maps from another formulation or other settings never match."""
    h = hashlib.sha256()
    h.update(json.dumps({"version": ALGORITHM_VERSION, "shape": stack.shape,
                         "dtype": str(stack.dtype), **params}, sort_keys=True).encode())
    h.update(np.ascontiguousarray(stack).data)
    if masks is not None:
        h.update(np.ascontiguousarray(masks != 0).data)
    return h.hexdigest()


def read_cached(folder: Path, key: str, shape) -> np.ndarray | None:
    """The cached maps, or None when absent or unreadable (then they are simply computed again)."""
    path = folder / f"{key}.npy"
    try:
        maps = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if maps.shape != tuple(shape) or maps.dtype != np.float32:
        return None
    try:
        os.utime(path)          # mark it used: pruning drops the least recently used first
    except OSError:
        pass
    return maps


def write_cached(folder: Path, key: str, maps) -> None:
    """Write aside, then rename: a reader never sees half a file. A cache that cannot be written
    (full disk, no permission) is not an error: the maps are still returned."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".npy.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, maps)
            os.replace(tmp, folder / f"{key}.npy")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


def prune_cache(folder: Path, limit: int | None = None) -> None:
    """Delete the least recently used maps until the cache holds at most `limit` bytes."""
    limit = CACHE_LIMIT_BYTES if limit is None else limit
    try:
        entries = sorted((p.stat().st_mtime_ns, p.stat().st_size, p) for p in folder.glob("*.npy"))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, path in entries:
        if total <= limit:
            break
        try:
            path.unlink()
            total -= size
        except OSError:
            pass
