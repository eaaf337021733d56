"""Running jobs off the GUI thread, with progress, Cancel, error dialogs, and a model thread.

General jobs run in a thread pool. Model jobs (torch) run one at a time on a long-lived thread, on
CUDA when present (else MPS, else the CPU), and are retried on the CPU after out-of-memory.
Results, progress and partial results reach the GUI thread through queued signals and are handed
to callbacks there; a cancelled job delivers nothing.
"""

from __future__ import annotations

import queue
import threading
import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from usannotator.jobs import Cancelled, Job, Progress, is_out_of_memory


class JobHandle(QObject):
    """One submitted job as the GUI sees it. Its public signals are emitted on the GUI thread.

    The worker only emits `_relay`, which a slot of this GUI-thread object receives (queued) and
    re-emits as the public signals: so any callable connected to them, lambdas included, runs on
    the GUI thread.
    """

    _relay = Signal(str, object)

    progressed = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)          # the result
    failed = Signal(str, str)          # message, details
    cancelled = Signal()
    ended = Signal()                   # after any of finished / failed / cancelled
    device_changed = Signal(str)       # a model job's device (e.g. after falling back to the CPU)

    def __init__(self, job: Job):
        super().__init__()
        self.job = job
        self.progress = Progress(on_update=lambda f, m: self._relay.emit("progress", (f, m)),
                                 on_partial=lambda p: self._relay.emit("partial", p))
        self.done = threading.Event()
        self.state = "queued"
        self._relay.connect(self._deliver)

    @Slot(str, object)
    def _deliver(self, kind: str, payload) -> None:
        if kind == "progress":
            self.progressed.emit(*payload)
        elif kind == "partial":
            self.partial.emit(payload)
        elif kind == "device":
            self.device_changed.emit(payload)
        elif kind == "finished":
            self.finished.emit(payload)
        elif kind == "failed":
            self.failed.emit(*payload)
        elif kind == "cancelled":
            self.cancelled.emit()
        if kind in ("finished", "failed", "cancelled"):
            self.ended.emit()

    @property
    def title(self) -> str:
        return self.job.title

    def cancel(self) -> None:
        self.progress.cancel()

    def execute(self, device: str | None = None) -> None:
        """Run the job in the calling (worker) thread and report through signals."""
        self.state = "running"
        try:
            result = self._run_with_fallback(device)
        except Cancelled:
            self._end("cancelled")
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a dialog, never a crash
            self._end("failed", (str(exc) or type(exc).__name__, traceback.format_exc()))
        else:
            self._end("cancelled" if self.progress.cancelled else "finished", result)

    def _run_with_fallback(self, device):
        if device is None:
            return self.job(self.progress)
        self._relay.emit("device", device)
        try:
            return self.job.run(self.progress, device=device, **self.job.kwargs)
        except Exception as exc:
            if device == "cpu" or not is_out_of_memory(exc):
                raise
            self._relay.emit("device", "cpu (fell back after running out of GPU memory)")
            _free_gpu_memory()
            return self.job.run(self.progress, device="cpu", **self.job.kwargs)

    def _end(self, state: str, payload=None) -> None:
        self.state = state
        self._relay.emit(state, payload)
        self.done.set()


def _free_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Runnable(QRunnable):
    def __init__(self, handle: JobHandle):
        super().__init__()
        self.handle = handle
        self.setAutoDelete(True)

    def run(self):
        self.handle.execute()


class ModelThread(threading.Thread):
    """A long-lived thread for torch work: models load once and stay on their device."""

    def __init__(self, requested_device: str = "auto"):
        super().__init__(name="usannotator-model", daemon=True)
        self.requested_device = requested_device
        self.device = None
        self._queue: queue.Queue = queue.Queue()

    def submit(self, handle: JobHandle) -> None:
        self._queue.put(handle)

    def stop(self) -> None:
        self._queue.put(None)

    def run(self):
        from usannotator.jobs import choose_device

        while (handle := self._queue.get()) is not None:
            if handle.progress.cancelled:
                handle._end("cancelled")
                continue
            if self.device is None:
                try:
                    self.device = choose_device(self.requested_device)
                except Exception:  # noqa: BLE001 - an unusable device request falls back to the CPU
                    self.device = "cpu"
            handle.execute(self.device)


class JobRunner(QObject):
    """The application's single entry point for long work."""

    started = Signal(object)   # JobHandle, so the window can show its progress and Cancel button

    def __init__(self, parent=None, model_device: str = "auto"):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, min(2, QThreadPool.globalInstance().maxThreadCount())))
        self.model_device = model_device
        self._model_thread: ModelThread | None = None
        self.active: list[JobHandle] = []

    def submit(self, job: Job, on_result=None, on_partial=None, on_error=None, on_cancel=None) -> JobHandle:
        handle = JobHandle(job)
        # the handle lives in the GUI thread, so these callbacks run there (queued from the worker)
        if on_result:
            handle.finished.connect(on_result)
        if on_partial:
            handle.partial.connect(on_partial)
        if on_error:
            handle.failed.connect(on_error)
        if on_cancel:
            handle.cancelled.connect(on_cancel)
        handle.ended.connect(lambda h=handle: self._forget(h))  # runs on the GUI thread (see JobHandle)
        self.active.append(handle)
        self.started.emit(handle)
        if job.uses_model:
            self._model().submit(handle)
        else:
            self.pool.start(_Runnable(handle))
        return handle

    @Slot()
    def _forget(self, handle) -> None:
        if handle in self.active:
            self.active.remove(handle)

    def _model(self) -> ModelThread:
        if self._model_thread is None or not self._model_thread.is_alive():
            self._model_thread = ModelThread(self.model_device)
            self._model_thread.start()
        return self._model_thread

    @property
    def model_device(self) -> str:
        return self._model_device

    @model_device.setter
    def model_device(self, value: str) -> None:
        self._model_device = value
        if getattr(self, "_model_thread", None) is not None:
            self._model_thread.requested_device = value
            self._model_thread.device = None

    def cancel_all(self) -> None:
        for handle in list(self.active):
            handle.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Cancel everything and wait for the threads (on window close)."""
        self.cancel_all()
        self.pool.waitForDone(timeout_ms)
        if self._model_thread is not None:
            self._model_thread.stop()
            self._model_thread.join(timeout_ms / 1000)
