"""Reading any supported file or folder into a SimpleITK image, with errors a user can act on.

Files: what SimpleITK reads (NIfTI, NRRD, MetaImage, PNG, ...). Folders: a DICOM series, or PNG
frames stacked along the sweep in natural order (frame2 before frame10).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from usannotator.core.errors import UserError
from usannotator.core.geometry import Geometry
from usannotator.io.files import extension, natural_key

# Formats that hold a single 2D frame; only these (and folders of them) may be a one-slice volume.
FRAME_EXTENSIONS = (".png",)
# ITU-R BT.601 luma weights, the usual grey conversion of RGB video frames.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # float32 keeps the grey copy small


def read_image(path) -> sitk.Image:
    """The image in a file or folder, after checking that it fits in memory."""
    path = Path(path)
    if not path.exists():
        raise UserError("no such file or folder", path)
    files = _files_in_folder(path) if path.is_dir() else [str(path)]
    pixel_bytes = image_bytes(files[0], path)
    check_fits_in_memory(path, pixel_bytes * len(files))
    if files[0].endswith(".gz"):
        check_gzip_complete(files[0], pixel_bytes)
    try:
        if len(files) == 1:
            return sitk.ReadImage(files[0])
        return sitk.ReadImage(files)  # an ImageSeriesReader: stacks 2D files into a 3D image
    except RuntimeError as exc:
        raise UserError(f"could not be read ({itk_reason(exc)}); the file may be damaged, truncated "
                        "or in an unsupported format", path) from exc


def _files_in_folder(folder: Path) -> list:
    frames = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"), key=natural_key)
    if frames:
        return [str(p) for p in frames]
    series = _dicom_series(folder)
    if not series:
        raise UserError("this folder holds neither a DICOM series nor PNG frames", folder)
    return list(max(series, key=len))  # several series: the one with the most slices


def _dicom_series(folder: Path) -> list:
    """File names of each DICOM series in the folder (without ITK's warning when there is none)."""
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
        return [sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), i) for i in ids]
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)


def image_bytes(file: str, path) -> int:
    """Bytes the pixels of one file will take, from its header alone (no pixels are read)."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(file)
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise UserError(f"could not be read ({itk_reason(exc)}); the file may be damaged or not an image",
                        path) from exc
    pixel = sitk.GetPixelIDValueAsString(reader.GetPixelID())
    bits = int(re.search(r"(\d+)-bit", pixel).group(1)) if "-bit" in pixel else 64
    per_component = bits // 8 * (2 if "complex" in pixel else 1)
    # Vector pixel types report their components through GetNumberOfComponents.
    return int(np.prod(reader.GetSize(), dtype=np.int64)) * reader.GetNumberOfComponents() * per_component


MAX_HEADER_BYTES = 1 << 20


def check_gzip_complete(file: str, pixel_bytes: int) -> None:
    """Refuse a truncated .gz: ITK's NIfTI reader would fill the missing voxels with zeros.

    The gzip trailer's last 4 bytes hold the uncompressed size (mod 2**32); in a whole file it
    exceeds the pixel bytes by the header size only. A cut-off file ends in compressed data instead.
    """
    with open(file, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() < 18:
            raise UserError("is truncated (too short to be a gzip file)", file)
        f.seek(-4, os.SEEK_END)
        stored = int.from_bytes(f.read(4), "little")
    if (stored - pixel_bytes) % (1 << 32) > MAX_HEADER_BYTES:
        raise UserError("is truncated or damaged: its compressed data ends early (an incomplete copy or "
                        "download?)", file)


def available_memory() -> int:
    """Bytes the system can still give us without swapping (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits_in_memory(path, pixel_bytes: int) -> None:
    # Reading holds SimpleITK's buffer and the numpy copy at the same time: twice the pixels.
    needed, free = 2 * pixel_bytes, available_memory()
    if needed > free:
        raise UserError(f"too large for memory (needs {needed / 1e9:.1f} GB, {free / 1e9:.1f} GB free)", path)


def itk_reason(exc: RuntimeError) -> str:
    """The useful line of a SimpleITK exception, without source paths and object addresses."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "ERROR:" in line:
            reason = line.split("ERROR:", 1)[1]
            return re.sub(r"^\s*\w+\(0x[0-9a-fA-F]+\):\s*", "", reason).strip()
    return lines[-1] if lines else "unknown error"


def may_be_2d(path) -> bool:
    """True for a frame file or a folder (of frames, or a single-file DICOM series)."""
    return Path(path).is_dir() or extension(path) in FRAME_EXTENSIONS


def header(image: sitk.Image) -> dict:
    """The file's key/value pairs, without ITK's unprintable internal entries."""
    pairs = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    return {key: value for key, value in pairs.items() if not value.startswith("[UNKNOWN_PRINT")}


def as_3d(image: sitk.Image, path, allow_2d: bool) -> sitk.Image:
    """The image as 3D: a 2D frame becomes one slice (where allowed); 4D and up are refused."""
    size = " x ".join(str(n) for n in image.GetSize())
    if image.GetDimension() == 2:
        if not allow_2d:
            raise UserError(f"is a 2D image ({size}); a 3D volume is needed here", path)
        return sitk.JoinSeries(image)
    if image.GetDimension() > 3:
        raise UserError(f"has {image.GetDimension()} dimensions ({size}); only 3D volumes can be opened", path)
    return image


def geometry_of(image: sitk.Image) -> Geometry:
    """Spacing, origin and direction of the first three axes (a 2D image gets a unit third axis)."""
    dim = image.GetDimension()
    n = min(dim, 3)
    spacing, origin = [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]
    spacing[:n], origin[:n] = image.GetSpacing()[:n], image.GetOrigin()[:n]
    direction = np.eye(3)
    direction[:n, :n] = np.array(image.GetDirection()).reshape(dim, dim)[:n, :n]
    return Geometry(spacing, origin, direction.ravel())


def grey_array(image: sitk.Image, path) -> tuple:
    """The pixels as one grey value each, and notes saying what was converted."""
    array = sitk.GetArrayFromImage(image)
    n = image.GetNumberOfComponentsPerPixel()
    if n == 1:
        return array, []
    if n == 2:  # grey plus alpha
        return array[..., 0].copy(), ["the transparency channel was dropped"]
    if n in (3, 4):
        grey = array[..., :3] @ LUMA
        if np.issubdtype(array.dtype, np.integer):
            grey = np.rint(grey).astype(array.dtype)
        return grey, ["the colour image was converted to grey"]
    raise UserError(f"holds {n} values per voxel; a grey or colour image is needed", path)
