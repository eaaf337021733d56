"""`usannotator confidence INPUT -o OUT ...` on real files, and every kind of bad input."""

import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from tests.plugins.confidence.conftest import read_reference
from usannotator.cli import main
from usannotator.io import read_volume
from usannotator.jobs.job import Progress
from usannotator_plugins.confidence.algorithm import confidence_map
from usannotator_plugins.confidence.volume import confidence_volume


def run(capsys, *argv):
    code = main(["confidence", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def small_volume(tmp_path_factory):
    """Six slices of the real compounded spine volume (0.5 mm voxels, off-centre origin), cut to
    60 x 80 so the test stays fast; written with the file's geometry."""
    from tests.conftest import DATA

    source = sitk.ReadImage(str(DATA / "plus" / "SpinePhantomFreehandReconstructed.mha"))
    part = source[40:120, 20:80, 50:56]                 # ITK order x, y, z
    path = tmp_path_factory.mktemp("volume") / "spine.mha"
    sitk.WriteImage(part, str(path))
    return path


def test_frame_to_npy_reproduces_the_reference(reference_dir, tmp_path, capsys):
    out = tmp_path / "femur.npy"
    code, stdout, _ = run(capsys, reference_dir / "femur_input.png", "-o", out, "--gamma", "0.06")
    assert code == 0 and str(out) in stdout
    result = np.load(out)
    _, expected = read_reference(reference_dir, "femur")
    assert result.dtype == np.float64 and result.shape == expected.shape
    assert np.abs(result - expected).max() < 1e-4


def test_volume_to_nifti_keeps_the_geometry(small_volume, tmp_path, capsys):
    out = tmp_path / "cm.nii.gz"
    code, _, _ = run(capsys, small_volume, "-o", out, "--no-cache")
    assert code == 0
    written = sitk.ReadImage(str(out))
    source = sitk.ReadImage(str(small_volume))
    assert written.GetPixelID() == sitk.sitkFloat32
    assert np.allclose(written.GetSpacing(), source.GetSpacing())
    assert np.allclose(written.GetOrigin(), source.GetOrigin(), atol=1e-4)
    assert np.allclose(written.GetDirection(), source.GetDirection())
    expected = confidence_volume(Progress(), read_volume(small_volume), use_cache=False)
    assert np.abs(sitk.GetArrayFromImage(written) - expected).max() < 1e-6


def test_volume_to_npy_has_the_input_shape(small_volume, tmp_path, capsys):
    out = tmp_path / "cm.npy"
    code, _, _ = run(capsys, small_volume, "-o", out, "--sink", "mid", "--alpha", "1.5")
    assert code == 0
    result = np.load(out)
    volume = read_volume(small_volume)
    assert result.dtype == np.float64 and result.shape == volume.array.shape
    assert np.abs(result[3] - confidence_map(volume.array[3], alpha=1.5, sink="mid")).max() < 1e-6


@pytest.fixture
def femur_crop(reference_dir, tmp_path):
    """The top-left 128 x 120 of the femur frame (real pixels, a fast map), as a PNG."""
    grey = sitk.GetArrayFromImage(sitk.ReadImage(str(reference_dir / "femur_input.png")))[:128, :120]
    path = tmp_path / "crop.png"
    sitk.WriteImage(sitk.GetImageFromArray(grey), str(path))
    return grey, path


def test_frame_to_png_is_8_bit(femur_crop, tmp_path, capsys):
    grey, path = femur_crop
    out = tmp_path / "crop_cm.png"
    assert run(capsys, path, "-o", out)[0] == 0
    png = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    assert png.dtype == np.uint8 and png.shape == grey.shape
    assert np.abs(png.astype(int) - np.rint(confidence_map(grey) * 255)).max() <= 1
    assert (png[0] == 255).all() and (png[-1] == 0).all()


def test_colour_frame_is_converted_to_grey_and_says_so(femur_crop, tmp_path, capsys):
    grey, _ = femur_crop
    colour = np.stack([grey, grey, grey], axis=-1)
    colour[..., 0] = grey.astype(int) ** 2 // 255      # not grey, nor an affine map of it
    path = tmp_path / "colour.png"
    sitk.WriteImage(sitk.GetImageFromArray(colour, isVector=True), str(path))
    out = tmp_path / "colour.npy"
    code, _, err = run(capsys, path, "-o", out)
    assert code == 0
    assert "converted to grey" in err and str(path) in err
    luma = np.rint(colour[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    assert np.abs(np.load(out) - confidence_map(luma)).max() < 1e-12
    assert np.abs(np.load(out) - confidence_map(grey)).max() > 1e-6       # the colour did count


def test_constant_frame_has_a_defined_map(tmp_path, capsys):
    path = tmp_path / "flat.png"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((20, 15), 128, np.uint8)), str(path))
    out = tmp_path / "flat.npy"
    assert run(capsys, path, "-o", out)[0] == 0
    assert np.abs(np.load(out) - (1 - np.arange(20) / 19)[:, None]).max() < 1e-10


def one_line_error(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_one_pixel_tall_frame_is_refused(tmp_path, capsys):
    path = tmp_path / "line.png"
    sitk.WriteImage(sitk.GetImageFromArray(np.arange(30, dtype=np.uint8)[None, :]), str(path))
    err = one_line_error(capsys, path, "-o", tmp_path / "line.npy")
    assert str(path) in err and "at least 2 rows" in err
    assert not (tmp_path / "line.npy").exists()


def test_nan_is_refused(tmp_path, capsys):
    array = np.random.default_rng(0).random((3, 20, 25)).astype(np.float32)
    array[1, 4, 5] = np.nan
    path = tmp_path / "nan.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    err = one_line_error(capsys, path, "-o", tmp_path / "nan.npy")
    assert "NaN" in err and str(path) in err


def test_4d_file_is_refused(tmp_path, capsys):
    image = sitk.JoinSeries([sitk.JoinSeries([sitk.Image(8, 9, sitk.sitkUInt8)] * 3)] * 2)
    path = tmp_path / "four.nii"
    sitk.WriteImage(image, str(path))
    assert image.GetDimension() == 4
    err = one_line_error(capsys, path, "-o", tmp_path / "four.npy")
    assert "4 dimensions" in err


def test_png_output_of_a_volume_is_refused_before_any_work(small_volume, tmp_path, capsys):
    err = one_line_error(capsys, small_volume, "-o", tmp_path / "cm.png")
    assert "6 slices" in err
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_format_is_refused(reference_dir, tmp_path, capsys):
    err = one_line_error(capsys, reference_dir / "femur_input.png", "-o", tmp_path / "cm.jpg")
    assert "'.jpg'" in err


def test_missing_input_is_refused(tmp_path, capsys):
    err = one_line_error(capsys, tmp_path / "absent.png", "-o", tmp_path / "cm.npy")
    assert "no such file" in err


def test_fan_shaped_frames_get_a_warning(tmp_path, capsys):
    """A scan-converted convex-probe frame (real PLUS data), cut to two frames at half size."""
    from tests.conftest import DATA

    source = sitk.ReadImage(str(DATA / "plus" / "UltrasonixCurvilinearScanConvertedData.igs.mha"))
    small = sitk.Shrink(source[:, :, :2], [4, 4, 1])
    for key in source.GetMetaDataKeys():        # keep the PLUS header: it is a tracked sequence
        if key.startswith("Seq_Frame000") or key == "UltrasoundImageOrientation":
            small.SetMetaData(key, source.GetMetaData(key))
    path = tmp_path / "fan.igs.mha"
    sitk.WriteImage(small, str(path))
    code, _, err = run(capsys, path, "-o", tmp_path / "fan.npy", "--no-cache")
    assert code == 0 and "fan-shaped" in err


def test_the_plugin_is_listed_and_imports_without_qt_or_torch():
    code = ("import sys, usannotator_plugins.confidence as c; "
            "assert c.plugin.name == 'confidence' and c.plugin.title == 'Confidence map'; "
            "heavy = [m for m in ('torch', 'PySide6', 'vtk') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
    listing = subprocess.run([sys.executable, "-m", "usannotator.cli", "plugins"], check=True,
                             capture_output=True, text=True).stdout
    assert any(line.split()[:2] == ["confidence", "loaded"] for line in listing.splitlines())
