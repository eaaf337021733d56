"""`usannotator info`: what a file holds, in JSON-ready values with explicit axis orders."""

import json

import numpy as np

from usannotator.core import Label, LabelTable
from usannotator.io import describe_file, write_labels


def test_label_file_lists_values_and_counts(tmp_path, labels, geometry):
    write_labels(tmp_path / "l.seg.nrrd", labels, geometry,
                 LabelTable([Label(1, "GM"), Label(2, "GL"), Label(3, "SOL")]))
    info = describe_file(tmp_path / "l.seg.nrrd")
    json.dumps(info)  # the CLI prints it as JSON
    assert info["size_numpy_zyx"] == [4, 5, 6] and info["size_itk_xyz"] == [6, 5, 4]
    assert info["spacing_itk_xyz"] == [0.3, 0.7, 1.9] and info["origin_itk_xyz"] == [-12.5, 3.25, 40.0]
    assert np.allclose(info["direction_itk"], geometry.direction)
    assert info["dtype"] == "uint8" and (info["intensity_min"], info["intensity_max"]) == (0.0, 3.0)
    values, counts = np.unique(labels, return_counts=True)
    assert info["label_values"] == dict(zip(values.tolist(), counts.tolist()))
    assert info["segments"] == ["GM", "GL", "SOL"]


def test_float_file_has_no_label_values(tmp_path, sitk_file):
    info = describe_file(sitk_file(np.linspace(0, 1, 24, dtype=np.float32).reshape(2, 3, 4), tmp_path / "f.mha"))
    assert info["dtype"] == "float32" and "label_values" not in info
    assert (info["intensity_min"], info["intensity_max"]) == (0.0, 1.0)


def test_plus_sequence_reports_frames_and_tracking(data_dir):
    tracked = describe_file(data_dir / "plus" / "BoneUltrasound_L14.igs.mha")
    assert tracked["frames"] == 21 and tracked["tracking"] is True
    assert "ProbeToTracker" in tracked["tracking_transforms"]
    untracked = describe_file(data_dir / "plus" / "UltrasonixCurvilinearScanConvertedData.igs.mha")
    assert untracked["frames"] == 5 and untracked["tracking"] is False
