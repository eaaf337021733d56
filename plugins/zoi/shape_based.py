"""Shape-based interpolation: signed distance maps of the key masks, blended linearly along the sweep."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .boxes import grow


class SignedDistanceField:
    """Signed distance interpolation of one label. `at(z)` gives (candidates, -D) on gap slice z.

    D_k = d_out - d_in in mm (negative exactly on the key mask). An empty key gets +C and a key
    covering the whole slice -C, with C the slice diagonal, so a shape shrinks smoothly towards an
    empty key instead of stopping dead. Conflicts go to the label the voxel is deepest inside.
    """

    def __init__(self, work: np.ndarray, run, spacing_yx=(1.0, 1.0)):
        self.work, self.label, self.keys = work, run.label, run.keys
        self.spacing_yx = tuple(float(s) for s in spacing_yx)
        # one pixel of margin so that every box has outside pixels around the mask
        self.box = grow(run.box, 1, work.shape[1:])
        height, width = work.shape[1:]
        self.far = float(np.hypot(height * self.spacing_yx[0], width * self.spacing_yx[1]))
        self._distances = {}

    def distance(self, k: int) -> np.ndarray:
        if k not in self._distances:
            self._distances[k] = self._signed_distance(self.work[k][self.box] == self.label)
        return self._distances[k]

    def _signed_distance(self, mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.full(mask.shape, self.far, dtype=np.float32)
        if mask.all():
            return np.full(mask.shape, -self.far, dtype=np.float32)
        outside = ndimage.distance_transform_edt(~mask, sampling=self.spacing_yx)
        inside = ndimage.distance_transform_edt(mask, sampling=self.spacing_yx)
        return (outside - inside).astype(np.float32)

    def at(self, z: int) -> tuple:
        i = int(np.searchsorted(self.keys, z))
        before, after = int(self.keys[i - 1]), int(self.keys[i])
        for old in [k for k in self._distances if k < before]:
            del self._distances[old]      # slices come in increasing order
        t = np.float32((z - before) / (after - before))
        blended = (np.float32(1) - t) * self.distance(before) + t * self.distance(after)
        return blended < 0, -blended
