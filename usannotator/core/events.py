"""A minimal Qt-free signal: the data model announces changes, views and plugins subscribe."""

from __future__ import annotations

import weakref


class Signal:
    def __init__(self):
        self._slots = []

    def connect(self, slot) -> None:
        # Bound methods are held weakly so that a closed view does not keep itself alive.
        ref = weakref.WeakMethod(slot) if hasattr(slot, "__self__") else (lambda s=slot: s)
        self._slots.append(ref)

    def disconnect(self, slot) -> None:
        self._slots = [r for r in self._slots if r() is not None and r() != slot]

    def emit(self, *args) -> None:
        alive = []
        for ref in list(self._slots):
            fn = ref()
            if fn is None:
                continue
            alive.append(ref)
            fn(*args)
        self._slots = alive
