"""Sessions: reopening gives back the labels bit for bit, the table, provenance and view."""

import json
import shutil

import numpy as np
import pytest

from usannotator.core import Document, Edit, Source, Volume
from usannotator.core.errors import UserError
from usannotator.io import open_session, read_volume, save_session


@pytest.fixture
def document(tmp_path, geometry, labels, sitk_file):
    """A document on an image file, with a hand edit, an interpolated slice and an edited table."""
    image = np.random.default_rng(0).integers(0, 255, labels.shape).astype(np.uint8)
    (tmp_path / "scan").mkdir()
    path = sitk_file(image, tmp_path / "scan" / "leg.nrrd", geometry)
    doc = Document(read_volume(path), labels)
    doc.apply_edit(Edit((slice(2, 3), slice(0, 2), slice(0, 2)), 2, description="brush"))
    doc.apply_edit(Edit((slice(1, 2), slice(4, 5), slice(0, 1)), 3, source=Source.INTERPOLATED))
    doc.label_table.update(2, name="GL (lateral head)", color=(1, 2, 3), locked=True)
    doc.label_table.add("Tendon", value=300)
    return doc


def test_reopen_gives_everything_back(tmp_path, document):
    view = {"slice": 2, "zoom": 1.5, "visible": [1, 3], "window": [10.0, 200.0]}
    session = tmp_path / "work" / "leg.usa.json"
    session.parent.mkdir()
    save_session(session, document, view)
    assert sorted(p.name for p in session.parent.iterdir()) == ["leg.labels.nii.gz", "leg.usa.json"]
    assert document.session_path == str(session)

    back, back_view = open_session(session)
    assert back.labels.dtype == document.labels.dtype
    np.testing.assert_array_equal(back.labels, document.labels)
    assert back.label_table.to_list() == document.label_table.to_list()
    assert back.provenance.to_dict() == document.provenance.to_dict()
    assert back.provenance.of(3)[1] == Source.INTERPOLATED
    assert back_view == view
    assert back.volume.path == document.volume.path
    np.testing.assert_array_equal(back.volume.array, document.volume.array)
    assert back.volume.geometry == document.volume.geometry


def test_session_file_format(tmp_path, document):
    session = tmp_path / "leg.usa.json"
    save_session(session, document)
    saved = json.loads(session.read_text())
    assert saved["format"] == "usannotator-session" and saved["version"] == 1
    assert saved["image"]["relative"] == "scan/leg.nrrd"
    assert saved["image"]["absolute"] == str((tmp_path / "scan" / "leg.nrrd").resolve())
    assert saved["labels"] == "leg.labels.nii.gz"
    assert (saved["sweep_axis"], saved["depth_axis"]) == (0, 1)
    assert saved["view"] == {}


def test_source_image_is_never_written(tmp_path, document):
    image = tmp_path / "scan" / "leg.nrrd"
    before = image.read_bytes()
    save_session(tmp_path / "leg.usa.json", document)
    assert image.read_bytes() == before
    with pytest.raises(UserError, match="would overwrite the image"):
        save_session(tmp_path / "scan" / "leg.nrrd", document)
    assert image.read_bytes() == before


def test_session_and_image_moved_together(tmp_path, document):
    save_session(tmp_path / "leg.usa.json", document)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for name in ("leg.usa.json", "leg.labels.nii.gz", "scan"):
        shutil.move(tmp_path / name, moved / name)
    back, _ = open_session(moved / "leg.usa.json")
    assert back.volume.path == str(moved / "scan" / "leg.nrrd")
    np.testing.assert_array_equal(back.labels, document.labels)


def test_volume_without_a_file_is_saved_beside(tmp_path, labels, geometry):
    doc = Document(Volume(np.ones(labels.shape, np.float32), geometry), labels)
    save_session(tmp_path / "demo.usa.json", doc)
    assert (tmp_path / "demo.image.nrrd").exists()
    back, _ = open_session(tmp_path / "demo.usa.json")
    np.testing.assert_array_equal(back.labels, labels)
    np.testing.assert_array_equal(back.volume.array, doc.volume.array)


def test_missing_image_is_named(tmp_path, document):
    save_session(tmp_path / "leg.usa.json", document)
    shutil.rmtree(tmp_path / "scan")
    with pytest.raises(UserError, match=r"leg.usa.json: the image .*scan/leg.nrrd is missing"):
        open_session(tmp_path / "leg.usa.json")


def test_image_that_changed_size(tmp_path, document, sitk_file, geometry):
    save_session(tmp_path / "leg.usa.json", document)
    sitk_file(np.zeros((4, 5, 7), np.uint8), tmp_path / "scan" / "leg.nrrd", geometry)
    with pytest.raises(UserError, match=r"leg.usa.json: the image .*leg.nrrd has changed: it now has shape \(4, 5, 7\)"):
        open_session(tmp_path / "leg.usa.json")


def test_image_whose_geometry_changed(tmp_path, document, sitk_file):
    save_session(tmp_path / "leg.usa.json", document)
    sitk_file(document.volume.array, tmp_path / "scan" / "leg.nrrd")  # same voxels, default geometry
    with pytest.raises(UserError, match=r"leg.usa.json: the image .*leg.nrrd has changed: spacing"):
        open_session(tmp_path / "leg.usa.json")


def test_not_a_session(tmp_path):
    (tmp_path / "x.usa.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="x.usa.json: is not a usannotator session"):
        open_session(tmp_path / "x.usa.json")
    with pytest.raises(UserError, match="gone.usa.json: no such session file"):
        open_session(tmp_path / "gone.usa.json")
