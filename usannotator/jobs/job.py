"""Jobs, progress and cancellation, shared by the GUI runner and the command line."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


class Cancelled(Exception):
    """Raised inside a job by Progress.check() once the user pressed Cancel."""


class Progress:
    """Handed to a job: it reports how far it got and asks whether to stop.

    `on_update(fraction, message)` is called from the job's thread; the GUI runner turns it into a
    queued signal, the command line into a bar on stderr. `on_partial(payload)` lets a job show
    intermediate results (e.g. propagated slices) before it finishes.
    """

    def __init__(self, on_update: Callable | None = None, on_partial: Callable | None = None):
        self._cancel = threading.Event()
        self._on_update = on_update
        self._on_partial = on_partial
        self.fraction = 0.0
        self.message = ""

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def update(self, fraction: float, message: str = "") -> None:
        """Report progress (0..1) and stop here if cancelled."""
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        self.message = message or self.message
        if self._on_update is not None:
            self._on_update(self.fraction, self.message)
        self.check()

    def partial(self, payload) -> None:
        if self._on_partial is not None:
            self._on_partial(payload)


@dataclass
class Job:
    """A named piece of long work. `run(progress)` returns the result, in plain Python/numpy objects.

    `uses_model` sends it to the model thread (torch, one per device) instead of the general pool.
    """

    title: str
    run: Callable
    uses_model: bool = False
    kwargs: dict = field(default_factory=dict)

    def __call__(self, progress: Progress):
        return self.run(progress, **self.kwargs)


def stderr_bar(stream=None, width: int = 30):
    """An on_update callback drawing a progress bar on stderr, at most ten times a second."""
    stream = stream or sys.stderr
    last = [0.0]

    def draw(fraction, message):
        now = time.monotonic()
        if fraction < 1.0 and now - last[0] < 0.1:
            return
        last[0] = now
        filled = int(round(width * fraction))
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * fraction:5.1f}% {message[:40]:<40}")
        if fraction >= 1.0:
            stream.write("\n")
        stream.flush()

    return draw


def run_inline(job: Job, show_progress: bool = False):
    """Run a job in this thread (command line, tests, scripts)."""
    progress = Progress(on_update=stderr_bar() if show_progress and sys.stderr.isatty() else None)
    return job(progress)
