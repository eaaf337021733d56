"""Writing images: float maps (confidence, distances) in the format the extension names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from usannotator.core.errors import UserError
from usannotator.core.geometry import Geometry
from usannotator.io.files import atomic_output, disk_is_full, extension
from usannotator.io.reading import itk_reason

# Not .mhd: its separate pixel file would keep the temporary name inside the header.
VOLUME_EXTENSIONS = (".nii", ".nii.gz", ".nrrd", ".mha")
IMAGE_EXTENSIONS = VOLUME_EXTENSIONS + (".npy", ".png")


def image_from_array(array: np.ndarray, geometry: Geometry) -> sitk.Image:
    """A 3D SimpleITK image of a (z, y, x) array, carrying the geometry exactly."""
    image = sitk.GetImageFromArray(array, isVector=False)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    return image


def write_sitk(image: sitk.Image, path, compress: bool) -> None:
    """Write through a temporary file beside `path` (the format follows the extension)."""
    with atomic_output(path) as tmp:
        try:
            sitk.WriteImage(image, tmp, useCompression=compress)
        except RuntimeError as exc:
            folder = Path(path).parent
            why = f"the disk holding {folder} is full" if disk_is_full(folder) else itk_reason(exc)
            raise UserError(f"could not be written: {why}", path) from exc


def write_image(path, array, geometry: Geometry) -> None:
    """Write a float map.

    .nii/.nii.gz/.nrrd/.mha: float32 with the geometry (a 2D array becomes one slice).
    .npy: the array as given, as float64 (geometry is not stored).
    .png: a 2D array with values in 0..1, saved as 8-bit 0..255 (values outside are clipped).
    """
    ext = extension(path)
    array = np.asarray(array)
    if ext not in IMAGE_EXTENSIONS:
        raise UserError(f"cannot write an image as '{ext}'; use one of {', '.join(IMAGE_EXTENSIONS)}", path)
    if ext == ".npy":
        with atomic_output(path) as tmp:
            np.save(tmp, array.astype(np.float64))
    elif ext == ".png":
        if array.ndim != 2:
            raise UserError(f"a PNG holds one 2D frame, but the array has shape {array.shape}", path)
        scaled = np.rint(np.clip(np.nan_to_num(array), 0.0, 1.0) * 255).astype(np.uint8)
        write_sitk(sitk.GetImageFromArray(scaled), path, compress=False)
    else:
        if array.ndim == 2:
            array = array[np.newaxis]
        if array.ndim != 3:
            raise UserError(f"needs a 2D or 3D array, got shape {array.shape}", path)
        write_sitk(image_from_array(array.astype(np.float32), geometry), path, compress=ext == ".nii.gz")
