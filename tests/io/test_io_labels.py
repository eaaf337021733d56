"""Label maps: exact round trips in every format, Slicer segmentations, and refusals that name the file."""

import numpy as np
import pytest
import SimpleITK as sitk

from usannotator.core import Label, LabelTable, Volume
from usannotator.core.errors import UserError
from usannotator.io import read_labels, write_labels


@pytest.mark.parametrize("ext, atol", [(".nii", 1e-6), (".nii.gz", 1e-6), (".nrrd", 1e-12), (".mha", 0)])
def test_labels_round_trip(tmp_path, labels, geometry, same_geometry, ext, atol):
    path = tmp_path / f"muscles{ext}"
    write_labels(path, labels, geometry)
    back, back_geometry, table = read_labels(path)
    assert back.dtype == np.uint8 and table is None
    np.testing.assert_array_equal(back, labels)
    same_geometry(back_geometry, geometry, atol)


def test_values_above_255_are_written_as_uint16(tmp_path, labels, geometry):
    big = labels.astype(np.uint16) * 1000
    write_labels(tmp_path / "big.nrrd", big, geometry)
    back, _, _ = read_labels(tmp_path / "big.nrrd")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, big)
    assert sitk.ReadImage(str(tmp_path / "big.nrrd")).GetPixelID() == sitk.sitkUInt16


def test_seg_nrrd_keeps_names_colours_and_geometry(tmp_path, labels, geometry, same_geometry):
    table = LabelTable([Label(1, "GM", (230, 75, 60)), Label(2, "GL", (60, 140, 230)),
                        Label(3, "SOL", (90, 200, 90)), Label(7, "Tendon", (250, 140, 30))])
    path = tmp_path / "leg.seg.nrrd"
    write_labels(path, labels, geometry, table)
    back, back_geometry, back_table = read_labels(path)
    np.testing.assert_array_equal(back, labels)
    same_geometry(back_geometry, geometry, 1e-12)
    assert [(l.value, l.name, l.color) for l in back_table] == [(l.value, l.name, l.color) for l in table]


def test_seg_nrrd_header_is_what_slicer_reads(tmp_path, labels, geometry):
    write_labels(tmp_path / "leg.seg.nrrd", labels, geometry)
    image = sitk.ReadImage(str(tmp_path / "leg.seg.nrrd"))
    meta = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys()}
    assert meta["Segmentation_MasterRepresentation"] == "Binary labelmap"
    assert meta["Segmentation_ContainedRepresentationNames"] == "Binary labelmap|"
    assert "Segmentation_Extent" not in meta  # would make Slicer take it for its legacy 4D format
    assert meta["Segment0_Name"] == "GM" and meta["Segment0_LabelValue"] == "1" and meta["Segment0_Layer"] == "0"
    # GL fills sweep 1-2, depth 2-4, lateral 3-5: Slicer's extent is x0 x1 y0 y1 z0 z1 in voxels.
    assert meta["Segment1_Extent"] == "3 5 2 4 1 2"
    assert [float(c) for c in meta["Segment2_Color"].split()] == pytest.approx([90 / 255, 200 / 255, 90 / 255])


def slicer_layers_file(path, layers, geometry, four_d):
    """A segmentation saved one segment per layer, each segment stored as 1 (as Slicer does for overlaps)."""
    stacked = np.stack(layers)  # (L, z, y, x)
    if four_d:
        image = sitk.GetImageFromArray(stacked, isVector=False)  # legacy layout: segments on a 4th axis
    else:
        image = sitk.GetImageFromArray(np.moveaxis(stacked, 0, -1), isVector=True)  # a list axis
        image.SetSpacing(geometry.spacing)
        image.SetOrigin(geometry.origin)
        image.SetDirection(geometry.direction)
    for i, name in enumerate(["GM", "GL"]):
        for key, value in {"ID": f"Segment_{i}", "Name": name, "Color": "1 0 0" if i == 0 else "0 0 1",
                           "LabelValue": "1", "Layer": str(i)}.items():
            image.SetMetaData(f"Segment{i}_{key}", value)
    sitk.WriteImage(image, str(path))
    if not four_d:  # Slicer names the layer axis "list"; SimpleITK writes "vector" (same layout)
        path.write_bytes(path.read_bytes().replace(b"kinds: vector domain", b"kinds: list domain", 1))
    return path


@pytest.mark.parametrize("four_d", [False, True])
def test_seg_nrrd_with_one_layer_per_segment(tmp_path, geometry, four_d):
    gm = np.zeros((3, 4, 5), np.uint8)
    gl = np.zeros((3, 4, 5), np.uint8)
    gm[0:2, 0:2, 0:2] = 1
    gl[1:3, 1:3, 1:3] = 1  # overlaps GM at [1, 1, 1]
    notes = []
    path = slicer_layers_file(tmp_path / "layers.seg.nrrd", [gm, gl], geometry, four_d)
    labels, _, table = read_labels(path, notes=notes)
    assert labels.shape == (3, 4, 5)
    assert labels[0, 0, 0] == 1 and labels[2, 2, 2] == 2 and labels[1, 1, 1] == 2
    assert np.count_nonzero(labels == 1) == 7 and np.count_nonzero(labels == 2) == 8
    assert [(l.value, l.name, l.color) for l in table] == [(1, "GM", (255, 0, 0)), (2, "GL", (0, 0, 255))]
    assert any("overlap" in note for note in notes)


def test_all_zero_labels_are_valid(tmp_path, geometry):
    write_labels(tmp_path / "empty.nii.gz", np.zeros((2, 3, 4), np.uint8), geometry)
    labels, _, _ = read_labels(tmp_path / "empty.nii.gz")
    assert labels.shape == (2, 3, 4) and not labels.any()


def test_whole_number_floats_are_accepted_with_a_note(tmp_path, labels, sitk_file):
    path = sitk_file(labels.astype(np.float32), tmp_path / "float.nrrd")
    notes = []
    back, _, _ = read_labels(path, notes=notes)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, labels)
    assert notes and "float32" in notes[0]


def test_labels_matching_the_image_are_accepted(tmp_path, labels, geometry):
    write_labels(tmp_path / "l.nrrd", labels, geometry)
    image = Volume(np.zeros(labels.shape, np.uint8), geometry, path="leg.nrrd")
    back, _, _ = read_labels(tmp_path / "l.nrrd", like=image)
    np.testing.assert_array_equal(back, labels)


# ----- bad label input: one UserError naming the file -----

def test_fractional_floats_are_refused(tmp_path, labels, sitk_file):
    path = sitk_file(labels.astype(np.float32) + 0.5, tmp_path / "prob.nii.gz")
    with pytest.raises(UserError, match="prob.nii.gz.*labels must be integers.*0.5"):
        read_labels(path)


def test_negative_values_are_refused(tmp_path, labels, sitk_file):
    path = sitk_file(labels.astype(np.int16) - 1, tmp_path / "neg.nrrd")
    with pytest.raises(UserError, match="neg.nrrd.*negative.*-1"):
        read_labels(path)


def test_shape_mismatch_names_both(tmp_path, labels, geometry):
    write_labels(tmp_path / "l.nrrd", labels, geometry)
    image = Volume(np.zeros((4, 5, 7), np.uint8), geometry, path="leg.nrrd")
    with pytest.raises(UserError, match=r"l.nrrd: labels have shape \(4, 5, 6\) but the image leg.nrrd has \(4, 5, 7\)"):
        read_labels(tmp_path / "l.nrrd", like=image)


def test_geometry_mismatch_names_both(tmp_path, labels, geometry):
    write_labels(tmp_path / "l.nrrd", labels, geometry)
    image = Volume(np.zeros(labels.shape, np.uint8), path="leg.nrrd")  # default geometry
    with pytest.raises(UserError, match=r"l.nrrd: labels do not line up with the image leg.nrrd: spacing \(0.3, 0.7, 1.9\)"):
        read_labels(tmp_path / "l.nrrd", like=image)


def test_missing_and_4d_and_2d_and_colour_label_files(tmp_path, sitk_file):
    with pytest.raises(UserError, match="gone.nrrd"):
        read_labels(tmp_path / "gone.nrrd")
    with pytest.raises(UserError, match=r"four.nrrd.*4 dimensions"):
        read_labels(sitk_file(np.zeros((2, 2, 3, 4), np.uint8), tmp_path / "four.nrrd"))
    with pytest.raises(UserError, match=r"flat.mha.*2D image"):
        read_labels(sitk_file(np.zeros((3, 4), np.uint8), tmp_path / "flat.mha"))
    with pytest.raises(UserError, match=r"rgb.nrrd.*3 values per voxel"):
        read_labels(sitk_file(np.zeros((2, 3, 4, 3), np.uint8), tmp_path / "rgb.nrrd", vector=True))


def test_writer_refuses_bad_labels_and_formats(tmp_path, labels, geometry):
    with pytest.raises(UserError, match="out.png.*cannot write labels as '.png'"):
        write_labels(tmp_path / "out.png", labels, geometry)
    with pytest.raises(UserError, match="out.nrrd.*labels must be integers"):
        write_labels(tmp_path / "out.nrrd", labels + 0.25, geometry)
    with pytest.raises(UserError, match="out.nrrd.*at most 65535"):
        write_labels(tmp_path / "out.nrrd", labels.astype(np.int32) * 70000, geometry)
    assert list(tmp_path.iterdir()) == []


def test_damaged_segment_description(tmp_path, labels):
    image = sitk.GetImageFromArray(labels)
    image.SetMetaData("Segment0_ID", "Segment_1")
    image.SetMetaData("Segment0_LabelValue", "one")
    sitk.WriteImage(image, str(tmp_path / "bad.seg.nrrd"))
    with pytest.raises(UserError, match="bad.seg.nrrd.*segment 0 is damaged"):
        read_labels(tmp_path / "bad.seg.nrrd")
