"""Annotation in the real window on a thesis-sized volume: brush latency, undo memory, autosave, recovery.

Volume 1443 x 564 x 632 (sweep, depth, lateral), image uint8, three muscles drawn over the whole
sweep (benchmarks/annotate_memory.py's `muscles`). Mouse events go through Qt to the slice view
(QTest), as a hand would send them. Figures are printed, not asserted.

  latency of a dab: from the mouse-move event until the view's last Render() for it has returned
      (the preview of the stroke on screen), median and 95th percentile per view;
  latency of a release: the whole stroke applied as one edit, journal record handed over, views redrawn;
  memory per undo step for a typical stroke (20 points, radius 10);
  autosave: GUI-thread time per record, written in place (write + fsync) vs handed to the writer thread;
  recovery after a crash with 200 strokes in the journal: io.journal.recover alone, and the window's
      Restore (recover, redraw, statistics, new base snapshot).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/annotate_latency.py [--small]

Needs about 6 GB of memory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotate_memory import THESIS_SHAPE, muscles, typical_stroke  # noqa: E402

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from usannotator.core import Document, Geometry, Volume  # noqa: E402
from usannotator.gui.app import create_app, create_window  # noqa: E402
from usannotator.gui.autosave import BackgroundJournal  # noqa: E402
from usannotator.io.journal import Journal, recover  # noqa: E402
from usannotator.plugins.discovery import PluginRecord  # noqa: E402
from usannotator_plugins import annotate  # noqa: E402
from usannotator_plugins.annotate import tools  # noqa: E402
from usannotator_plugins.annotate.tools import ViewSlice  # noqa: E402

VIEW_NAMES = {0: "cross-section (axis 0)", 1: "coronal (axis 1)", 2: "longitudinal (axis 2)"}


def ms(values) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"median {1000 * statistics.median(values):7.2f} ms, p95 {1000 * p95:7.2f} ms"


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def settle(app, seconds=0.3):
    """Let timers run (the 3D view rebuilds its surfaces 400 ms after an edit), as between two strokes."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


class RenderClock:
    """Records when each Render() of a view returns."""

    def __init__(self, view):
        self.stamps, self.durations = [], []
        render = view.render

        def timed_render():
            t0 = time.perf_counter()
            render()
            self.stamps.append(time.perf_counter())
            self.durations.append(self.stamps[-1] - t0)
        view.render = timed_render

    def since(self, t0) -> float | None:
        after = [t for t in self.stamps if t >= t0]
        return after[-1] - t0 if after else None


def screen_pos(view, row, col) -> QPoint:
    sr, sc = view.spacing_rc
    view.renderer.SetWorldPoint(col * sc, row * sr, 0, 1)
    view.renderer.WorldToDisplay()
    x, y, _ = view.renderer.GetDisplayPoint()
    ratio = view.canvas.devicePixelRatioF()
    return QPoint(round(x / ratio), round(view.canvas.height() - y / ratio))


def measure_strokes(app, window, view, rng, n_strokes, dabs_per_stroke):
    """Brush strokes through mouse events; (dab latencies, drag-only times, release latencies)."""
    clock = RenderClock(view)
    brush = window.host.active_tool
    drag, drag_times = brush.drag, []

    def timed_drag(v, point):
        t0 = time.perf_counter()
        drag(v, point)
        drag_times.append(time.perf_counter() - t0)
    brush.drag = timed_drag
    rows, cols = view.slice_shape()
    dabs, releases = [], []
    for i in range(n_strokes):
        window.label_panel.set_active_label(1 + i % 3)
        start = rng.uniform([0.2 * rows, 0.2 * cols], [0.6 * rows, 0.6 * cols])
        path = [screen_pos(view, *(start + k * np.array([3.0, 5.0]))) for k in range(dabs_per_stroke + 1)]
        QTest.mousePress(view.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, path[0])
        for p in path[1:]:
            t0 = time.perf_counter()
            QTest.mouseMove(view.canvas, p)
            dabs.append(clock.since(t0))
        t0 = time.perf_counter()
        QTest.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, path[-1])
        releases.append(clock.since(t0))
        settle(app, 0.05)
    del brush.drag
    del view.render
    return [d for d in dabs if d is not None], drag_times, [r for r in releases if r is not None], clock.durations


def journal_times(doc, changes, folder):
    """GUI-thread seconds per record: a plain Journal (encode, write, fsync) vs the writer thread."""
    results = {}
    for name, cls in (("in place (write + fsync)", Journal), ("writer thread", BackgroundJournal)):
        journal = cls.start(doc, folder, replace_existing=True)
        times = [timed(lambda: journal.record(change, "do"))[1] for change in changes]
        if isinstance(journal, BackgroundJournal):
            journal.wait()
        journal.close()
        results[name] = times
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a 10x shorter sweep, for a quick look")
    parser.add_argument("--strokes", type=int, default=200, help="strokes in the journal before the crash")
    args = parser.parse_args()
    shape = (THESIS_SHAPE[0] // 10, *THESIS_SHAPE[1:]) if args.small else THESIS_SHAPE
    rng = np.random.default_rng(0)
    print(f"volume {shape} (sweep, depth, lateral)")
    image = (np.arange(shape[1], dtype=np.uint8)[None, :, None] * np.ones(shape, np.uint8))
    labels, t_labels = timed(lambda: muscles(shape))
    geometry = Geometry(spacing=(0.1, 0.1, 0.25))
    doc, t_doc = timed(lambda: Document(Volume(image, geometry, path="/bench/leg.mha"), labels))
    del labels
    print(f"labels drawn in {t_labels:.1f} s; Document built in {t_doc:.2f} s")

    with tempfile.TemporaryDirectory() as home:
        import os

        os.environ["XDG_DATA_HOME"] = os.environ["XDG_CONFIG_HOME"] = home   # autosave and settings of this run only
        app = create_app()
        window = create_window(records=[PluginRecord("annotate", "usannotator_plugins.annotate:plugin",
                                                     plugin=annotate.plugin)])
        window.resize(1400, 900)
        window.show()
        settle(app)
        _, t_open = timed(lambda: window.set_document(doc))
        print(f"window shows the document in {t_open:.2f} s (views, 3D surfaces, statistics, autosave base snapshot)")
        window.reset_views()
        settle(app, 1.0)
        next(t for t in window.host.tools if t.name == "brush").action.trigger()
        annotate.plugin.gui.brush.set_radius(10)

        print("\n1. Brush latency, mouse event -> stroke preview on screen (10 strokes x 10 dabs per view, radius 10)")
        for axis, view in enumerate(window.slice_views):
            dabs, drags, releases, renders = measure_strokes(app, window, view, rng, 10, 10)
            rows, cols = view.slice_shape()
            print(f"  {VIEW_NAMES[axis]:24s} slice {rows} x {cols}: dab {ms(dabs)}")
            print(f"  {'':24s} of which the tool (preview, upload, render) {ms(drags)}; one Render() {ms(renders)}")
            print(f"  {'':24s} release (one edit, journal, redraw): {ms(releases)}")

        print("\n2. Memory per undo step, typical stroke (20 points, radius 10) on the cross-section")
        sizes, changes = [], []
        for i in range(50):
            where = ViewSlice(0, int(rng.integers(0, shape[0])))
            edit = tools.brush(doc, where, typical_stroke(rng, *shape[1:]), 10, 1 + i % 3)
            change = window.host.apply_edit(edit)
            if change is not None:
                sizes.append(change.nbytes)
                changes.append(change)
        print(f"  {statistics.mean(sizes) / 1024:.1f} KiB per stroke (mean of {len(sizes)}), "
              f"history {doc.history.nbytes / 1024 ** 2:.1f} MiB after {len(doc.history)} steps")

        print("\n3. Autosave: GUI-thread time per finished stroke")
        with tempfile.TemporaryDirectory() as folder:
            for name, times in journal_times(doc, changes, folder).items():
                print(f"  {name:26s} {ms(times)}, max {1000 * max(times):.1f} ms")

        print(f"\n4. Recovery after a crash with {args.strokes} strokes in the journal")
        window.autosave.wait()
        for i in range(args.strokes):
            where = ViewSlice(0, int(rng.integers(0, shape[0])))
            window.host.apply_edit(tools.brush(doc, where, typical_stroke(rng, *shape[1:]), 10, 1 + i % 3))
        window.autosave.wait()
        expected = doc.labels
        journal = window.autosave.journal
        print(f"  journal {journal.journal_path.stat().st_size / 1024 ** 2:.1f} MiB, "
              f"{journal.records_since_snapshot} records; base snapshot "
              f"{journal.snapshot_path.stat().st_size / 1024 ** 2:.1f} MiB")
        journal.close(clean=False)                         # what a crash leaves on disk
        window.autosave.journal = None
        fresh = Document(doc.volume)
        report, t_recover = timed(lambda: recover(fresh))
        print(f"  io.journal.recover: {t_recover:.2f} s, identical: {np.array_equal(fresh.labels, expected)}; "
              f"{report.message}")
        del fresh
        reopened = Document(doc.volume)
        window.set_document(reopened)
        _, t_restore = timed(lambda: window.autosave.offer.choose("restore"))
        print(f"  the window's Restore (recover, redraw, statistics, new base snapshot): {t_restore:.2f} s, "
              f"identical: {np.array_equal(reopened.labels, expected)}")
        reopened.modified = False
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
