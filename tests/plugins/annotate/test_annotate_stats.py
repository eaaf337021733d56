"""Statistics: exact figures, and incremental updates that always equal a fresh count."""

import numpy as np

from usannotator.core import Document, Geometry, Provenance, Volume
from usannotator_plugins.annotate import keyslices, tools
from usannotator_plugins.annotate.stats import LabelStatistics, label_statistics
from usannotator_plugins.annotate.tools import ViewSlice


def make_doc():
    labels = np.zeros((12, 8, 9), np.uint16)
    labels[3, 2:4, 2:5] = 1        # 6 voxels
    labels[7, 1:3, 1:3] = 1        # 4 voxels
    labels[5:7, 0, 0] = 2          # 2 voxels
    geometry = Geometry(spacing=(0.5, 0.4, 2.0))    # x, y, z in mm: a voxel is 0.4 mm3
    return Document(Volume(np.zeros(labels.shape, np.uint8), geometry), labels,
                    provenance=Provenance.from_sparse_labels(labels))


def as_dicts(stats):
    return [s.to_dict() for s in stats]


def test_figures_per_label():
    gm, gl, sol = label_statistics(make_doc())
    assert (gm.name, gm.voxels, gm.key_slices, gm.first_slice, gm.last_slice) == ("GM", 10, 2, 3, 7)
    assert np.isclose(gm.volume_ml, 10 * 0.4 / 1000) and gm.extent_mm == 5 * 2.0
    assert (gl.voxels, gl.key_slices, gl.extent_mm) == (2, 2, 4.0)
    assert (sol.voxels, sol.first_slice, sol.extent_mm) == (0, None, 0.0)


def test_incremental_updates_equal_a_fresh_count_through_edits_undo_and_redo(monkeypatch):
    doc = make_doc()
    live = LabelStatistics(doc)
    updates = []
    live.changed.connect(lambda: updates.append(1))
    full_counts = []
    monkeypatch.setattr(LabelStatistics, "recount", lambda self: full_counts.append(1))  # none from now on
    rng = np.random.default_rng(3)
    for step in range(40):
        where = ViewSlice(int(rng.integers(0, 3)), int(rng.integers(0, 8)))
        choice = step % 4
        if choice == 0:
            edit = tools.brush(doc, where, rng.uniform(-1, 9, (3, 2)), rng.uniform(0, 2), int(rng.integers(1, 4)))
        elif choice == 1:
            edit = tools.erase(doc, where, rng.uniform(-1, 9, (2, 2)), 2)
        elif choice == 2:
            edit = keyslices.unmark_key_slice(doc, int(rng.integers(1, 3)), int(rng.integers(0, 12)))
        else:
            edit = None
            doc.undo() if rng.random() < 0.6 else doc.redo()
        if edit is not None:
            doc.apply_edit(edit)
    monkeypatch.undo()
    assert as_dicts(live.all()) == as_dicts(label_statistics(doc))
    assert not full_counts and len(updates) > 20


def test_replacing_the_labels_recounts():
    doc = make_doc()
    live = LabelStatistics(doc)
    labels = np.zeros(doc.labels.shape, np.uint16)
    labels[0] = 3
    doc.replace_labels(labels)
    assert [s.voxels for s in live.all()] == [0, 0, 72]
    live.close()
    doc.replace_labels(np.zeros(doc.labels.shape, np.uint16))
    assert live.of(3).voxels == 72     # closed: no longer follows the document
