"""What a file holds, for `usannotator info`: JSON-ready values only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from usannotator.io.plus import is_plus_sequence, plus_metadata
from usannotator.io.reading import header, read_image
from usannotator.io.slicer import segments_in

MAX_LISTED_VALUES = 256


def describe_file(path) -> dict:
    """Size (numpy and ITK order), spacing, origin, direction, dtype, intensity range; label values
    with voxel counts for integer files with at most 256 distinct values; frames and tracking for
    PLUS sequences; segment names for Slicer segmentations."""
    image = read_image(path)
    array = sitk.GetArrayViewFromImage(image)
    size = list(image.GetSize())
    info = {
        "file": str(Path(path)),
        "dimensions": image.GetDimension(),
        "size_numpy_zyx": size[::-1],
        "size_itk_xyz": size,
        "spacing_itk_xyz": list(image.GetSpacing()),
        "origin_itk_xyz": list(image.GetOrigin()),
        "direction_itk": list(image.GetDirection()),
        "dtype": str(array.dtype),
        "components": image.GetNumberOfComponentsPerPixel(),
        "intensity_min": float(array.min()),
        "intensity_max": float(array.max()),
    }
    if np.issubdtype(array.dtype, np.integer):
        values, counts = _value_counts(array)
        if len(values) <= MAX_LISTED_VALUES:
            info["label_values"] = {int(v): int(c) for v, c in zip(values, counts)}
    keys = header(image)
    if is_plus_sequence(keys):
        plus = plus_metadata(keys, size[-1])
        info["frames"] = size[-1]
        info["tracking"] = bool(plus["tracking"])
        info["tracking_transforms"] = sorted(plus["tracking"])
    segments = segments_in(keys, path)
    if segments:
        info["segments"] = [s["name"] for s in segments]
    return info


def _value_counts(array: np.ndarray) -> tuple:
    if array.dtype.kind == "u" and array.dtype.itemsize <= 2:
        counts = np.bincount(array.ravel())  # far faster than sorting for 8- and 16-bit data
        values = np.flatnonzero(counts)
        return values, counts[values]
    return np.unique(array, return_counts=True)
