"""Opening ultrasound volumes and single frames."""

from __future__ import annotations

from pathlib import Path

from usannotator.core.errors import UserError
from usannotator.core.volume import Volume
from usannotator.io.files import stem
from usannotator.io.plus import is_plus_sequence, plus_metadata
from usannotator.io.reading import as_3d, geometry_of, grey_array, header, may_be_2d, read_image


def read_volume(path, sweep_axis: int = 0) -> Volume:
    """A 3D volume from a file or folder (see `reading`), a PNG frame as a one-slice volume, or a
    PLUS sequence with its tracking in `metadata`.

    metadata holds: header (the file's key/value pairs), notes (what was converted, for the GUI to
    say), converted_to_grey (True when colour was turned into grey), and for PLUS sequences
    tracking, tracking_status, timestamps and frame_fields (see `plus.plus_metadata`).
    """
    if sweep_axis not in (0, 1, 2):
        raise UserError(f"the sweep axis must be 0, 1 or 2, not {sweep_axis}")
    image = as_3d(read_image(path), path, allow_2d=may_be_2d(path))
    array, notes = grey_array(image, path)
    metadata = {"header": header(image)}
    if is_plus_sequence(metadata["header"]):
        metadata.update(plus_metadata(metadata["header"], array.shape[0]))
        notes += metadata.pop("notes")
    if image.GetNumberOfComponentsPerPixel() in (3, 4):
        metadata["converted_to_grey"] = True
    metadata["notes"] = notes
    # Inside a slice, depth runs along its rows: the first of the two axes that are not the sweep.
    depth_axis = 1 if sweep_axis == 0 else 0
    return Volume(array, geometry_of(image), sweep_axis, depth_axis, name=stem(path),
                  path=str(Path(path)), metadata=metadata)


def read_frame(path) -> tuple:
    """One 2D frame (rows = depth, columns = lateral) and notes on what was converted.

    Accepts a 2D image (PNG or any 2D file) or a volume holding exactly one frame.
    """
    image = as_3d(read_image(path), path, allow_2d=True)
    array, notes = grey_array(image, path)
    if array.shape[0] != 1:
        raise UserError(f"holds {array.shape[0]} frames; a single 2D frame is needed here", path)
    return array[0], notes
