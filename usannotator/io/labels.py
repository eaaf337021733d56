"""Reading and writing label maps: integer volumes, optionally with names and colours (.seg.nrrd)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from usannotator.core.errors import UserError
from usannotator.core.geometry import Geometry
from usannotator.core.labels import LabelTable
from usannotator.core.volume import Volume
from usannotator.io.files import extension
from usannotator.io.images import VOLUME_EXTENSIONS, image_from_array, write_sitk
from usannotator.io.reading import as_3d, geometry_of, header, may_be_2d, read_image
from usannotator.io.slicer import merge_layers, segmentation_header, segments_in

LABEL_EXTENSIONS = VOLUME_EXTENSIONS + (".seg.nrrd",)
MAX_LABEL = 65535


def read_labels(path, like: Volume | None = None, notes: list | None = None) -> tuple:
    """(labels, geometry, label table or None) from a label file.

    labels: uint8 or uint16 in numpy order. The table comes from a Slicer segmentation's names and
    colours; other formats give None. Float files whose values are all whole numbers are accepted
    (a note says so). With `like`, the labels must have the image's shape and geometry.
    An all-zero file is valid: callers that need annotations check `labels.any()`.
    notes: a list to which remarks for the user are appended (conversions made).
    """
    notes = [] if notes is None else notes
    image = read_image(path)
    segments = segments_in(header(image), path)
    if segments:
        labels, table = merge_layers(_layers(image, path), segments, path, notes)
    else:
        image = as_3d(image, path, allow_2d=may_be_2d(path))
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise UserError(f"holds {image.GetNumberOfComponentsPerPixel()} values per voxel; "
                            "a label map holds one integer per voxel", path)
        labels, table = sitk.GetArrayFromImage(image), None
    labels = _integer_labels(labels, path, notes)
    geometry = geometry_of(image)
    if like is not None:
        _check_lines_up(labels, geometry, like, path)
    return labels, geometry, table


def _layers(image: sitk.Image, path) -> np.ndarray:
    """A Slicer segmentation's layers as (L, z, y, x): one layer, a list axis, or a 4th axis."""
    if image.GetDimension() == 4:
        return sitk.GetArrayFromImage(image)
    array = sitk.GetArrayFromImage(as_3d(image, path, allow_2d=False))
    return np.moveaxis(array, -1, 0) if image.GetNumberOfComponentsPerPixel() > 1 else array[np.newaxis]


def _integer_labels(array: np.ndarray, path, notes: list) -> np.ndarray:
    """The labels in the smallest unsigned type that holds them, or a UserError saying what is wrong."""
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            raise UserError(f"labels must be integers, but it holds {array.flat[np.argmin(whole)]:g}", path)
        notes.append(f"the labels were stored as {array.dtype} and were converted to integers")
    elif array.dtype.kind not in "iub":
        raise UserError(f"labels must be integers, but it holds {array.dtype} values", path)
    low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
    if low < 0:
        raise UserError(f"label values must not be negative, but it holds {low}", path)
    if high > MAX_LABEL:
        raise UserError(f"label values must be at most {MAX_LABEL}, but it holds {high}", path)
    return array.astype(np.uint8 if high <= 255 else np.uint16, copy=False)


def _check_lines_up(labels: np.ndarray, geometry: Geometry, like: Volume, path) -> None:
    image = like.path or like.name or "the image"
    if labels.shape != like.shape:
        raise UserError(f"labels have shape {labels.shape} but the image {image} has {like.shape}", path)
    if not like.geometry.matches(geometry):
        raise UserError(f"labels do not line up with the image {image}: "
                        f"{like.geometry.describe_mismatch(geometry)}", path)


def write_labels(path, labels, geometry: Geometry, label_table: LabelTable | None = None) -> None:
    """Write a label map (.nii, .nii.gz, .nrrd, .mha, or .seg.nrrd with the table's names and
    colours for 3D Slicer) as uint8 or uint16, whichever holds the values."""
    ext = extension(path)
    if ext not in LABEL_EXTENSIONS:
        raise UserError(f"cannot write labels as '{ext}'; use one of {', '.join(LABEL_EXTENSIONS)}", path)
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise UserError(f"a label map needs 3 dimensions, got shape {labels.shape}", path)
    labels = _integer_labels(labels, path, notes=[])
    image = image_from_array(labels, geometry)
    if ext == ".seg.nrrd":
        for key, value in segmentation_header(labels, label_table).items():
            image.SetMetaData(key, value)
    write_sitk(image, path, compress=True)
