"""The write rules every method shares (spec 4.4 and 10.1-10.3, 10.9-10.10)."""

import numpy as np
import pytest

from tests.plugins.zoi.conftest import ALL_METHODS, disc, key_slices_of, muscles, sparse_every
from usannotator.jobs import Cancelled, Progress
from usannotator_plugins.zoi.algorithm import LabelRun, interpolate
from usannotator_plugins.zoi.boxes import of_mask
from usannotator_plugins.zoi.zero_order import ZeroOrderField


def run(labels, keys=None, **kwargs):
    keys = key_slices_of(labels) if keys is None else keys
    result = interpolate(labels, keys, **kwargs)
    return result, result.apply_to(labels)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_each_labels_key_voxels_stay_bit_for_bit_and_gaps_are_filled(method, sparse, truth):
    before = sparse.copy()
    result, out = run(sparse, method=method)
    assert np.array_equal(sparse, before), "the input must not change"
    for label, keys in key_slices_of(sparse).items():
        assert np.array_equal(out[keys] == label, sparse[keys] == label)
        gaps = result.slices_written[label]
        assert gaps.size and not np.isin(gaps, keys).any()
        dice = 2 * ((out == label) & (truth == label)).sum() / ((out == label).sum() + (truth == label).sum())
        assert dice > 0.85, (method, label, dice)                # it did interpolate


@pytest.mark.parametrize("method", ALL_METHODS)
def test_slices_drawn_for_every_muscle_stay_whole(method, truth):
    drawn = np.arange(0, truth.shape[0], 5)                # the annotator drew all muscles there
    sparse = np.zeros_like(truth)
    sparse[drawn] = truth[drawn]
    _, out = run(sparse, method=method)
    assert np.array_equal(out[drawn], sparse[drawn])
    assert (out != sparse).any()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_nothing_changes_outside_each_labels_extent(method, sparse):
    result, out = run(sparse, method=method)
    for label, keys in key_slices_of(sparse).items():
        outside = np.ones(sparse.shape[0], bool)
        outside[keys[0]:keys[-1] + 1] = False
        assert not (out[outside] == label).any()
        assert set(result.slices_written[label]) <= set(range(keys[0] + 1, keys[-1]))
    changed_slices = np.flatnonzero(result.apply_to(sparse) != sparse)
    assert changed_slices.size


@pytest.mark.parametrize("method", ALL_METHODS)
def test_locked_labels_never_change(method, sparse):
    with_lock = sparse.copy()
    with_lock[5:30, 0:6, 0:48] = 2                        # a locked label's slab across the others' gaps
    keys = key_slices_of(sparse)
    result, out = run(with_lock, keys, locked={2}, method=method)
    assert np.array_equal(out == 2, with_lock == 2)
    assert 2 not in result.slices_written


@pytest.mark.parametrize("method", ALL_METHODS)
def test_labels_outside_the_run_and_other_labels_key_voxels_are_never_overwritten(method, sparse):
    labels = sparse.copy()
    labels[10:30, 8:12, 10:40] = 7                         # manual voxels of a label that has no key slice
    result, out = run(labels, {k: v for k, v in key_slices_of(sparse).items()}, method=method)
    assert np.array_equal(out == 7, labels == 7)
    for label, keys in key_slices_of(sparse).items():
        assert np.array_equal(out[keys] == label, labels[keys] == label)


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("keys", [[12], [12, 13], [12, 13, 14]],
                         ids=["one key", "adjacent", "three adjacent"])
def test_labels_without_gap_slices_change_nothing(method, keys):
    labels = np.zeros((20, 30, 30), np.uint8)
    labels[keys] = disc(8, 30)
    labels[5:9] = 9                                       # another label nearby, not in the run
    result, out = run(labels, {1: keys}, method=method)
    assert np.array_equal(out, labels) and result.n_changed == 0 and result.written == []


@pytest.mark.parametrize("method", ALL_METHODS)
def test_a_label_on_one_slice_only_changes_nothing(method):
    truth = muscles()
    sparse = sparse_every(truth, 6)
    sparse[sparse == 2] = 0
    sparse[20][disc(3, 48)[:36] & (sparse[20] == 0)] = 2    # GL drawn on slice 20 only
    result, out = run(sparse, method=method)
    assert np.array_equal(out == 2, sparse == 2) and 2 not in result.slices_written


@pytest.mark.parametrize("method", ALL_METHODS)
def test_an_empty_key_slice_inside_the_extent_means_absent(method):
    labels = np.zeros((31, 30, 30), np.uint8)
    labels[0], labels[10], labels[30] = disc(8, 30), disc(9, 30), disc(8, 30)
    result, out = run(labels, {1: [0, 10, 20, 30]}, method=method)   # slice 20: drawn empty
    assert not (out[20] == 1).any()
    areas = (out == 1).sum(axis=(1, 2))
    assert areas[1:10].min() > 150                         # between two drawn keys: filled
    assert areas[19] <= areas[11] and areas[21] <= areas[29]   # never growing towards the empty key
    assert areas[19] < areas[10] and areas[21] < areas[30]


def field_on_slice(labels, label, keys, z, **settings):
    run = LabelRun(label, np.asarray(keys), of_mask((labels[keys] == label).any(axis=0)))
    field = ZeroOrderField(labels, run, **settings)
    full = np.zeros(labels.shape[1:], np.float32)
    full[field.box] = field.at(z)[1]
    return full


def test_conflicts_go_to_the_larger_score_and_ties_to_the_lower_label():
    left, right = disc(7, 40, (20, 16)), disc(7, 40, (20, 24))
    labels = np.zeros((12, 40, 40), np.uint8)
    labels[[0, 10]] = np.where(left, 1, 0)
    labels[[1, 11]] = np.where(right, 2, 0)              # keys of the two labels on different slices
    keys = {1: [0, 10], 2: [1, 11]}
    out = interpolate(labels, keys, sigma=2.0).apply_to(labels)
    for z in range(2, 10):                                # gap slices of both
        f1, f2 = (field_on_slice(labels, v, keys[v], z, sigma=2.0) for v in (1, 2))
        both = (f1 >= 0.5) & (f2 >= 0.5)
        assert both.any() and (f1[both] != f2[both]).any(), "the test needs contested voxels"
        expected = np.where(f1 >= 0.5, 1, 0)
        expected[(f2 >= 0.5) & ~((f1 >= 0.5) & (f1 >= f2))] = 2
        assert np.array_equal(out[z], expected), z
    # without smoothing both copies are exactly 1 where they overlap: a tie, kept by label 1
    out = interpolate(labels, keys, smooth_axes="none").apply_to(labels)
    assert (out[5][left & right] == 1).all() and (out[5][right & ~left] == 2).all()


def test_stale_voxels_of_an_earlier_run_are_cleared(sparse):
    keys = key_slices_of(sparse)
    _, first = run(sparse, keys)
    redrawn = first.copy()
    k = int(keys[1][2])
    redrawn[k][redrawn[k] == 1] = 0                        # the user erases GM on one of its key slices
    _, again = run(redrawn, keys)
    from_scratch = sparse.copy()
    from_scratch[k][from_scratch[k] == 1] = 0
    _, expected = run(from_scratch, keys)
    assert np.array_equal(again, expected)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_the_sweep_axis_can_be_any_numpy_axis(method, sparse):
    keys = key_slices_of(sparse)
    _, along_0 = run(sparse, keys, method=method)
    moved = np.ascontiguousarray(np.moveaxis(sparse, 0, 2))
    result, along_2 = run(moved, keys, method=method, sweep_axis=2)
    assert np.array_equal(np.moveaxis(along_2, 2, 0), along_0)
    assert result.region[2].start >= 0 and result.values.shape == moved[result.region].shape


def test_progress_is_reported_and_cancel_stops_between_slices(sparse):
    seen = []
    progress = Progress(on_update=lambda fraction, message: seen.append((fraction, message)))
    interpolate(sparse, key_slices_of(sparse), progress=progress)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("label" in m for _, m in seen) and any("slice" in m for _, m in seen)

    def cancel_halfway(fraction, message):
        if fraction > 0.5:
            progress.cancel()

    progress = Progress(on_update=cancel_halfway)
    with pytest.raises(Cancelled):
        interpolate(sparse, key_slices_of(sparse), progress=progress)


@pytest.mark.parametrize("bad, error", [
    (dict(labels=np.zeros((4, 5), np.uint8)), ValueError),
    (dict(labels=np.zeros((4, 5, 6), np.float32)), ValueError),
    (dict(key_slices={1: [0, 9]}), ValueError),
    (dict(key_slices={300: [0, 2]}), ValueError),
    (dict(method="linear"), ValueError),
    (dict(method="sdf", source_rule="nearest"), TypeError),
])
def test_bad_arguments_are_refused(bad, error):
    args = dict(labels=np.zeros((4, 5, 6), np.uint8), key_slices={1: [0, 2]}) | bad
    with pytest.raises(error):
        interpolate(**args)
