"""Annotation on a thesis-sized volume: undo memory per stroke, time per edit, autosave and recovery.

Volume 1443 x 564 x 632 (sweep, depth, lateral), image uint8, labels uint16 as the Document keeps
them, three muscles drawn as drifting ellipses over the whole sweep (a finished annotation). A
"typical stroke" is a 20-point brush stroke of radius 10 voxels. Figures are printed, not asserted.

    .venv/bin/python benchmarks/annotate_memory.py [--strokes 200] [--small]

Needs about 6 GB of memory (image, labels, undo, the recovered copy).
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

from usannotator.core import Document, Geometry, Volume  # noqa: E402
from usannotator.io.journal import Journal, discard_recovery, recover  # noqa: E402
from usannotator_plugins.annotate import tools  # noqa: E402
from usannotator_plugins.annotate.stats import LabelStatistics  # noqa: E402
from usannotator_plugins.annotate.tools import ViewSlice  # noqa: E402

THESIS_SHAPE = (1443, 564, 632)


def muscles(shape) -> np.ndarray:
    """GM, GL and SOL as ellipses whose centres drift along the sweep (every page of the array touched)."""
    n, h, w = shape
    rows, cols = np.ogrid[0:h, 0:w]
    labels = np.zeros(shape, np.uint16)
    for z in range(n):
        drift = 0.05 * w * np.sin(z / n * np.pi)
        for value, (cy, cx, ry, rx) in enumerate([(0.25, 0.3, 0.12, 0.2), (0.25, 0.7, 0.1, 0.18),
                                                  (0.6, 0.5, 0.18, 0.4)], start=1):
            inside = ((rows - cy * h) / (ry * h)) ** 2 + ((cols - cx * w - drift) / (rx * w)) ** 2 <= 1
            labels[z][inside] = value
    return labels


def typical_stroke(rng, h, w) -> np.ndarray:
    """20 points of a wavy stroke about 150 voxels long, as a hand drags the brush."""
    start = rng.uniform([0.2 * h, 0.2 * w], [0.8 * h, 0.6 * w])
    t = np.linspace(0, 1, 20)[:, None]
    return start + t * np.array([40.0, 150.0]) + 6 * np.sin(t * 6 + rng.uniform(0, 6))


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def ms(values) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"median {1000 * statistics.median(values):7.2f} ms, p95 {1000 * p95:7.2f} ms"


def strokes_per_view(doc, rng, n):
    """Build + apply n strokes on each kind of view; return per-view (build, apply, bytes) lists."""
    results = {}
    shape = doc.labels.shape
    views = {"cross-section (axis 0), disk": (0, False), "depth view (axis 1), disk": (1, False),
             "lateral view (axis 2), disk": (2, False), "cross-section, 3D sphere": (0, True)}
    for name, (axis, sphere) in views.items():
        rows, cols = (shape[1], shape[2]) if axis == 0 else ((shape[0], shape[2]) if axis == 1 else (shape[1], shape[0]))
        build, apply, sizes = [], [], []
        for i in range(n):
            where = ViewSlice(axis, int(rng.integers(0, shape[axis])))
            points = typical_stroke(rng, rows, cols)
            edit, t_build = timed(lambda: tools.brush(doc, where, points, 10, 1 + i % 3, sphere=sphere))
            change, t_apply = timed(lambda: doc.apply_edit(edit))
            build.append(t_build)
            apply.append(t_apply)
            sizes.append(change.nbytes if change is not None else 0)
        results[name] = (build, apply, sizes)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=200, help="strokes before recovery (default 200)")
    parser.add_argument("--small", action="store_true", help="a 10x smaller sweep, for a quick look")
    args = parser.parse_args()
    shape = (THESIS_SHAPE[0] // 10, *THESIS_SHAPE[1:]) if args.small else THESIS_SHAPE
    rng = np.random.default_rng(0)

    print(f"volume {shape} (sweep, depth, lateral); image uint8 {np.prod(shape) / 1e9:.2f} GB, "
          f"labels uint16 {2 * np.prod(shape) / 1e9:.2f} GB")
    image = np.zeros(shape, np.uint8)
    labels, t = timed(lambda: muscles(shape))
    geometry = Geometry(spacing=(0.1, 0.1, 0.25))
    doc, t_doc = timed(lambda: Document(Volume(image, geometry, path="/bench/leg.mha"), labels))
    del labels
    print(f"labels drawn in {t:.1f} s; Document built in {t_doc:.2f} s (np.unique over the labels for the table)")

    # ----- undo memory and time per edit -----
    print("\n1. Per stroke (20 points, radius 10), 50 strokes per view: undo memory and time in the document")
    for name, (build, apply, sizes) in strokes_per_view(doc, rng, 50).items():
        print(f"  {name:32s} undo step {statistics.mean(sizes) / 1024:8.1f} KiB   "
              f"tool {ms(build)}   apply_edit {ms(apply)}")
    history_mb = doc.history.nbytes / 1024 ** 2
    print(f"  undo history after {len(doc.history)} steps: {history_mb:.1f} MiB "
          f"(cap {doc.history.memory_cap_bytes / 1024 ** 2:.0f} MiB)")
    undo_times = [timed(doc.undo)[1] for _ in range(50)]
    redo_times = [timed(doc.redo)[1] for _ in range(50)]
    print(f"  undo {ms(undo_times)}   redo {ms(redo_times)}")

    # ----- statistics: incremental vs counting again -----
    stats, t_count = timed(lambda: LabelStatistics(doc))
    stats.close()   # updated by hand below, so that the update is timed alone
    per_edit = []
    for i in range(30):
        edit = tools.brush(doc, ViewSlice(0, int(rng.integers(0, shape[0]))), typical_stroke(rng, *shape[1:]), 10, 2)
        change = doc.apply_edit(edit)
        if change is not None:
            per_edit.append(timed(lambda: stats._on_edit(change, "do"))[1])
    counts, t_recount = timed(lambda: [int(np.count_nonzero(doc.labels == v)) for v in (1, 2, 3)])
    agree = counts == [stats.of(v).voxels for v in (1, 2, 3)]
    print(f"\n2. Statistics: first full count {t_count:.2f} s; per stroke, incremental {ms(per_edit)} "
          f"(agrees with a full count: {agree}); counting again per stroke would cost {t_recount:.2f} s")

    # ----- autosave: snapshot, journal, recovery -----
    with tempfile.TemporaryDirectory() as folder:
        journal, t_start = timed(lambda: Journal.start(doc, folder))
        snapshot_mb = journal.snapshot_path.stat().st_size / 1024 ** 2
        print(f"\n3. Autosave in {folder}: base snapshot {t_start:.2f} s, {snapshot_mb:.1f} MiB on disk")
        appended = []
        for i in range(args.strokes):
            where = ViewSlice(0, int(rng.integers(0, shape[0])))
            edit = tools.brush(doc, where, typical_stroke(rng, *shape[1:]), 10, 1 + i % 3)
            t0 = time.perf_counter()
            change = doc.apply_edit(edit)
            appended.append(time.perf_counter() - t0)
            if i % 10 == 9:
                doc.undo()
                doc.redo()
        journal_mb = journal.journal_path.stat().st_size / 1024 ** 2
        print(f"  {args.strokes} strokes (+ an undo and redo every 10): apply_edit with journal (append + fsync) "
              f"{ms(appended)}; journal {journal_mb:.2f} MiB, {journal.records_since_snapshot} records")
        _, t_compact = timed(journal.snapshot)
        print(f"  compaction after strokes all over the sweep (every slab re-encoded): {t_compact:.2f} s")
        for i in range(50):   # a clinician's session between snapshots: a few key slices
            where = ViewSlice(0, 100 * (i % 10) + 50)
            doc.apply_edit(tools.brush(doc, where, typical_stroke(rng, *shape[1:]), 10, 1 + i % 3))
        _, t_compact = timed(journal.snapshot)
        print(f"  compaction after 50 strokes on 10 key slices: {t_compact:.2f} s")
        # recover the state before compaction: put the journal back as a crash would have left it
        journal.close(clean=False)
        fresh = Document(Volume(image, geometry, path="/bench/leg.mha"))
        report, t_recover = timed(lambda: recover(fresh, folder))
        same = np.array_equal(fresh.labels, doc.labels)
        print(f"  recovery from snapshot only (after compaction): {t_recover:.2f} s, identical: {same}")
        discard_recovery(doc.volume, folder)

        journal = Journal.start(doc, folder)
        for i in range(args.strokes):
            where = ViewSlice(0, int(rng.integers(0, shape[0])))
            doc.apply_edit(tools.brush(doc, where, typical_stroke(rng, *shape[1:]), 10, 1 + i % 3))
        journal.close(clean=False)   # as after a crash
        del fresh
        fresh = Document(Volume(image, geometry, path="/bench/leg.mha"))
        report, t_recover = timed(lambda: recover(fresh, folder))
        same = np.array_equal(fresh.labels, doc.labels)
        print(f"  recovery, snapshot + {report.edits_recovered} journal records: {t_recover:.2f} s, "
              f"identical: {same}; {report.message}")
        _, t_core = timed(lambda: fresh.replace_labels(fresh.labels, fresh.provenance))
        _, t_unique = timed(lambda: np.unique(fresh.labels))
        print(f"  of which Document.replace_labels (core) about {t_core:.2f} s, "
              f"its np.unique over the labels alone {t_unique:.2f} s")
        discard_recovery(doc.volume, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
