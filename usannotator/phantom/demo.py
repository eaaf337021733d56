"""write_demo: a phantom's image, ground truth, sparse key slices and fascia map as files."""

from __future__ import annotations

from pathlib import Path

from usannotator.phantom.generator import generate_phantom
from usannotator.phantom.keyslices import sparse_key_slices


def write_demo(out_dir, seed=0, every=10, size="demo") -> dict:
    """Write image.nii.gz, truth.nii.gz, sparse.nii.gz and fascia.nii.gz into `out_dir`.

    Returns {"image": path, "truth": ..., "sparse": ..., "fascia": ...}. The same seed always
    writes the same voxels. Files are written aside and renamed, so none is ever left half written.
    """
    # io writes through SimpleITK; import it here so that generating a phantom does not need it.
    from usannotator.io import write_labels
    from usannotator.io.images import image_from_array, write_sitk

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    phantom = generate_phantom(seed=seed, size=size)
    geometry = phantom.geometry
    paths = {name: str(out / f"{name}.nii.gz") for name in ("image", "truth", "sparse", "fascia")}
    # The B-mode image stays uint8: io's write_image is for float maps and would store float32.
    write_sitk(image_from_array(phantom.volume.array, geometry), paths["image"], compress=True)
    write_labels(paths["truth"], phantom.truth, geometry)
    write_labels(paths["sparse"], sparse_key_slices(phantom.truth, every=every), geometry)
    write_labels(paths["fascia"], phantom.fascia, geometry)
    return paths
