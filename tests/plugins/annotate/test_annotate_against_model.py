"""Long random sequences of tool edits, undos and redos, with random labels, locks, visibility and
overwrite rules: after every step the document must equal the naive model (annotate_reference);
then undo all and redo all; then the autosave journal must recover the same labels."""

import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.annotate.annotate_reference import (Model, Refused, brush_footprint, flood_footprint, holes_footprint,
                                polygon_footprint)
from usannotator.core import Document, Edit, LockedLabelError, OverwriteRule, Provenance, Source, Volume
from usannotator.io.journal import Journal, recover
from usannotator_plugins.annotate import keyslices, tools
from usannotator_plugins.annotate.tools import NoActiveLabelError, NotEnclosedError, ViewSlice

SHAPE = (4, 5, 6)
RULES = {"everything": OverwriteRule.EVERYTHING, "background": OverwriteRule.BACKGROUND_ONLY,
         "visible": OverwriteRule.VISIBLE_UNLOCKED}

coordinate = st.floats(-2.0, 7.0, allow_nan=False).map(lambda v: round(v * 2) / 2)  # half voxels: exact ties happen
point = st.tuples(coordinate, coordinate)
view = st.tuples(st.integers(0, 2), st.integers(0, 5))
label = st.sampled_from([None, 1, 2, 3, 1, 2, 3])
rule = st.sampled_from(sorted(RULES))
# A random start (blobs of 0-3) gives erasers, fills and key-slice commands something to work on.
initial_labels = st.lists(st.sampled_from([0, 0, 1, 2, 3]), min_size=SHAPE[0] * SHAPE[1] * SHAPE[2],
                          max_size=SHAPE[0] * SHAPE[1] * SHAPE[2]).map(lambda v: np.array(v, np.uint16).reshape(SHAPE))

# Where each (label, slice) came from at the start: any source, so that algorithms' slices
# (interpolated, propagated) become "corrected" when painted, and un-marking meets every case.
initial_sources = st.lists(st.sampled_from([int(s) for s in Source]), min_size=3 * SHAPE[0],
                           max_size=3 * SHAPE[0]).map(
    lambda v: {label: np.array(v[(label - 1) * SHAPE[0]:label * SHAPE[0]], np.int8) for label in (1, 2, 3)})

brush_op = st.tuples(st.just("brush"), view, st.lists(point, min_size=1, max_size=4), st.floats(0, 2.5), label, rule, st.booleans())
erase_op = st.tuples(st.just("erase"), view, st.lists(point, min_size=1, max_size=3), st.floats(0, 2.5), label, rule, st.booleans())
polygon_op = st.tuples(st.just("polygon"), view, st.lists(point, min_size=1, max_size=6), label, rule)
flood_op = st.tuples(st.just("flood"), view, point, label, st.sampled_from(["label", "any"]), rule)
# Outline a rectangle with the thinnest brush, then fill it (flood fill or fill holes) on that slice:
# the usual way of drawing a muscle, and the way to reach enclosed regions at random.
outline_then_fill = st.tuples(st.just("outline"), view, st.integers(0, 3), st.integers(0, 3), st.integers(2, 4),
                              st.integers(2, 4), st.sampled_from([1, 2, 3]), rule,
                              st.sampled_from(["label", "any", "holes"]), label)
operation = st.one_of(
    outline_then_fill, outline_then_fill, brush_op, brush_op, erase_op, erase_op, polygon_op, polygon_op, flood_op, flood_op,
    st.tuples(st.just("holes"), view, label, rule),
    st.tuples(st.just("clear"), st.integers(0, 3), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("unmark"), st.integers(0, 3), st.integers(1, 3)),
    st.tuples(st.just("interpolated"), st.integers(0, 3), st.integers(1, 3)),
    st.tuples(st.just("lock"), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("hide"), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
)


def expand(ops):
    """The primitive operations: an outline-then-fill becomes a brush stroke and a fill."""
    for op in ops:
        if op[0] != "outline":
            yield op
            continue
        _, where, r0, c0, h, w, lab, r, fill, other = op
        ring = [(r0, c0), (r0, c0 + w), (r0 + h, c0 + w), (r0 + h, c0), (r0, c0)]
        yield "brush", where, ring, 0.0, lab, r, False
        if fill == "holes":
            yield "holes", where, lab, r
        else:
            yield "flood", where, (r0 + 1, c0 + 1), lab if fill == "label" else other, fill, r


def run_real(doc, op):
    """Apply `op` to the document; returns 'changed', 'unchanged' or the error type's name."""
    kind, *a = op
    try:
        if kind == "brush":
            (axis, index), points, radius, lab, r, sphere = a
            edit = tools.brush(doc, ViewSlice(axis, index % SHAPE[axis]), points, radius, lab, sphere=sphere, rule=RULES[r])
        elif kind == "erase":
            (axis, index), points, radius, lab, r, sphere = a
            edit = tools.erase(doc, ViewSlice(axis, index % SHAPE[axis]), points, radius, label=lab, sphere=sphere, rule=RULES[r])
        elif kind == "polygon":
            (axis, index), vertices, lab, r = a
            edit = tools.polygon_fill(doc, ViewSlice(axis, index % SHAPE[axis]), vertices, lab, rule=RULES[r])
        elif kind == "flood":
            (axis, index), seed, lab, bounded, r = a
            edit = tools.flood_fill(doc, ViewSlice(axis, index % SHAPE[axis]), seed, lab, bounded_by=bounded, rule=RULES[r])
        elif kind == "holes":
            (axis, index), lab, r = a
            edit = tools.fill_holes(doc, ViewSlice(axis, index % SHAPE[axis]), lab, rule=RULES[r])
        elif kind == "clear":
            edit = keyslices.clear_key_slice(doc, a[1], a[0], unmark=a[2])
        elif kind == "unmark":
            edit = keyslices.unmark_key_slice(doc, a[1], a[0])
        elif kind == "interpolated":
            z, lab = a
            empty = (slice(z, z + 1), slice(0, 0), slice(0, 0))
            edit = Edit(empty, 0, source=Source.INTERPOLATED, slices_written={lab: [z]})
        return "changed" if edit is not None and doc.apply_edit(edit) is not None else "unchanged"
    except (NoActiveLabelError, NotEnclosedError, LockedLabelError) as exc:
        return type(exc).__name__


def run_model(model, op):
    kind, *a = op
    try:
        if kind in ("brush", "erase"):
            (axis, index), points, radius, lab, r, sphere = a
            index %= SHAPE[axis]
            if kind == "brush" or lab is not None:
                model.check_paint_label(lab, r)
            mask = brush_footprint(SHAPE, axis, index, points, radius, sphere)
            if kind == "brush":
                return _written(model.write(mask, lab, r))
            mask &= (model.labels != 0) if lab is None else (model.labels == lab)
            return _written(model.write(mask, 0, "everything" if r == "background" else r))
        if kind == "polygon":
            (axis, index), vertices, lab, r = a
            model.check_paint_label(lab, r)
            return _written(model.write(polygon_footprint(SHAPE, axis, index % SHAPE[axis], vertices), lab, r))
        if kind == "flood":
            (axis, index), seed, lab, bounded, r = a
            model.check_paint_label(lab, r)
            mask = flood_footprint(model.labels, axis, index % SHAPE[axis], seed, lab, bounded)
            return "unchanged" if mask is None else _written(model.write(mask, lab, r))
        if kind == "holes":
            (axis, index), lab, r = a
            model.check_paint_label(lab, r)
            return _written(model.write(holes_footprint(model.labels, axis, index % SHAPE[axis], lab), lab, r))
        if kind == "clear":
            z, lab, unmark = a
            model.check_paint_label(lab, "everything")
            mask = np.zeros(SHAPE, bool)
            mask[z] = model.labels[z] == lab
            key = Source(int(model.prov[lab][z])).is_key
            return _written(model.write(mask, 0, "everything", {lab: {z: Source.NONE}} if unmark and key else None))
        if kind == "unmark":
            z, lab = a
            if lab in model.locked:
                raise Refused("LockedLabelError")
            if not Source(int(model.prov[lab][z])).is_key:
                return "unchanged"
            return _written(model.write(np.zeros(SHAPE, bool), 0, "everything", {lab: {z: Source.NONE}}))
        if kind == "interpolated":
            return _written(model.mark_interpolated(a[1], a[0]))
    except Refused as refused:
        return refused.kind


def _written(changed: bool) -> str:
    return "changed" if changed else "unchanged"


def assert_same(doc, model, context):
    np.testing.assert_array_equal(doc.labels, model.labels, err_msg=context)
    for value, expected in model.prov.items():
        np.testing.assert_array_equal(doc.provenance.of(value), expected, err_msg=f"provenance of {value}: {context}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(initial_labels, initial_sources, st.lists(operation, min_size=5, max_size=40))
def test_edits_undo_redo_and_recovery_match_the_model(start, sources, ops):
    doc = Document(Volume(np.zeros(SHAPE, np.uint8), name="model"), start,
                   provenance=Provenance(SHAPE[0], sources))
    model = Model(start, sources)
    states, position = [model.state()], 0      # the model's undo history
    # fsync on a shared disk (ms each) would dominate this test, whose point is what recovery replays;
    # durability is test_journal's business.
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as folder:
        journal = Journal.start(doc, folder)
        for step, op in enumerate(expand(ops)):
            context = f"step {step}: {op}"
            if op[0] in ("lock", "hide"):
                value, on = op[1], op[2]
                doc.label_table.update(value, **({"locked": on} if op[0] == "lock" else {"visible": not on}))
                flags = model.locked if op[0] == "lock" else model.hidden
                flags.add(value) if on else flags.discard(value)
                continue
            if op[0] in ("undo", "redo"):
                moved = (doc.undo() if op[0] == "undo" else doc.redo()) is not None
                target = position - 1 if op[0] == "undo" else position + 1
                assert moved == (0 <= target < len(states)), context
                if moved:
                    position = target
                    model.restore(states[position])
                assert_same(doc, model, context)
                continue
            real, expected = run_real(doc, op), run_model(model, op)
            assert real == expected, context
            if expected == "changed":
                states[position + 1:] = [model.state()]
                position += 1
            assert_same(doc, model, context)
        final = model.state()
        while doc.undo() is not None:
            pass
        np.testing.assert_array_equal(doc.labels, states[0][0])
        while doc.redo() is not None:
            pass
        model.restore(final)
        np.testing.assert_array_equal(doc.labels, states[-1][0])

        # the journal followed every do/undo/redo: a fresh document recovers the same state
        fresh = Document(Volume(np.zeros(SHAPE, np.uint8), name="model"))
        report = recover(fresh, folder)
        assert report.problem == ""
        np.testing.assert_array_equal(fresh.labels, doc.labels)
        for value in (1, 2, 3):
            np.testing.assert_array_equal(fresh.provenance.of(value), doc.provenance.of(value))
            assert fresh.label_table[value].locked == doc.label_table[value].locked
        journal.close()
