"""Real inputs for the confidence-map tests: the two reference images with the maps the authors'
MATLAB code produced, and tracked frames of a bone with its acoustic shadow (PLUS test data)."""

import numpy as np
import pytest
import SimpleITK as sitk

# name: (gamma used for the reference map); alpha 2.0, beta 90, sink "all" for both (README)
REFERENCES = {"neck": 0.03, "femur": 0.06}


@pytest.fixture(scope="session")
def reference_dir():
    from tests.conftest import DATA

    folder = DATA / "confidence_maps"
    if not folder.exists():
        pytest.fail(f"the reference data is missing: {folder}")
    return folder


def read_reference(folder, name):
    """The input as uint8 grey, as the reference README reads it, and the reference map. The .npy
    holds float32 (the README says float64): compare after casting."""
    image = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / f"{name}_input.png")))
    expected = np.load(folder / f"{name}_result.npy").astype(np.float64)
    return image, expected


@pytest.fixture(scope="session")
def bone_sequence():
    """The 21 tracked frames (616 x 820) over a bone, as the host reads them."""
    from tests.conftest import DATA
    from usannotator.io import read_volume

    return read_volume(DATA / "plus" / "BoneUltrasound_L14.igs.mha")


@pytest.fixture(scope="session")
def bone_crops(bone_sequence):
    """Small real slices for solver comparisons: 96 x 128 pieces of three frames, taken across
    the bone's surface so that the weights span strong edges and shadow."""
    return bone_sequence.array[[0, 10, 20], 230:326, 250:378].astype(np.float64)
