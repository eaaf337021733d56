"""Morphological contour interpolation through ITK (the algorithm behind 3D Slicer's "Fill between slices").

Optional: needs the package itk-morphologicalcontourinterpolation. ITK orders axes (x, y, z), the
reverse of numpy, so the sweep (numpy axis 0 here) is ITK axis 2; the filter is told so explicitly,
because left alone it interpolates along every axis where it finds labelled slices.
"""

from __future__ import annotations

import importlib.util
import warnings
from contextlib import contextmanager

import numpy as np

from usannotator.core.errors import UserError

from .boxes import grow

PACKAGE = "itk-morphologicalcontourinterpolation"
ITK_SWEEP_AXIS = 2     # numpy axis 0
# ITK's result near the key masks' box changes when the box is cut tighter than 3 pixels (its
# interpolated shapes reach past the keys' box); 8 pixels gave the uncropped result in our checks.
MARGIN = 8


def available() -> bool:
    """Whether the package is installed (checked without loading ITK, which takes seconds)."""
    try:
        return importlib.util.find_spec("itk.MorphologicalContourInterpolationPython") is not None
    except ImportError:
        return False


@contextmanager
def _quiet_itk():
    """ITK's SWIG modules warn once per type while they load ("builtin type SwigPyPacked has no
    __module__ attribute"): noise about ITK's build, nothing a user can act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _filter_class():
    try:
        with _quiet_itk():
            import itk
            return itk.MorphologicalContourInterpolator
    except (ImportError, AttributeError) as exc:
        raise UserError(f"the morphological method needs the package {PACKAGE}: "
                        f"pip install {PACKAGE}") from exc


def fill_between(stack: np.ndarray) -> np.ndarray:
    """ITK's interpolation of a uint8 stack holding 1 on its first and last slice and on key slices
    between, 0 elsewhere; returns the filled stack (numpy order)."""
    with _quiet_itk():
        return _run_filter(stack)


def _run_filter(stack: np.ndarray) -> np.ndarray:
    import itk

    # a copy, not a view: ITK must not outlive a numpy buffer it points into
    image = itk.image_from_array(np.ascontiguousarray(stack, dtype=np.uint8))
    interpolator = _filter_class().New(image)
    # ITK's default thread pool outlives the call; with SciPy loaded in the same process it
    # corrupted the heap at interpreter exit in about a third of our runs (ITK 5.4). Threads that
    # are joined after each call did not, in 28 runs.
    interpolator.SetMultiThreader(itk.PlatformMultiThreader.New())
    interpolator.SetAxis(ITK_SWEEP_AXIS)
    interpolator.SetLabel(1)
    interpolator.Update()
    return itk.array_from_image(interpolator.GetOutput())


class MorphologicalField:
    """ITK interpolation of one label, computed for the whole extent when built.

    An empty key slice splits the extent: ITK interpolates between consecutive non-empty keys
    only, so a gap next to an empty key stays empty (the muscle is absent there, as with ZOI's
    "smallest" rule). The filter gives no per-voxel confidence, so conflicts go to the label whose
    nearest key slice is closer (score = minus that distance in slices).
    """

    def __init__(self, work: np.ndarray, run):
        _filter_class()     # fail early, with the package to install
        self.label, self.keys = run.label, run.keys
        self.first = int(run.keys[0])
        self.box = grow(run.box, MARGIN, work.shape[1:])
        rows, cols = self.box
        shape = (int(run.keys[-1]) - self.first + 1, rows.stop - rows.start, cols.stop - cols.start)
        self.filled = np.zeros(shape, dtype=np.uint8)
        for segment in self._segments(work):
            self._fill_segment(work, segment)

    def _segments(self, work):
        """Runs of consecutive non-empty key slices (at least two keys with a gap between)."""
        present = [bool((work[k][self.box] == self.label).any()) for k in self.keys]
        segments, current = [], []
        for k, has_label in zip(self.keys.tolist(), present):
            if has_label:
                current.append(k)
                continue
            segments.append(current)
            current = []
        segments.append(current)
        return [s for s in segments if len(s) > 1 and s[-1] - s[0] > len(s) - 1]

    def _fill_segment(self, work, keys) -> None:
        stack = np.zeros((keys[-1] - keys[0] + 1,) + self.filled.shape[1:], dtype=np.uint8)
        for k in keys:
            stack[k - keys[0]] = work[k][self.box] == self.label
        self.filled[keys[0] - self.first:keys[-1] - self.first + 1] = fill_between(stack) != 0

    def at(self, z: int) -> tuple:
        i = int(np.searchsorted(self.keys, z))
        nearest_key = min(z - int(self.keys[i - 1]), int(self.keys[i]) - z)
        return self.filled[z - self.first].view(bool), float(-nearest_key)


def preload() -> None:
    """Load ITK now (it takes seconds the first time), e.g. before timing it or while a dock opens."""
    _filter_class()
