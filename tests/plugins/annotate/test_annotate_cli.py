"""`usannotator annotate ...` round trips through real files, and the plugin imports without Qt."""

import json
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from usannotator.cli import main
from usannotator.core import Source
from usannotator.io import open_session

SPACING = (0.5, 0.4, 2.0)      # x, y, z mm: a voxel is 0.4 mm3


@pytest.fixture
def files(tmp_path):
    """A speckle image and a sparse label file with GM on slices 2 and 8, GL on slice 5."""
    image = sitk.GetImageFromArray(np.random.default_rng(0).integers(0, 255, (12, 20, 24)).astype(np.uint8))
    image.SetSpacing(SPACING)
    image.SetOrigin((3.0, -2.0, 10.0))
    sparse = np.zeros((12, 20, 24), np.uint8)
    sparse[2, 5:10, 5:10] = 1
    sparse[8, 4:8, 4:12] = 1
    sparse[5, 10:15, 3:9] = 2
    labels = sitk.GetImageFromArray(sparse)
    labels.CopyInformation(image)
    sitk.WriteImage(image, str(tmp_path / "leg.nrrd"))
    sitk.WriteImage(labels, str(tmp_path / "sparse.nii.gz"))
    return tmp_path, sparse


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_sparse_makes_a_session_whose_key_slices_are_the_annotated_slices(files, capsys):
    folder, sparse = files
    code, out, _ = run(capsys, "annotate", "import-sparse", folder / "leg.nrrd", folder / "sparse.nii.gz",
                       "-o", folder / "leg.usa.json", "--json")
    assert code == 0 and json.loads(out) == {"GM": [2, 8], "GL": [5]}
    doc, _ = open_session(folder / "leg.usa.json")
    np.testing.assert_array_equal(doc.labels, sparse)
    assert list(doc.key_slices(1)) == [2, 8] and doc.provenance.of(2)[5] == Source.MANUAL


def test_stats_json_figures(files, capsys):
    folder, _ = files
    code, out, _ = run(capsys, "annotate", "stats", folder / "leg.nrrd", folder / "sparse.nii.gz", "--json")
    gm, gl, sol = json.loads(out)
    assert code == 0
    assert (gm["voxels"], gm["key_slices"], gm["first_slice"], gm["last_slice"]) == (57, 2, 2, 8)
    assert gm["volume_ml"] == pytest.approx(57 * 0.4 / 1000) and gm["extent_mm"] == pytest.approx(7 * 2.0)
    assert (gl["voxels"], sol["voxels"], sol["first_slice"]) == (30, 0, None)
    code, out, _ = run(capsys, "annotate", "stats", folder / "leg.nrrd", folder / "sparse.nii.gz")
    assert code == 0 and "GM" in out and "57" in out


def test_paint_on_a_session_keeps_key_slices_and_adds_one(files, capsys):
    folder, sparse = files
    run(capsys, "annotate", "import-sparse", folder / "leg.nrrd", folder / "sparse.nii.gz", "-o", folder / "a.usa.json")
    code, out, _ = run(capsys, "annotate", "paint", folder / "leg.nrrd", "--labels", folder / "a.usa.json",
                       "-o", folder / "b.usa.json", "--label", "sol", "--slice", 3, "--points", "5,5", "5,9",
                       "--radius", 0)
    assert code == 0 and out.startswith("Brush SOL, slice 3: 5 voxels changed")
    doc, _ = open_session(folder / "b.usa.json")
    assert list(doc.labels[3, 5, 5:10]) == [3] * 5 and (doc.labels == 3).sum() == 5
    assert list(doc.key_slices(3)) == [3] and list(doc.key_slices(1)) == [2, 8]


def test_paint_tools_on_label_files(files, capsys):
    folder, sparse = files
    out_file = folder / "out.nii.gz"
    code, _, _ = run(capsys, "annotate", "paint", folder / "leg.nrrd", "--labels", folder / "sparse.nii.gz",
                     "-o", out_file, "--tool", "erase", "--slice", 8, "--points", "5,4", "--radius", 100)
    erased = sitk.GetArrayFromImage(sitk.ReadImage(str(out_file)))
    expected = sparse.copy()
    expected[8] = 0
    assert code == 0
    np.testing.assert_array_equal(erased, expected)
    code, _, _ = run(capsys, "annotate", "paint", folder / "leg.nrrd", "-o", out_file, "--tool", "polygon",
                     "--label", "2", "--view", 2, "--slice", 4, "--points", "1,1", "1,3", "3,3", "3,1")
    painted = sitk.GetArrayFromImage(sitk.ReadImage(str(out_file)))
    assert code == 0 and (painted[1:4, 1:4, 4] == 2).all() and (painted == 2).sum() == 9   # lateral: cols = sweep


@pytest.mark.parametrize("argv, message", [
    (["--label", "XX", "--slice", "3", "--points", "1,1"], "no label is called 'XX'"),
    (["--label", "GM", "--slice", "99", "--points", "1,1"], "slice 99 is outside"),
    (["--tool", "fill", "--label", "GM", "--slice", "3", "--points", "1,1"], "reaches the edge"),
    (["--label", "GM", "--slice", "3"], "needs --points"),
    (["--slice", "3", "--points", "1,1"], "no label is selected"),
])
def test_bad_input_is_one_line_and_writes_nothing(files, capsys, argv, message):
    folder, _ = files
    code, out, err = run(capsys, "annotate", "paint", folder / "leg.nrrd", "-o", folder / "x.nii.gz", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (folder / "x.nii.gz").exists()


def test_import_of_an_empty_label_file_is_refused(files, capsys):
    folder, sparse = files
    empty = sitk.GetImageFromArray(np.zeros_like(sparse))
    empty.CopyInformation(sitk.ReadImage(str(folder / "leg.nrrd")))
    sitk.WriteImage(empty, str(folder / "empty.nii.gz"))
    code, _, err = run(capsys, "annotate", "import-sparse", folder / "leg.nrrd", folder / "empty.nii.gz",
                       "-o", folder / "s.usa.json")
    assert code == 2 and "no key slice" in err and not (folder / "s.usa.json").exists()


def test_the_qt_free_parts_import_without_qt_vtk_or_torch():
    code = ("import sys, usannotator_plugins.annotate as a; assert a.plugin.name == 'annotate'; "
            "assert 'scipy' not in sys.modules; "
            "import usannotator_plugins.annotate.tools, usannotator_plugins.annotate.keyslices, "
            "usannotator_plugins.annotate.stats, usannotator_plugins.annotate.cli, usannotator.io.journal; "
            "bad = [m for m in ('PySide6', 'vtk', 'pyvista', 'torch') if m in sys.modules]; assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
