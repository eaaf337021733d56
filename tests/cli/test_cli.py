"""The command line: host commands and every error path (one line naming the file, exit 2, nothing written)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from usannotator.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from usannotator.phantom import write_demo

    return write_demo(tmp_path_factory.mktemp("demo"), seed=3, every=10, size="small")


def test_info_reports_geometry_and_labels(demo, capsys):
    code, out, _ = run(capsys, "info", demo["truth"], "--json")
    info = json.loads(out)
    assert code == 0
    assert set(map(int, info["label_values"])) >= {0, 1, 2, 3}
    assert "spacing_itk_xyz" in info


def test_demo_writes_image_truth_and_sparse(tmp_path, capsys):
    code, out, _ = run(capsys, "demo", tmp_path / "d", "--seed", "5", "--size", "small")
    assert code == 0
    for name in ("image", "truth", "sparse"):
        assert (tmp_path / "d" / f"{name}.nii.gz").exists()


def test_metrics_of_a_label_map_against_itself_and_a_shifted_copy(demo, tmp_path, capsys):
    code, out, _ = run(capsys, "metrics", demo["truth"], demo["truth"], "--json")
    same = json.loads(out)
    assert code == 0 and same["mean"]["dice"] == 1.0 and same["mean"]["hd95_mm"] == 0.0
    img = sitk.ReadImage(str(demo["truth"]))
    arr = sitk.GetArrayFromImage(img)
    shifted = sitk.GetImageFromArray(np.roll(arr, 1, axis=2))
    shifted.CopyInformation(img)
    sitk.WriteImage(shifted, str(tmp_path / "shifted.nii.gz"))
    code, out, _ = run(capsys, "metrics", demo["truth"], tmp_path / "shifted.nii.gz", "--json")
    moved = json.loads(out)
    spacing_x = img.GetSpacing()[0]
    assert code == 0 and moved["mean"]["dice"] < 1.0
    assert moved["1"]["hd95_mm"] == pytest.approx(spacing_x, rel=1e-6)   # one voxel along x


def write(path, array, spacing=(0.5, 0.5, 0.5)):
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


@pytest.mark.parametrize("case", ["missing", "corrupt", "2d", "4d", "float", "geometry", "empty", "shape"])
def test_metrics_bad_input_one_line_exit_2(case, demo, tmp_path, capsys):
    ref = demo["truth"]
    if case == "missing":
        bad = tmp_path / "nothere.nii.gz"
    elif case == "corrupt":
        bad = tmp_path / "corrupt.nii.gz"
        bad.write_bytes(open(ref, "rb").read()[:200])
    elif case == "2d":
        bad = write(tmp_path / "flat.nrrd", np.zeros((10, 10), np.uint8), (1, 1))
    elif case == "4d":
        bad = tmp_path / "four.nrrd"
        img = sitk.JoinSeries([sitk.Image([8, 8, 8], sitk.sitkUInt8)] * 2)
        sitk.WriteImage(img, str(bad))
    elif case == "float":
        arr = sitk.GetArrayFromImage(sitk.ReadImage(str(ref))).astype(np.float32) + 0.5
        bad = write(tmp_path / "float.nii.gz", arr)
    elif case == "geometry":
        arr = sitk.GetArrayFromImage(sitk.ReadImage(str(ref)))
        bad = write(tmp_path / "geom.nii.gz", arr, (0.9, 0.9, 0.9))
    elif case == "shape":
        bad = write(tmp_path / "shape.nii.gz", np.zeros((5, 6, 7), np.uint8))
    elif case == "empty":
        arr = np.zeros_like(sitk.GetArrayFromImage(sitk.ReadImage(str(ref))))
        img = sitk.GetImageFromArray(arr)
        img.CopyInformation(sitk.ReadImage(str(ref)))
        bad = tmp_path / "empty.nii.gz"
        sitk.WriteImage(img, str(bad))
        ref, bad = bad, ref     # an empty reference
    code, out, err = run(capsys, "metrics", ref, bad)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert os.path.basename(str(bad if case != "empty" else ref)) in lines[0]


def test_demo_into_a_folder_that_cannot_be_created(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "demo", blocker / "out", "--size", "small")
    assert code == 2 and "a-file" in err and len(err.strip().splitlines()) == 1


def test_unknown_file_for_the_gui_exits_2_without_opening_a_window(tmp_path):
    result = subprocess.run([sys.executable, "-m", "usannotator.cli", str(tmp_path / "nothing.nii.gz")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "nothing.nii.gz" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.gui
@pytest.mark.slow
def test_screenshot_of_the_demo(tmp_path):
    """The installer's smoke test path: render the whole window on the demo, save, exit 0."""
    out, report = tmp_path / "shot.png", tmp_path / "plugins.json"
    result = subprocess.run([sys.executable, "-m", "usannotator.cli", "--demo", "--screenshot", str(out),
                             "--plugins-report", str(report)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    pixels = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600
    assert pixels.std() > 20, "the screenshot is blank"
    states = {p["name"]: p["state"] for p in json.loads(report.read_text())}
    assert all(states[n] == "active" for n in ("annotate", "zoi", "confidence", "ifss", "borders")), states
