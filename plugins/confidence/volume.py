"""Confidence maps for whole volumes and tracked sequences: one map per slice along the sweep (per
frame for a PLUS sequence), with progress, Cancel between slices, and a disk cache.

`confidence_volume(progress, volume, ...)` is a job: the GUI runs it as
`Job("Confidence map", confidence_volume, kwargs={"volume": volume, ...})`, the command line inline.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from usannotator.io.files import user_folder
from usannotator.io.reading import available_memory

from usannotator_plugins.confidence.algorithm import (
    ALGORITHM_VERSION, ConfidenceSolver, check_frame, check_parameters,
)

# [ours] A 200 x 512 x 476 volume's maps take 195 MB; keep the most recent few GB.
CACHE_LIMIT_BYTES = 4 * 2 ** 30


def default_workers(leave_a_core_free: bool = False) -> int:
    """Slices solved side by side: one per core (at most 8; each worker process needs ~0.5 GB for
    512 x 512 slices), less one that stays with the window when the GUI runs the job."""
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
    workers: slices solved at the same time (1: in this process; more: in that many worker
    processes, see _slice_pool).
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
    maps = np.empty(stack.shape, dtype=np.float32)
    progress.update(0.0, f"confidence map: 0 of {n} slices")
    workers = workers_that_fit(max(1, min(int(workers), n)), stack.shape[1:])
    pool, solve = _slice_pool(stack.shape[1:], params, workers)
    try:
        with pool:
            # one slice per worker in flight: a worker starts the next slice as soon as it is free,
            # and Cancel, raised by progress.update, waits for at most one slice per worker
            running, next_z, done = set(), 0, 0
            while running or next_z < n:
                while next_z < n and len(running) < workers:
                    mask = None if masks is None else np.ascontiguousarray(masks[next_z])
                    running.add(pool.submit(solve, next_z, np.ascontiguousarray(stack[next_z]), mask))
                    next_z += 1
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    z, cm = future.result()
                    maps[z] = cm
                    progress.partial({"slice": z, "map": maps[z]})
                done += len(finished)
                progress.update(done / n, f"confidence map: {done} of {n} slices")
    except BrokenProcessPool:   # worker processes could not start (a locked-down PC): stay in this one
        progress.update(0.0, "confidence map: no worker processes; computing here")
        return _compute(progress, stack, params, masks, 1)
    return maps


# Peak memory of a worker process: its imports, plus the solver per pixel of a slice (measured:
# 265 MB for 64 x 64 slices, 471 MB for 512 x 476).
WORKER_BASE_BYTES = 270e6
WORKER_BYTES_PER_PIXEL = 900


def workers_that_fit(workers: int, shape) -> int:
    """At most as many worker processes as half the free memory holds, so that a many-core PC
    with little memory slows down instead of swapping."""
    if workers == 1:
        return 1
    try:
        free = available_memory()
    except (OSError, AttributeError, ValueError):       # no way to tell on this system
        return workers
    each = WORKER_BASE_BYTES + WORKER_BYTES_PER_PIXEL * shape[0] * shape[1]
    return max(1, min(workers, int(0.5 * free // each)))


def _slice_pool(shape, params, workers) -> tuple:
    """(executor, function(z, image, mask) -> (z, map)) for solving slices.

    One worker solves in a thread of this process. Several solve in processes: the large fronts'
    Python-level steps hold the GIL, so threads scaled only 1.4x on 2 cores where processes
    scaled 2.0x (512 x 476 slices). Processes are spawned (never forked from a Qt program); each
    does the per-size analysis once."""
    if workers == 1:
        solver = ConfidenceSolver(shape, params["alpha"], params["beta"], params["gamma"], params["sink"])
        return ThreadPoolExecutor(1), functools.partial(_solve_with, solver)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(tuple(shape), dict(params)))
    return pool, _solve_in_worker


def _solve_with(solver, z, image, mask):
    return z, solver(image, mask).astype(np.float32)


_worker_solver = None           # in a worker process: its solver, made once by _start_worker


def _start_worker(shape, params) -> None:
    global _worker_solver
    _worker_solver = ConfidenceSolver(shape, params["alpha"], params["beta"], params["gamma"], params["sink"])


def _solve_in_worker(z, image, mask):
    return _solve_with(_worker_solver, z, image, mask)


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
