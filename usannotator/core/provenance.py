"""Where each label's slice came from, per slice along the sweep axis.

Key slices of a label are the ones a person drew: manual, or corrected (a hand edit on a slice an
algorithm had filled). Interpolation and propagation read key slices and never write over them.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Source(IntEnum):
    NONE = 0
    MANUAL = 1
    INTERPOLATED = 2
    PROPAGATED = 3
    CORRECTED = 4

    @property
    def is_key(self) -> bool:
        return self in (Source.MANUAL, Source.CORRECTED)


class Provenance:
    """For each label value, an int8 array over the sweep slices holding a `Source`."""

    def __init__(self, n_slices: int, table: dict | None = None):
        self.n_slices = int(n_slices)
        self._by_label: dict[int, np.ndarray] = {}
        for value, arr in (table or {}).items():
            arr = np.asarray(arr, dtype=np.int8)
            if arr.shape != (self.n_slices,):
                raise ValueError(f"provenance of label {value} has {arr.shape} slices, expected {self.n_slices}")
            self._by_label[int(value)] = arr.copy()

    def of(self, label: int) -> np.ndarray:
        """The (writable) per-slice sources of a label, created empty on first use."""
        label = int(label)
        if label not in self._by_label:
            self._by_label[label] = np.zeros(self.n_slices, dtype=np.int8)
        return self._by_label[label]

    def labels(self) -> list:
        return sorted(v for v, a in self._by_label.items() if a.any())

    def key_slices(self, label: int) -> np.ndarray:
        arr = self._by_label.get(int(label))
        if arr is None:
            return np.zeros(0, dtype=int)
        return np.flatnonzero((arr == Source.MANUAL) | (arr == Source.CORRECTED))

    def key_mask(self, label: int) -> np.ndarray:
        mask = np.zeros(self.n_slices, dtype=bool)
        mask[self.key_slices(label)] = True
        return mask

    def set(self, label: int, slices, source: Source) -> None:
        self.of(label)[np.asarray(list(slices), dtype=int)] = int(source)

    def mark_hand_edit(self, label: int, slices) -> None:
        """A hand edit makes a key slice: manual, or corrected where an algorithm had filled it."""
        arr = self.of(label)
        idx = np.asarray(list(slices), dtype=int)
        filled = np.isin(arr[idx], (Source.INTERPOLATED, Source.PROPAGATED, Source.CORRECTED))
        arr[idx] = np.where(filled, int(Source.CORRECTED), int(Source.MANUAL))

    def snapshot(self) -> dict:
        return {v: a.copy() for v, a in self._by_label.items()}

    def restore(self, snap: dict) -> None:
        self._by_label = {v: a.copy() for v, a in snap.items()}

    def to_dict(self) -> dict:
        return {str(v): a.tolist() for v, a in self._by_label.items()}

    @classmethod
    def from_dict(cls, n_slices: int, d: dict) -> "Provenance":
        return cls(n_slices, {int(k): v for k, v in d.items()})

    @classmethod
    def from_sparse_labels(cls, labels: np.ndarray, sweep_axis: int = 0) -> "Provenance":
        """Every slice holding label L is a manual key slice of L (the DESIGN convention for sparse files)."""
        moved = np.moveaxis(labels, sweep_axis, 0)
        prov = cls(moved.shape[0])
        for value in np.unique(moved):
            if value == 0:
                continue
            present = (moved == value).reshape(moved.shape[0], -1).any(axis=1)
            prov.set(int(value), np.flatnonzero(present), Source.MANUAL)
        return prov
