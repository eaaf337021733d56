"""Undo history as diffs of the changed region, bounded by a memory cap (oldest dropped first)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class Change:
    """One applied edit: the bounding box of changed voxels, their values before and after."""

    description: str
    region: tuple            # tuple of 3 slices into the label map
    before: np.ndarray       # label values in region before the edit
    after: np.ndarray        # label values in region after the edit
    provenance_before: dict  # label -> per-slice sources before (only labels the edit touched)
    provenance_after: dict

    @property
    def nbytes(self) -> int:
        prov = sum(a.nbytes for a in self.provenance_before.values())
        prov += sum(a.nbytes for a in self.provenance_after.values())
        return self.before.nbytes + self.after.nbytes + prov


class UndoStack:
    def __init__(self, memory_cap_bytes: int = 512 * 1024 ** 2):
        self.memory_cap_bytes = int(memory_cap_bytes)
        self._undo: deque[Change] = deque()
        self._redo: list[Change] = []
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def push(self, change: Change) -> None:
        self._undo.append(change)
        self._bytes += change.nbytes
        for c in self._redo:
            self._bytes -= c.nbytes
        self._redo.clear()
        while self._bytes > self.memory_cap_bytes and len(self._undo) > 1:
            self._bytes -= self._undo.popleft().nbytes

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return self._undo[-1].description if self._undo else ""

    def redo_text(self) -> str:
        return self._redo[-1].description if self._redo else ""

    def pop_undo(self) -> Change:
        change = self._undo.pop()
        self._redo.append(change)
        return change

    def pop_redo(self) -> Change:
        change = self._redo.pop()
        self._undo.append(change)
        return change

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._bytes = 0

    def __len__(self):
        return len(self._undo)
