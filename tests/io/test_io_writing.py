"""Writing: float maps in each format, and atomic output that never leaves a partial file.

Tests run as root, so a read-only folder cannot stop a write; the failures used here are real
ones that hold for root too: a parent path that is a file, a target that is a folder, a full disk
(a tiny tmpfs, when this machine lets us mount one), and an exception inside the block.
"""

import subprocess

import numpy as np
import pytest
import SimpleITK as sitk

from usannotator.core.errors import UserError
from usannotator.io import atomic_output, read_frame, read_volume, write_image, write_labels


@pytest.mark.parametrize("ext, atol", [(".nii", 1e-6), (".nii.gz", 1e-6), (".nrrd", 1e-12), (".mha", 0)])
def test_float_map_round_trip(tmp_path, geometry, same_geometry, ext, atol):
    confidence = np.random.default_rng(0).random((3, 4, 5))
    write_image(tmp_path / f"conf{ext}", confidence, geometry)
    volume = read_volume(tmp_path / f"conf{ext}")
    assert volume.array.dtype == np.float32
    np.testing.assert_array_equal(volume.array, confidence.astype(np.float32))
    same_geometry(volume.geometry, geometry, atol)


def test_npy_keeps_the_array_as_float64(tmp_path, geometry):
    confidence = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    write_image(tmp_path / "conf.npy", confidence, geometry)
    back = np.load(tmp_path / "conf.npy")
    assert back.dtype == np.float64 and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, confidence)


def test_png_scales_0_to_1_onto_0_to_255(tmp_path, geometry):
    frame = np.array([[0.0, 0.5, 1.0], [-1.0, 2.0, 0.25]])
    write_image(tmp_path / "conf.png", frame, geometry)
    back, _ = read_frame(tmp_path / "conf.png")
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, [[0, 128, 255], [0, 255, 64]])
    with pytest.raises(UserError, match="conf3d.png.*one 2D frame"):
        write_image(tmp_path / "conf3d.png", np.zeros((2, 3, 4)), geometry)


def test_unknown_extension_is_refused(tmp_path, geometry):
    with pytest.raises(UserError, match=r"map.jpg.*cannot write an image as '.jpg'"):
        write_image(tmp_path / "map.jpg", np.zeros((2, 3)), geometry)


def test_temporary_file_sits_beside_and_keeps_the_extension(tmp_path):
    with atomic_output(tmp_path / "leg.nii.gz") as tmp:
        assert tmp.startswith(str(tmp_path / ".leg.tmp-")) and tmp.endswith(".nii.gz")
        sitk.WriteImage(sitk.Image(2, 2, 2, sitk.sitkUInt8), tmp)
    assert [p.name for p in tmp_path.iterdir()] == ["leg.nii.gz"]


def test_failure_inside_the_block_keeps_the_old_file(tmp_path, labels, geometry):
    target = tmp_path / "labels.nrrd"
    target.write_bytes(b"previous version")
    with pytest.raises(ZeroDivisionError):
        with atomic_output(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half written")
            1 / 0
    assert target.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.nrrd"]


def test_parent_that_is_a_file(tmp_path, labels, geometry):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(UserError, match="out.nrrd: could not be written: .*notes.txt is a file, not a folder"):
        write_labels(tmp_path / "notes.txt" / "out.nrrd", labels, geometry)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_target_that_is_a_folder_leaves_no_temporary_file(tmp_path, labels, geometry):
    (tmp_path / "out.nrrd").mkdir()
    with pytest.raises(UserError, match="out.nrrd: could not be written: a folder of that name is in the way"):
        write_labels(tmp_path / "out.nrrd", labels, geometry)
    assert [p.name for p in tmp_path.iterdir()] == ["out.nrrd"]
    assert list((tmp_path / "out.nrrd").iterdir()) == []


@pytest.fixture
def full_disk(tmp_path):
    """A 16 kB tmpfs; skipped where mounting is not allowed (no root or no CAP_SYS_ADMIN)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a tmpfs here to fill a disk")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_leaves_nothing_behind(full_disk, geometry):
    big = np.random.default_rng(0).random((8, 32, 32))  # 64 kB of float64, 32 kB as float32
    with pytest.raises(UserError, match="conf.npy: could not be written: the disk holding .* is full"):
        write_image(full_disk / "conf.npy", big, geometry)
    with pytest.raises(UserError, match="conf.nrrd: could not be written: the disk holding .* is full"):
        write_image(full_disk / "conf.nrrd", big, geometry)
    assert list(full_disk.iterdir()) == []
