"""Per-kind border metrics on hand-made shapes whose answers are known."""

import math

import numpy as np
import pytest

from usannotator_plugins.borders.metrics import border_metrics, jsonable, metrics_csv, metrics_rows
from usannotator_plugins.borders.split import BorderSplit, SplitParameters, label_border, split_borders

SPACING = (2.0, 0.5, 0.5)   # mm, (sweep, depth, lateral)


def rectangle(shape=(3, 40, 40), rows=(10, 30), cols=(8, 28), value=1):
    labels = np.zeros(shape, np.uint8)
    labels[:, rows[0]:rows[1], cols[0]:cols[1]] = value
    return labels


def left_right_split(labels):
    """Hand-made kinds: the left half of each border distinct, the right half completed."""
    border = label_border(labels)
    left = np.zeros(border.shape, bool)
    left[..., : border.shape[2] // 2] = True
    return BorderSplit(np.where(left, border, 0), np.where(left, 0, border), threshold=0.0)


def brute_force_distances(reference_border, predicted_border, spacing):
    """Distance (mm) from each reference border voxel (C order) to the nearest predicted one."""
    ref = np.argwhere(reference_border) * np.asarray(spacing)
    pred = np.argwhere(predicted_border) * np.asarray(spacing)
    return np.sqrt(((ref[:, None, :] - pred[None, :, :]) ** 2).sum(-1)).min(axis=1)


def test_prediction_equal_to_reference_recovers_everything():
    labels = rectangle()
    split = left_right_split(labels)
    result = border_metrics(split, labels, SPACING)
    muscle = result["muscles"][1]
    for kind in ("distinct", "completed"):
        assert muscle[kind]["recall"] == 100.0
        assert muscle[kind]["mean_dist_mm"] == 0.0 and muscle[kind]["p95_dist_mm"] == 0.0
        assert muscle[kind]["inside_recall"] == 100.0
    assert muscle["btp"] == pytest.approx(100.0)
    assert muscle["distinct"]["ref_share"] + muscle["completed"]["ref_share"] == pytest.approx(100.0)
    assert result["notes"] == []


def test_two_voxel_lateral_shift_gives_known_distances():
    labels = rectangle()
    shifted = np.roll(labels, 2, axis=2)
    split = left_right_split(labels)
    expected = brute_force_distances(split.border == 1, label_border(shifted) == 1, SPACING)
    assert expected.max() == pytest.approx(1.0)   # 2 voxels of 0.5 mm

    within_1mm = border_metrics(split, shifted, SPACING, tolerance_mm=1.0)["muscles"][1]
    assert within_1mm["distinct"]["recall"] == 100.0 and within_1mm["completed"]["recall"] == 100.0
    assert within_1mm["btp"] == pytest.approx(100.0)

    within_half = border_metrics(split, shifted, SPACING, tolerance_mm=0.5)["all"]
    hits = np.count_nonzero(expected <= 0.5)
    assert within_half["distinct"]["recovered_of_total"] + within_half["completed"]["recovered_of_total"] == \
        pytest.approx(100.0 * hits / expected.size)
    # the left and right sides (not where the shift runs along the top and bottom) all miss at 0.5 mm
    assert hits < 0.6 * expected.size


def test_per_kind_distances_match_brute_force_with_anisotropic_spacing():
    labels = rectangle(shape=(4, 36, 36))
    labels[2:, 12:20, 10:14] = 0                    # a notch that changes along the sweep
    prediction = np.roll(labels, (1, 3), axis=(1, 2))
    spacing = (3.0, 0.8, 0.5)
    split = left_right_split(labels)
    d = brute_force_distances(split.border == 1, label_border(prediction) == 1, spacing)
    is_distinct = (split.distinct == 1)[split.border == 1]
    muscle = border_metrics(split, prediction, spacing, tolerance_mm=1.0)["muscles"][1]
    for kind, members in (("distinct", is_distinct), ("completed", ~is_distinct)):
        assert muscle[kind]["mean_dist_mm"] == pytest.approx(d[members].mean(), rel=1e-6)
        assert muscle[kind]["p95_dist_mm"] == pytest.approx(np.percentile(d[members], 95), rel=1e-6)
        assert muscle[kind]["recall"] == pytest.approx(100.0 * np.mean(d[members] <= 1.0))


def test_missing_lower_half_misses_the_completed_part():
    # a disc whose upper half lies under a bright ring: upper border distinct, lower completed
    z, h, w, r = 3, 64, 64, 20
    yy, xx = np.mgrid[:h, :w]
    dist = np.hypot(yy - 32, xx - 32)
    image = np.full((z, h, w), 50.0)
    image[:, (np.abs(dist - r) < 2) & (yy < 32)] = 250.0
    labels = np.zeros((z, h, w), np.uint8)
    labels[:, dist <= r] = 1
    split = split_borders(image, labels, SplitParameters(sigma_px=1.0, tol_px=1, edge_percentile=85))
    prediction = labels.copy()
    prediction[:, 33:, :] = 0
    result = border_metrics(split, prediction, (1.0, 0.5, 0.5), tolerance_mm=1.0)["muscles"][1]
    assert result["completed"]["recall"] < 15.0
    assert result["distinct"]["recall"] > 95.0
    assert result["btp"] == pytest.approx(result["distinct"]["recovered_of_total"]
                                          + result["completed"]["recovered_of_total"])
    # recovered_of_total is recall weighted by the kind's share of the border
    share = result["completed"]["ref_share"] / 100.0
    assert result["completed"]["recovered_of_total"] == pytest.approx(result["completed"]["recall"] * share)


def test_muscle_missing_from_prediction_is_nan_with_a_note_and_pool_uses_the_rest():
    labels = rectangle(value=1)
    labels[:, 32:38, 5:35] = 2
    split = left_right_split(labels)
    prediction = np.where(labels == 2, 0, labels)
    result = border_metrics(split, prediction, SPACING)
    assert math.isnan(result["muscles"][2]["distinct"]["recall"]) and math.isnan(result["muscles"][2]["btp"])
    assert result["muscles"][1]["btp"] == pytest.approx(100.0)
    assert result["all"]["btp"] == pytest.approx(100.0)
    assert any("label 2" in note for note in result["notes"])


def test_prediction_labels_absent_from_reference_get_a_note():
    labels = rectangle()
    prediction = labels.copy()
    prediction[:, 0:3, 0:3] = 7
    result = border_metrics(left_right_split(labels), prediction, SPACING)
    assert any("[7]" in note for note in result["notes"])


def test_empty_kind_has_nan_recall_not_an_error():
    labels = rectangle()
    border = label_border(labels)
    split = BorderSplit(border, np.zeros_like(border), threshold=0.0)
    muscle = border_metrics(split, labels, SPACING)["muscles"][1]
    assert muscle["distinct"]["ref_share"] == 100.0 and muscle["completed"]["n_voxels"] == 0
    assert math.isnan(muscle["completed"]["recall"]) and muscle["completed"]["recovered_of_total"] == 0.0


def test_table_rows_csv_and_json_are_complete_and_strict():
    labels = rectangle()
    result = border_metrics(left_right_split(labels), np.roll(labels, 1, axis=2), SPACING)
    rows = metrics_rows(result, {1: "GM"})
    assert [(r["name"], r["kind"]) for r in rows] == [("GM", "distinct"), ("GM", "completed"),
                                                      ("all", "distinct"), ("all", "completed")]
    text = metrics_csv(result, {1: "GM"})
    assert text.splitlines()[0].startswith("label,name,kind,n_voxels,ref_share,recovered_of_total,recall")
    assert len(text.splitlines()) == 5
    nan_result = {"a": float("nan"), "b": [np.float32(1.5)], 3: {"c": np.int64(2)}}
    assert jsonable(nan_result) == {"a": None, "b": [1.5], "3": {"c": 2}}


def test_bad_arguments_are_refused():
    labels = rectangle()
    split = left_right_split(labels)
    with pytest.raises(ValueError, match="shape"):
        border_metrics(split, labels[:2], SPACING)
    with pytest.raises(ValueError, match="negative"):
        border_metrics(split, labels, SPACING, tolerance_mm=-1)
