"""Sessions: `NAME.usa.json` points at the image and holds everything needed to carry on working.

The labels live beside it as `NAME.labels.nii.gz`. The JSON holds:
  format, version           "usannotator-session", 1
  image                     {"relative": path from the session's folder, "absolute": path,
                             "shape": numpy shape, "geometry": Geometry.to_dict()}
  labels                    the label file's name, relative to the session's folder
  label_table               LabelTable.to_list()
  provenance                Provenance.to_dict()
  sweep_axis, depth_axis    numpy axes
  view                      the view settings given to save_session, as given
The source image is never written. A volume that came from no file (e.g. a generated phantom) is
saved once beside the session as `NAME.image.nrrd`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from usannotator.core.document import Document
from usannotator.core.errors import UserError
from usannotator.core.geometry import Geometry
from usannotator.core.labels import LabelTable
from usannotator.core.provenance import Provenance
from usannotator.io.files import atomic_output, extension, stem
from usannotator.io.images import image_from_array, write_sitk
from usannotator.io.labels import read_labels, write_labels
from usannotator.io.volumes import read_volume

FORMAT = "usannotator-session"
VERSION = 1


def session_files(path) -> tuple:
    """(session, labels, image-if-none) paths: `NAME.usa.json`, `NAME.labels.nii.gz`, `NAME.image.nrrd`."""
    path = Path(path)
    name = stem(path) if extension(path) == ".usa.json" else path.name
    return path, path.with_name(f"{name}.labels.nii.gz"), path.with_name(f"{name}.image.nrrd")


def save_session(path, document: Document, view: dict | None = None) -> None:
    """Save labels (first), then the session JSON, each atomically.

    Sets document.session_path, clears document.modified, and gives an in-memory volume the path
    of its saved copy.
    """
    path, labels_path, image_copy = session_files(path)
    volume = document.volume
    source = Path(volume.path).resolve() if volume.path else image_copy.resolve()
    if source in (labels_path.resolve(), path.resolve()):
        raise UserError(f"saving here would overwrite the image {source}", path)
    text = json.dumps({
        "format": FORMAT,
        "version": VERSION,
        "image": {
            "relative": _relative(source, path.resolve().parent),
            "absolute": str(source),
            "shape": list(volume.shape),
            "geometry": volume.geometry.to_dict(),
        },
        "labels": labels_path.name,
        "label_table": document.label_table.to_list(),
        "provenance": document.provenance.to_dict(),
        "sweep_axis": volume.sweep_axis,
        "depth_axis": volume.depth_axis,
        "view": view or {},
    }, indent=2)
    if volume.path is None:
        write_sitk(image_from_array(volume.array, volume.geometry), image_copy, compress=True)
        volume.path = str(image_copy)
    write_labels(labels_path, document.labels, volume.geometry, document.label_table)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    document.session_path = str(path)
    document.modified = False


def _relative(target: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(target, folder)).as_posix()  # readable on every system
    except ValueError:  # Windows: another drive has no relative path
        return str(target)


def open_session(path) -> tuple:
    """(Document, view settings) from a session file; the labels must still fit the image."""
    path = Path(path)
    session = _read_json(path)
    volume = read_volume(_image_path(session, path), session.get("sweep_axis", 0))
    volume.depth_axis = session.get("depth_axis", volume.depth_axis)
    if list(volume.shape) != session["image"]["shape"]:
        raise UserError(f"the image {volume.path} has changed: it now has shape {volume.shape}, "
                        f"the session was made with {tuple(session['image']['shape'])}", path)
    saved = Geometry.from_dict(session["image"]["geometry"])
    if not saved.matches(volume.geometry):
        raise UserError(f"the image {volume.path} has changed: {saved.describe_mismatch(volume.geometry)}", path)
    labels, _, _ = read_labels(path.parent / session["labels"], like=volume)
    document = Document(volume, labels, LabelTable.from_list(session["label_table"]),
                        Provenance.from_dict(volume.n_slices, session["provenance"]))
    document.session_path = str(path)
    return document, session.get("view", {})


def _read_json(path: Path) -> dict:
    try:
        session = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError("no such session file", path) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"is not a readable session file ({exc})", path) from exc
    if not isinstance(session, dict) or session.get("format") != FORMAT:
        raise UserError("is not a usannotator session file", path)
    if session.get("version", 0) > VERSION:
        raise UserError(f"was saved by a newer usannotator (session version {session['version']})", path)
    missing = [key for key in ("image", "labels", "label_table", "provenance") if key not in session]
    if missing:
        raise UserError(f"is damaged: it lacks {', '.join(missing)}", path)
    return session


def _image_path(session: dict, path: Path) -> Path:
    """The image next to the session if the two moved together, else where it was."""
    relative = (path.parent / session["image"]["relative"]).resolve()
    absolute = Path(session["image"]["absolute"])
    for candidate in (relative, absolute):
        if candidate.exists():
            return candidate
    raise UserError(f"the image {absolute} is missing (also looked for {relative})", path)
