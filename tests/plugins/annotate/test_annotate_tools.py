"""Each tool on each view writes exactly the expected voxels; locks, rules, clipping and errors."""

import numpy as np
import pytest

from usannotator.core import Document, LockedLabelError, OverwriteRule, Source, Volume
from usannotator_plugins.annotate import tools
from usannotator_plugins.annotate.tools import NoActiveLabelError, NotEnclosedError, ViewSlice

SHAPE = (6, 7, 8)   # (sweep, depth, lateral): every axis a different length catches swapped axes


def new_doc(labels=None):
    return Document(Volume(np.zeros(SHAPE, np.uint8), name="t"), labels)


def voxel(axis, index, row, col):
    """Where a (row, col) pixel of a view lands, written out per view (not taken from the code)."""
    if axis == 0:      # cross-section: rows = depth, cols = lateral
        return index, row, col
    if axis == 1:      # rows = sweep, cols = lateral
        return row, index, col
    return col, row, index   # lateral view: rows = depth, cols = sweep


def painted(axis, index, pixels):
    """The label volume (as bool) expected after painting `pixels` of a view."""
    out = np.zeros(SHAPE, bool)
    for row, col in pixels:
        out[voxel(axis, index, row, col)] = True
    return out


def paint(doc, edit):
    assert edit is not None
    return doc.apply_edit(edit)


VIEWS = [ViewSlice(0, 3), ViewSlice(1, 4), ViewSlice(2, 5)]


@pytest.mark.parametrize("where", VIEWS, ids=["sweep", "depth", "lateral"])
def test_brush_dab_paints_a_disk_on_the_slice(where):
    doc = new_doc()
    edit = tools.brush(doc, where, [(2, 3)], 1.0, 1)
    paint(doc, edit)
    expected = painted(where.axis, where.index, [(2, 3), (1, 3), (3, 3), (2, 2), (2, 4)])
    np.testing.assert_array_equal(doc.labels == 1, expected)
    assert edit.mask.sum() == 5 and edit.mask.size == 9   # the region is the footprint's box


@pytest.mark.parametrize("where", VIEWS, ids=["sweep", "depth", "lateral"])
def test_thin_stroke_paints_its_line(where):
    doc = new_doc()
    paint(doc, tools.brush(doc, where, [(1, 0), (1, 4)], 0, 2))
    np.testing.assert_array_equal(doc.labels == 2, painted(where.axis, where.index, [(1, c) for c in range(5)]))


def test_thin_diagonal_stroke_has_no_gap():
    doc = new_doc()
    paint(doc, tools.brush(doc, ViewSlice(0, 0), [(0, 0), (2.0, 7.0)], 0, 1))
    image = doc.labels[0] == 1
    assert all(image[:, c].any() for c in range(8))   # one pixel per column at least: 8-connected


def test_the_thinnest_pen_paints_the_pixel_under_a_click_anywhere_in_it():
    doc = new_doc()
    paint(doc, tools.brush(doc, ViewSlice(0, 0), [(2.5, 3.49)], 0, 1))   # a corner: 0.71 from all centres
    assert list(zip(*np.nonzero(doc.labels[0]))) == [(3, 3)]


def test_sphere_brush_reaches_neighbouring_slices():
    doc = new_doc()
    edit = tools.brush(doc, ViewSlice(0, 3), [(3, 3)], 1.0, 1, sphere=True)
    paint(doc, edit)
    expected = np.zeros(SHAPE, bool)
    for z, y, x in [(3, 3, 3), (2, 3, 3), (4, 3, 3), (3, 2, 3), (3, 4, 3), (3, 3, 2), (3, 3, 4)]:
        expected[z, y, x] = True
    np.testing.assert_array_equal(doc.labels == 1, expected)
    assert edit.description == "Brush 3D GM, slices 2-4"
    assert list(doc.key_slices(1)) == [2, 3, 4]


@pytest.mark.parametrize("where", VIEWS, ids=["sweep", "depth", "lateral"])
def test_polygon_fills_inside_and_outline(where):
    doc = new_doc()
    paint(doc, tools.polygon_fill(doc, where, [(1, 1), (1, 3), (4, 3), (4, 1)], 3))
    pixels = [(r, c) for r in range(1, 5) for c in range(1, 4)]
    np.testing.assert_array_equal(doc.labels == 3, painted(where.axis, where.index, pixels))


def test_polygon_triangle_exact_pixels():
    doc = new_doc()
    paint(doc, tools.polygon_fill(doc, ViewSlice(0, 0), [(0, 0), (0, 6), (6, 0)], 1))
    # pixel centres with r + c <= 6 are inside or on the hypotenuse (within half a voxel of it)
    expected = np.array([[r + c <= 6 for c in range(8)] for r in range(7)])
    np.testing.assert_array_equal(doc.labels[0] == 1, expected)


def test_freehand_circle_fills_the_disk():
    doc = Document(Volume(np.zeros((1, 30, 30), np.uint8)))
    angles = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    contour = np.c_[15 + 8 * np.sin(angles), 15 + 8 * np.cos(angles)]
    edit = tools.freehand_fill(doc, ViewSlice(0, 0), contour, 2)
    paint(doc, edit)
    rows, cols = np.mgrid[0:30, 0:30]
    distance = np.hypot(rows - 15, cols - 15)
    got = doc.labels[0] == 2
    assert got[distance <= 7.5].all() and not got[distance > 8.5].any()
    assert edit.description == "Freehand GL, slice 0"


@pytest.mark.parametrize("where", VIEWS, ids=["sweep", "depth", "lateral"])
def test_flood_fill_inside_an_outline(where):
    doc = new_doc()
    ring = [(1, 1), (1, 5), (4, 5), (4, 1), (1, 1)]
    paint(doc, tools.brush(doc, where, ring, 0, 1))
    edit = tools.flood_fill(doc, where, (2.4, 2.6), 1)
    paint(doc, edit)
    filled = [(r, c) for r in range(1, 5) for c in range(1, 6)]
    np.testing.assert_array_equal(doc.labels == 1, painted(where.axis, where.index, filled))
    assert edit.mask.sum() == 6   # only the inside was filled


def test_a_thin_diagonal_outline_holds_a_fill():
    doc = Document(Volume(np.zeros((1, 9, 9), np.uint8)))
    diamond = [(1, 4), (4, 7), (7, 4), (4, 1), (1, 4)]
    paint(doc, tools.brush(doc, ViewSlice(0, 0), diamond, 0, 1))
    outline = doc.labels[0] == 1
    paint(doc, tools.flood_fill(doc, ViewSlice(0, 0), (4, 4), 1))
    rows, cols = np.mgrid[0:9, 0:9]
    inside = np.abs(rows - 4) + np.abs(cols - 4) < 3
    np.testing.assert_array_equal(doc.labels[0] == 1, outline | inside)
    assert not (doc.labels[0, 0] | doc.labels[:, 0, 8]).any()


def test_flood_fill_that_would_leak_is_refused():
    doc = new_doc()
    paint(doc, tools.brush(doc, ViewSlice(0, 0), [(1, 1), (1, 4), (4, 4), (4, 1)], 0, 1))  # open on the left
    with pytest.raises(NotEnclosedError):
        tools.flood_fill(doc, ViewSlice(0, 0), (2, 2), 1)
    assert (doc.labels == 1).sum() == 10
    assert tools.flood_fill(doc, ViewSlice(0, 0), (1, 1), 1) is None   # seed on the label: nothing to fill


def test_flood_fill_bounded_by_any_label_fills_the_gap_between_muscles():
    labels = np.zeros(SHAPE, np.uint16)
    labels[0, 1:6, 1:7] = 1
    labels[0, 1:6, 4:7] = 2
    labels[0, 2:5, 3:5] = 0    # a gap straddling GM and GL
    doc = new_doc(labels)
    paint(doc, tools.flood_fill(doc, ViewSlice(0, 0), (3, 3), 3, bounded_by="any"))
    expected = labels.copy()
    expected[0, 2:5, 3:5] = 3
    np.testing.assert_array_equal(doc.labels, expected)


def test_fill_holes_fills_what_the_label_encloses():
    labels = np.zeros(SHAPE, np.uint16)
    labels[2, 1:6, 1:7] = 1
    labels[2, 2:5, 2:4] = 0     # a background hole
    labels[2, 3, 5] = 2         # another muscle inside GM
    doc = new_doc(labels)
    paint(doc, tools.fill_holes(doc, ViewSlice(0, 2), 1, rule=OverwriteRule.BACKGROUND_ONLY))
    assert (doc.labels[2, 1:6, 1:7] == 1).sum() == 29 and doc.labels[2, 3, 5] == 2
    paint(doc, tools.fill_holes(doc, ViewSlice(0, 2), 1))
    assert (doc.labels[2, 1:6, 1:7] == 1).all()
    assert tools.fill_holes(doc, ViewSlice(0, 2), 1) is None     # nothing left to fill
    assert tools.fill_holes(doc, ViewSlice(0, 0), 1) is None     # the label is not on that slice


def test_eraser_erases_every_label_or_only_the_chosen_one_never_a_locked_one():
    labels = np.zeros(SHAPE, np.uint16)
    labels[0, 0:3, 0:8] = 1
    labels[0, 3:7, 0:8] = 2
    labels[0, :, 0:2] = 3
    doc = new_doc(labels)
    doc.label_table.update(3, locked=True)
    change = paint(doc, tools.erase(doc, ViewSlice(0, 0), [(3, 0), (3, 7)], 10, label=2))
    assert change.description == "Erase GL, slice 0"
    assert not (doc.labels == 2).any() and (doc.labels == 1).sum() == 18 and (doc.labels == 3).sum() == 14
    # "background only" means nothing to an eraser: it erases as "everything" (locked GM... not here)
    paint(doc, tools.erase(doc, ViewSlice(0, 0), [(3, 0), (3, 7)], 10, rule=OverwriteRule.BACKGROUND_ONLY))
    assert not (doc.labels == 1).any() and (doc.labels == 3).sum() == 14
    assert doc.history.undo_text() == "Erase, slice 0"


def test_overwrite_rules_and_locks():
    labels = np.zeros(SHAPE, np.uint16)
    labels[0, :, 4:] = 2
    stroke = [(3, 0), (3, 7)]
    doc = new_doc(labels)
    paint(doc, tools.brush(doc, ViewSlice(0, 0), stroke, 0, 1, rule=OverwriteRule.BACKGROUND_ONLY))
    assert list(doc.labels[0, 3]) == [1, 1, 1, 1, 2, 2, 2, 2]

    doc = new_doc(labels)
    doc.label_table.update(2, visible=False)
    paint(doc, tools.brush(doc, ViewSlice(0, 0), stroke, 0, 1, rule=OverwriteRule.VISIBLE_UNLOCKED))
    assert list(doc.labels[0, 3]) == [1, 1, 1, 1, 2, 2, 2, 2]
    paint(doc, tools.brush(doc, ViewSlice(0, 0), stroke, 0, 1, rule=OverwriteRule.EVERYTHING))
    assert list(doc.labels[0, 3]) == [1] * 8

    doc = new_doc(labels)
    doc.label_table.update(2, locked=True)
    paint(doc, tools.brush(doc, ViewSlice(0, 0), stroke, 0, 1))
    assert list(doc.labels[0, 3]) == [1, 1, 1, 1, 2, 2, 2, 2]
    with pytest.raises(LockedLabelError):   # every voxel under this stroke is locked GL
        doc.apply_edit(tools.brush(doc, ViewSlice(0, 0), [(3, 6)], 0, 1))


def test_active_label_errors_and_warnings():
    doc = new_doc()
    where = ViewSlice(0, 0)
    with pytest.raises(NoActiveLabelError, match="no label is selected"):
        tools.brush(doc, where, [(1, 1)], 1, None)
    with pytest.raises(NoActiveLabelError, match="not in the label table"):
        tools.polygon_fill(doc, where, [(1, 1), (1, 3), (3, 3)], 9)
    doc.label_table.update(1, locked=True)
    with pytest.raises(LockedLabelError, match="GM is locked"):
        tools.brush(doc, where, [(1, 1)], 1, 1)
    assert "locked" in tools.label_warning(doc, 1)
    doc.label_table.update(2, visible=False)
    assert "hidden" in tools.label_warning(doc, 2)
    paint(doc, tools.brush(doc, where, [(1, 1)], 0, 2))       # allowed, as in ITK-SNAP
    assert doc.labels[0, 1, 1] == 2
    with pytest.raises(LockedLabelError, match="hidden"):
        tools.brush(doc, where, [(1, 1)], 0, 2, rule=OverwriteRule.VISIBLE_UNLOCKED)
    assert tools.label_warning(doc, 3) == "" and tools.label_warning(doc, None) == ""


def test_clipping_at_the_volume_edge():
    doc = new_doc()
    assert tools.brush(doc, ViewSlice(0, 0), [(-20, -20), (-10, -30)], 2, 1) is None
    assert tools.polygon_fill(doc, ViewSlice(0, 0), [(-9, -9), (-9, -5), (-5, -5)], 1) is None
    assert tools.flood_fill(doc, ViewSlice(0, 0), (40, 2), 1) is None
    paint(doc, tools.brush(doc, ViewSlice(0, 0), [(-1, 3)], 1.5, 1))
    assert sorted(zip(*np.nonzero(doc.labels[0]))) == [(0, 2), (0, 3), (0, 4)]
    edit = tools.brush(doc, ViewSlice(1, 2), [(3, 4)], 100, 2)   # bigger than the slice
    assert edit.region == (slice(0, 6), slice(2, 3), slice(0, 8))
    paint(doc, edit)
    assert (doc.labels[:, 2, :] == 2).all() and (doc.labels == 2).sum() == 48
    with pytest.raises(ValueError):
        tools.brush(doc, ViewSlice(0, 6), [(1, 1)], 1, 1)


def test_descriptions_count_slices_along_the_sweep_and_hand_edits_make_key_slices():
    doc = Document(Volume(np.zeros((420, 7, 8), np.uint8)))
    doc.provenance.set(1, [2, 3], Source.INTERPOLATED)
    assert paint(doc, tools.brush(doc, ViewSlice(0, 412), [(2, 2)], 1, 1)).description == "Brush GM, slice 412"
    change = paint(doc, tools.brush(doc, ViewSlice(2, 3), [(2, 1), (2, 4)], 0, 1))   # lateral view: cols = sweep
    assert change.description == "Brush GM, slices 1-4"
    assert list(doc.key_slices(1)) == [1, 2, 3, 4, 412]
    assert doc.provenance.of(1)[2] == Source.CORRECTED and doc.provenance.of(1)[1] == Source.MANUAL
