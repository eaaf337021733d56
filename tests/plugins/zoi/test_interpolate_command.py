"""`usannotator interpolate IMAGE SPARSE -o OUT` on real files, and every kind of bad input."""

import numpy as np
import pytest
import SimpleITK as sitk

from tests.plugins.zoi.conftest import key_slices_of, needs_itk
from usannotator.cli import main
from usannotator.plugins import discover
from usannotator_plugins.zoi import interpolate

SPACING = (0.3, 0.4, 0.5)                     # ITK order (x, y, z)
ORIGIN = (-12.0, 4.5, 30.0)
DIRECTION = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)


def write(path, array, spacing=SPACING):
    image = sitk.GetImageFromArray(array)
    if array.ndim == 3:
        image.SetSpacing(spacing)
        image.SetOrigin(ORIGIN)
        image.SetDirection(DIRECTION)
    sitk.WriteImage(image, str(path))
    return path


def run(capsys, *argv):
    code = main(["interpolate", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path, sparse):
    image = (np.random.default_rng(3).random(sparse.shape) * 255).astype(np.uint8)
    return write(tmp_path / "leg.nii.gz", image), write(tmp_path / "keys.nii.gz", sparse), tmp_path


def test_round_trip_keeps_geometry_and_key_slices(files, sparse, capsys):
    image, keys_file, folder = files
    out = folder / "filled.nii.gz"
    code, stdout, stderr = run(capsys, image, keys_file, "-o", out)
    assert code == 0, stderr
    written = sitk.ReadImage(str(out))
    assert written.GetSpacing() == pytest.approx(SPACING) and written.GetOrigin() == pytest.approx(ORIGIN)
    assert written.GetDirection() == pytest.approx(DIRECTION)
    labels = sitk.GetArrayFromImage(written)
    expected = interpolate(sparse, key_slices_of(sparse), spacing=SPACING[::-1]).apply_to(sparse)
    assert np.array_equal(labels, expected)
    assert "nearest" in stdout and str(out) in stdout


@needs_itk
def test_morphological_on_a_non_cubic_mha_fills_along_the_sweep(tmp_path, capsys):
    labels = np.zeros((40, 30, 20), np.uint8)
    y, x = np.mgrid[:30, :20]
    for z, r in {4: 4, 20: 8, 36: 5}.items():
        labels[z] = (y - 15) ** 2 + (x - 10) ** 2 <= r * r
    image = write(tmp_path / "leg.mha", np.zeros(labels.shape, np.uint8))
    keys_file = write(tmp_path / "keys.mha", labels)
    out = tmp_path / "filled.mha"
    code, _, stderr = run(capsys, image, keys_file, "-o", out, "--method", "morphological")
    assert code == 0, stderr
    filled = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    areas = (filled == 1).sum(axis=(1, 2))
    assert (areas[4:37] > 0).all() and areas[:4].sum() == 0 and areas[37:].sum() == 0


def test_locked_labels_stay_as_drawn(files, sparse, capsys):
    image, keys_file, folder = files
    out = folder / "filled.nii.gz"
    assert run(capsys, image, keys_file, "-o", out, "--lock", "1", "3")[0] == 0
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    assert np.array_equal(labels == 1, sparse == 1) and np.array_equal(labels == 3, sparse == 3)
    assert (labels == 2).sum() > (sparse == 2).sum()


def bad_geometry(folder, sparse):
    return write(folder / "bad.nii.gz", sparse, spacing=(0.3, 0.4, 0.6))


def no_keys(folder, sparse):
    return write(folder / "bad.nii.gz", np.zeros_like(sparse))


def float_labels(folder, sparse):
    return write(folder / "bad.nii.gz", sparse.astype(np.float32) * 0.5)


def flat_labels(folder, sparse):
    return write(folder / "bad.nii.gz", sparse[10])


@pytest.mark.parametrize("make_bad, reason", [
    (bad_geometry, "spacing"), (no_keys, "no key slice"), (float_labels, "integers"), (flat_labels, "2D"),
])
def test_bad_sparse_files_exit_2_naming_the_file_and_write_nothing(files, sparse, capsys, make_bad, reason):
    image, _, folder = files
    bad = make_bad(folder, sparse)
    out = folder / "filled.nii.gz"
    code, stdout, stderr = run(capsys, image, bad, "-o", out)
    assert code == 2 and str(bad) in stderr and reason in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert not out.exists() and not list(folder.glob(".filled*"))


@pytest.mark.parametrize("suffix", [".nii.gz", ".png"])
def test_a_2d_image_exits_2_naming_the_file(tmp_path, sparse, capsys, suffix):
    image = write(tmp_path / f"frame{suffix}", np.zeros(sparse.shape[1:], np.uint8))
    keys_file = write(tmp_path / "keys.nii.gz", sparse)
    out = tmp_path / "filled.nii.gz"
    code, _, stderr = run(capsys, image, keys_file, "-o", out)
    assert code == 2 and str(image) in stderr and "2D" in stderr
    assert not out.exists()


def test_morphological_without_the_package_exits_2_and_writes_nothing(files, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "itk", None)
    image, keys_file, folder = files
    out = folder / "filled.nii.gz"
    code, _, stderr = run(capsys, image, keys_file, "-o", out, "--method", "morphological")
    assert code == 2 and "pip install itk-morphologicalcontourinterpolation" in stderr
    assert not out.exists()


def test_the_plugin_is_found_through_its_entry_point(capsys):
    record = next(r for r in discover() if r.name == "zoi")
    assert record.ok and record.plugin.title == "Interpolation"
    with pytest.raises(SystemExit) as done:
        main(["interpolate", "--help"])
    assert done.value.code == 0 and "--method" in capsys.readouterr().out
