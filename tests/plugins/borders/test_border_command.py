"""`usannotator borders`: files written with the image geometry, the same numbers as the Python API,
and one-line errors (exit 2) with nothing written on bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from usannotator.cli import main
from usannotator.core import Geometry
from usannotator.io import read_labels, read_volume, write_labels
from usannotator.plugins import PluginRecord
from usannotator_plugins.borders import outputs
from usannotator_plugins.borders.analysis import analyse
from usannotator_plugins.borders.split import SplitParameters


def run(argv, capsys):
    code = main(["borders", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def written(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_writes_split_files_in_the_image_geometry(demo, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, _ = run([demo["image"], demo["truth"], "-o", out], capsys)
    assert code == 0 and written(out) == ["completed.nii.gz", "distinct.nii.gz", "split.json"]
    expected = analyse(None, demo["volume"].array, demo["labels"], demo["volume"].geometry.spacing_zyx)
    for kind in ("distinct", "completed"):
        labels, geometry, _ = read_labels(out / f"{kind}.nii.gz")
        assert geometry.matches(demo["volume"].geometry)
        np.testing.assert_array_equal(labels, getattr(expected.split, kind))
    summary = json.loads((out / "split.json").read_text())
    assert summary["parameters"] == SplitParameters().to_dict()
    assert summary["names"] == {"1": "GM", "2": "GL", "3": "SOL"}
    assert summary["shares_pct"]["all"]["distinct"] == pytest.approx(expected.split.shares()["all"]["distinct"])
    assert "distinct.nii.gz" in stdout


def test_with_a_prediction_writes_the_same_metrics_as_the_api(demo, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run([demo["image"], demo["truth"], "-o", out, "--prediction", demo["prediction"],
                        "--tolerance", "1.5", "--percentile", "90"], capsys)
    assert code == 0 and err == ""
    prediction = read_labels(demo["prediction"])[0]
    expected = analyse(None, demo["volume"].array, demo["labels"], demo["volume"].geometry.spacing_zyx, prediction,
                       SplitParameters(edge_percentile=90), tolerance_mm=1.5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tolerance_mm"] == 1.5 and metrics["split"]["parameters"]["edge_percentile"] == 90
    for muscle in ("1", "2", "3"):
        for kind in ("distinct", "completed"):
            assert metrics["muscles"][muscle][kind]["recall"] == \
                pytest.approx(expected.metrics["muscles"][int(muscle)][kind]["recall"])
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("label,name,kind") and len(lines) == 1 + 4 * 2
    assert lines[1].startswith("1,GM,distinct,")


def test_sweep_axis_option_gives_the_same_split(demo, tmp_path, capsys):
    volume = demo["volume"]
    moved = tmp_path / "moved"
    moved.mkdir()
    image_path, labels_path = moved / "image.nii.gz", moved / "truth.nii.gz"
    geometry = Geometry(spacing=(1.0, 1.25, 1.25))
    write_labels(image_path, np.moveaxis(volume.array, 0, 2), geometry)  # uint8 image, sweep last
    write_labels(labels_path, np.moveaxis(demo["labels"], 0, 2), geometry)
    code, _, _ = run([image_path, labels_path, "-o", tmp_path / "a", "--axis", "2"], capsys)
    assert code == 0
    code, _, _ = run([demo["image"], demo["truth"], "-o", tmp_path / "b"], capsys)
    moved_back = np.moveaxis(read_labels(tmp_path / "a" / "distinct.nii.gz")[0], 2, 0)
    np.testing.assert_array_equal(moved_back, read_labels(tmp_path / "b" / "distinct.nii.gz")[0])


def bad(demo, tmp_path, capsys, *extra, reference=None):
    out = tmp_path / "refused"
    code, _, err = run([demo["image"], reference or demo["truth"], "-o", out, *extra], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("usannotator: error: ") and "Traceback" not in err
    assert written(out) == []
    return err


def test_prediction_of_another_geometry_is_refused(demo, tmp_path, capsys):
    other = tmp_path / "other.nii.gz"
    write_labels(other, demo["labels"], Geometry(spacing=(1.0, 1.25, 1.25)))
    err = bad(demo, tmp_path, capsys, "--prediction", other)
    assert "other.nii.gz" in err and "spacing" in err
    smaller = tmp_path / "smaller.nii.gz"
    write_labels(smaller, demo["labels"][:10], demo["volume"].geometry)
    assert "shape" in bad(demo, tmp_path, capsys, "--prediction", smaller)


def test_prediction_sharing_no_label_is_refused_extra_labels_are_warned(demo, tmp_path, capsys):
    shifted = tmp_path / "values.nii.gz"
    write_labels(shifted, np.where(demo["labels"] > 0, demo["labels"] + 10, 0), demo["volume"].geometry)
    assert "shares no label" in bad(demo, tmp_path, capsys, "--prediction", shifted)

    extra = tmp_path / "extra.nii.gz"
    with_extra = demo["labels"].copy()
    with_extra[:, :3, :3] = 9
    write_labels(extra, with_extra, demo["volume"].geometry)
    out = tmp_path / "warned"
    code, _, err = run([demo["image"], demo["truth"], "-o", out, "--prediction", extra], capsys)
    assert code == 0 and "warning" in err and "[9]" in err
    assert any("[9]" in note for note in json.loads((out / "metrics.json").read_text())["notes"])


def test_empty_reference_is_refused(demo, tmp_path, capsys):
    empty = tmp_path / "empty.nii.gz"
    write_labels(empty, np.zeros_like(demo["labels"]), demo["volume"].geometry)
    assert "no label" in bad(demo, tmp_path, capsys, reference=str(empty))


def test_bad_numbers_are_refused(demo, tmp_path, capsys):
    assert "tolerance" in bad(demo, tmp_path, capsys, "--tolerance", "-1")
    assert "edge_percentile" in bad(demo, tmp_path, capsys, "--percentile", "150")


def test_activation_without_any_model_is_refused_but_the_split_alone_works(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(outputs, "plugin_records", lambda: [])
    err = bad(demo, tmp_path, capsys, "--activation", "1")
    assert "no segmentation model is available" in err and "leave out --activation" in err
    code, _, _ = run([demo["image"], demo["truth"], "-o", tmp_path / "split_only"], capsys)
    assert code == 0


class _Offers:
    """A loaded plugin offering one segmenter, as the host's segmenters(records) sees it."""

    def __init__(self, segmenter):
        self._segmenter = segmenter

    def segmenters(self):
        return [self._segmenter]


def test_activation_maps_are_written_with_the_image_geometry(demo, tmp_path, capsys, monkeypatch, segmenter):
    record = PluginRecord("tiny", "tests:tiny", plugin=_Offers(segmenter))
    monkeypatch.setattr(outputs, "plugin_records", lambda: [record])
    out = tmp_path / "out"
    code, _, _ = run([demo["image"], demo["truth"], "-o", out, "--activation", "3", "--device", "cpu"], capsys)
    assert code == 0
    assert {"activation_distinct.nii.gz", "activation_completed.nii.gz", "activation.json"} <= set(written(out))
    heat = read_volume(out / "activation_distinct.nii.gz")
    assert heat.geometry.matches(demo["volume"].geometry) and heat.shape == demo["volume"].shape
    assert heat.array.min() >= 0 and heat.array.max() <= 1 + 1e-6
    info = json.loads((out / "activation.json").read_text())
    assert info["layer"] == "dec2" and info["model"] == "tiny-band" and info["label"] == 3
    with_sol = np.flatnonzero((demo["labels"] == 3).any(axis=(1, 2)))
    assert info["slices"] == with_sol.tolist()
    assert "no border of label 7" in bad(demo, tmp_path, capsys, "--activation", "7")


def test_a_failed_write_leaves_no_file_behind(demo, tmp_path, capsys, monkeypatch):
    real_write = outputs._write

    def failing(path, content):
        if path.name == "metrics.csv":
            raise OSError(28, "No space left on device")
        real_write(path, content)

    monkeypatch.setattr(outputs, "_write", failing)
    err = bad(demo, tmp_path, capsys, "--prediction", demo["prediction"])
    assert "No space left" in err


def test_the_command_is_registered_and_modules_import_without_torch_or_qt():
    from usannotator.cli import build_parser
    from usannotator.plugins import discover

    records = {r.name: r for r in discover()}
    assert records["borders"].ok and records["borders"].plugin.title == "Border analysis"
    assert "borders" in build_parser([records["borders"]]).format_help()
    code = ("import sys; import usannotator_plugins.borders as b; "
            "from usannotator_plugins.borders import activation, analysis, command, metrics, outputs, split; "
            "b.plugin.add_commands(__import__('argparse').ArgumentParser().add_subparsers()); "
            "bad = [m for m in ('torch', 'PySide6', 'vtk') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
