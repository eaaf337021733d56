"""Opening volumes and frames: every format keeps its voxels and geometry; bad input is a UserError."""

import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from usannotator.core.errors import UserError
from usannotator.io import read_frame, read_volume


def speckle(shape, dtype=np.int16):
    return np.random.default_rng(0).integers(0, 200, shape).astype(dtype)


@pytest.mark.parametrize("ext, atol", [(".nii", 1e-6), (".nii.gz", 1e-6), (".nrrd", 1e-12), (".mha", 0)])
def test_volume_keeps_voxels_and_geometry(tmp_path, geometry, sitk_file, same_geometry, ext, atol):
    array = speckle((3, 4, 5))
    path = sitk_file(array, tmp_path / f"leg{ext}", geometry)
    volume = read_volume(path)
    np.testing.assert_array_equal(volume.array, array)
    same_geometry(volume.geometry, geometry, atol)
    assert volume.name == "leg" and volume.sweep_axis == 0 and volume.depth_axis == 1


def test_sweep_axis_is_kept_and_depth_is_the_slice_rows(tmp_path, sitk_file):
    volume = read_volume(sitk_file(speckle((3, 4, 5)), tmp_path / "v.nrrd"), sweep_axis=2)
    assert (volume.sweep_axis, volume.depth_axis, volume.n_slices) == (2, 0, 5)


def write_dicom_series(array, geometry, folder):
    """One DICOM file per slice with the tags GDCM needs to order slices and rebuild the geometry."""
    volume = sitk.GetImageFromArray(array)
    volume.SetSpacing(geometry.spacing)
    volume.SetOrigin(geometry.origin)
    volume.SetDirection(geometry.direction)
    d = geometry.direction
    orientation = "\\".join(str(v) for v in (d[0], d[3], d[6], d[1], d[4], d[7]))  # first two columns
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(array.shape[0]):
        frame = volume[:, :, k]
        position = volume.TransformIndexToPhysicalPoint((0, 0, k))
        for tag, value in {
            "0008|0060": "US", "0020|000d": "1.2.826.0.1.3680043.2.1125.1",
            "0020|000e": "1.2.826.0.1.3680043.2.1125.2", "0020|0013": str(k + 1),
            "0020|0032": "\\".join(str(v) for v in position), "0020|0037": orientation,
            "0018|0050": str(geometry.spacing[2]),
            "0028|0030": f"{geometry.spacing[1]}\\{geometry.spacing[0]}",  # row spacing, column spacing
        }.items():
            frame.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{k}.dcm"))
        writer.Execute(frame)


def test_dicom_folder_round_trip(tmp_path, geometry, same_geometry):
    array = speckle((3, 4, 5))
    write_dicom_series(array, geometry, tmp_path)
    volume = read_volume(tmp_path)
    np.testing.assert_array_equal(volume.array, array)
    same_geometry(volume.geometry, geometry, atol=1e-4)  # DICOM stores decimal strings


def test_png_frame_is_a_one_slice_volume(tmp_path, sitk_file):
    frame = speckle((4, 5), np.uint8)
    volume = read_volume(sitk_file(frame, tmp_path / "frame.png"))
    assert volume.shape == (1, 4, 5)
    np.testing.assert_array_equal(volume.array[0], frame)
    assert "converted_to_grey" not in volume.metadata


def test_png_folder_is_stacked_in_natural_order(tmp_path, sitk_file):
    frames = [np.full((4, 5), 10 * k, np.uint8) for k in range(11)]
    for k, frame in enumerate(frames):
        sitk_file(frame, tmp_path / f"frame{k}.png")  # frame10 sorts after frame9, not after frame1
    volume = read_volume(tmp_path)
    assert volume.shape == (11, 4, 5)
    assert [int(v) for v in volume.array[:, 0, 0]] == [10 * k for k in range(11)]


def test_colour_png_becomes_grey_and_says_so(tmp_path, sitk_file):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 200, 50
    path = sitk_file(rgb, tmp_path / "colour.png", vector=True)
    volume = read_volume(path)
    expected = round(0.299 * 100 + 0.587 * 200 + 0.114 * 50)
    assert volume.array.dtype == np.uint8 and np.all(volume.array == expected)
    assert volume.metadata["converted_to_grey"] is True
    frame, notes = read_frame(path)
    assert frame.shape == (4, 5) and np.all(frame == expected)
    assert any("grey" in note for note in notes)


def test_read_frame_accepts_a_one_frame_volume_only(tmp_path, sitk_file):
    one = sitk_file(speckle((1, 4, 5)), tmp_path / "one.nrrd")
    frame, notes = read_frame(one)
    assert frame.shape == (4, 5) and notes == []
    many = sitk_file(speckle((3, 4, 5)), tmp_path / "many.nrrd")
    with pytest.raises(UserError, match="many.nrrd.*3 frames"):
        read_frame(many)


@pytest.mark.parametrize("name, frames", [("BoneUltrasound_L14.igs.mha", 21), ("SpinePhantomFreehand.igs.mha", 21),
                                          ("UltrasonixCurvilinearScanConvertedData.igs.mha", 5)])
def test_plus_sequences_open_with_frames_and_tracking(data_dir, name, frames):
    volume = read_volume(data_dir / "plus" / name)
    assert volume.shape == (frames, 616, 820) and volume.array.dtype == np.uint8
    assert volume.metadata["timestamps"].shape == (frames,)
    assert np.all(np.diff(volume.metadata["timestamps"]) > 0)
    assert "UltrasoundImageOrientation" in volume.metadata["header"]
    tracking = volume.metadata["tracking"]
    if name.startswith("Ultrasonix"):
        assert tracking == {}  # this recording carries no tracker
        return
    probe = tracking["ProbeToTracker"]
    assert probe.shape == (frames, 4, 4) and not np.isnan(probe).any()
    np.testing.assert_array_equal(probe[0, 3], [0, 0, 0, 1])
    rotation = probe[0, :3, :3]
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-4)
    assert volume.metadata["tracking_status"]["ProbeToTracker"] == ["OK"] * frames


def test_first_plus_matrix_is_the_header_values(data_dir):
    volume = read_volume(data_dir / "plus" / "BoneUltrasound_L14.igs.mha")
    np.testing.assert_allclose(volume.metadata["tracking"]["ProbeToTracker"][0, 0],
                               [0.853646, -0.501315, 0.141319, 257.956])


def test_reconstructed_volume_keeps_its_geometry(data_dir):
    volume = read_volume(data_dir / "plus" / "SpinePhantomFreehandReconstructed.mha")
    assert volume.shape == (104, 106, 147)
    assert volume.geometry.spacing == (0.5, 0.5, 0.5)
    assert volume.geometry.origin == (-74.5217, 165.573, 29.072)
    assert "tracking" not in volume.metadata


# ----- bad input: one UserError naming the file -----

def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="nowhere.nii.gz"):
        read_volume(tmp_path / "nowhere.nii.gz")


def test_truncated_file(tmp_path, data_dir):
    path = tmp_path / "cut.mha"
    shutil.copy(data_dir / "plus" / "SpinePhantomFreehandReconstructed.mha", path)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(UserError, match="cut.mha.*could not be read"):
        read_volume(path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.nii"
    path.write_text("not an image")
    with pytest.raises(UserError, match="notes.nii.*could not be read"):
        read_volume(path)


def test_2d_file_where_a_volume_is_needed(tmp_path, sitk_file):
    path = sitk_file(speckle((4, 5)), tmp_path / "flat.nrrd")
    with pytest.raises(UserError, match=r"flat.nrrd.*2D image \(5 x 4\)"):
        read_volume(path)


def test_4d_file_names_its_dimensions(tmp_path, sitk_file):
    path = sitk_file(speckle((2, 3, 4, 5)), tmp_path / "time.nii.gz")
    with pytest.raises(UserError, match=r"time.nii.gz.*4 dimensions \(5 x 4 x 3 x 2\)"):
        read_volume(path)


def test_too_large_for_memory_is_refused_from_the_header(tmp_path):
    # A header announcing 200 TB; its pixel file does not even exist, so nothing is read.
    path = tmp_path / "huge.mhd"
    path.write_text("ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 10000\n"
                    "ElementType = MET_USHORT\nElementDataFile = huge.raw\n")
    with pytest.raises(UserError, match=r"huge.mhd.*too large for memory \(needs 400000.0 GB"):
        read_volume(path)


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(UserError, match="neither a DICOM series nor PNG frames"):
        read_volume(tmp_path)


def test_bad_sweep_axis(tmp_path, sitk_file):
    with pytest.raises(UserError, match="sweep axis"):
        read_volume(sitk_file(speckle((3, 4, 5)), tmp_path / "v.mha"), sweep_axis=3)
