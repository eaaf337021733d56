"""write_demo: files that read back with the same voxels and geometry."""

import numpy as np

from usannotator.io import read_labels, read_volume
from usannotator.phantom import generate_phantom, sparse_key_slices, write_demo


def test_write_demo_files_read_back(tmp_path):
    out = tmp_path / "nested" / "demo"
    paths = write_demo(out, seed=3, every=5, size="small")
    assert set(paths) == {"image", "truth", "sparse", "fascia"}
    assert sorted(p.name for p in out.iterdir()) == ["fascia.nii.gz", "image.nii.gz",
                                                      "sparse.nii.gz", "truth.nii.gz"]
    phantom = generate_phantom(3, size="small")
    image = read_volume(paths["image"])
    assert image.array.dtype == np.uint8
    assert np.array_equal(image.array, phantom.volume.array)
    assert image.geometry.matches(phantom.geometry)
    expected = {"truth": phantom.truth, "fascia": phantom.fascia,
                "sparse": sparse_key_slices(phantom.truth, every=5)}
    for kind, array in expected.items():
        labels, geometry, _ = read_labels(paths[kind], like=image)
        assert np.array_equal(labels, array), kind
        assert geometry.matches(phantom.geometry), kind


def _voxels(path):
    return read_volume(path).array


def test_write_demo_is_deterministic_and_seeded(tmp_path):
    first = write_demo(tmp_path / "a", seed=1, size="small")
    again = write_demo(tmp_path / "b", seed=1, size="small")
    other = write_demo(tmp_path / "c", seed=2, size="small")
    for kind in first:
        assert np.array_equal(_voxels(first[kind]), _voxels(again[kind])), kind
        assert not np.array_equal(_voxels(first[kind]), _voxels(other[kind])), kind
