"""File names and safe writing: every writer goes through `atomic_output`, so no command ever
leaves a partial file where the user expects a finished one."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from usannotator.core.errors import UserError

# Extensions made of two suffixes; checked before the plain last suffix.
DOUBLE_EXTENSIONS = (".seg.nrrd", ".nii.gz", ".igs.mha", ".igs.nrrd", ".usa.json")
FULL_BELOW_BYTES = 1024 ** 2


def extension(path) -> str:
    """The file's format extension in lower case, e.g. '.nii.gz', '.seg.nrrd', '.mha'."""
    name = Path(path).name.lower()
    for ext in DOUBLE_EXTENSIONS:
        if name.endswith(ext) and name != ext:
            return ext
    return Path(name).suffix


def stem(path) -> str:
    """The file name without its format extension: 'leg.seg.nrrd' -> 'leg'."""
    name = Path(path).name
    return name[: len(name) - len(extension(path))]


def natural_key(path) -> list:
    """Sort key that puts frame2 before frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", Path(path).name)]


@contextmanager
def atomic_output(path):
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    The temporary name keeps the extension (e.g. '.leg.tmp-1a2b3c4d.nii.gz') so that SimpleITK
    picks the same format. On any failure the temporary file is removed and `path` is untouched.
    Permission problems, a missing folder or a full disk become a UserError naming the file.
    """
    path = Path(path)
    tmp = path.with_name(f".{stem(path)}.tmp-{secrets.token_hex(4)}{extension(path)}")
    try:
        # Create it now, so that an unwritable folder fails here with a clear reason.
        with open(tmp, "xb"):
            pass
        yield str(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"could not be written: {_why(exc, path)}", path) from exc
    finally:
        if tmp.exists():  # False after a successful replace, or when it was never created
            tmp.unlink()


def disk_is_full(folder) -> bool:
    """Whether a write that failed without saying why (numpy, ITK) most likely ran out of space.

    Called before the partial temporary file is removed, so a full disk still reads as full.
    """
    try:
        return shutil.disk_usage(folder).free < FULL_BELOW_BYTES
    except OSError:
        return False


def _why(exc: OSError, path: Path) -> str:
    folder = path.parent
    if exc.errno == errno.ENOSPC or (exc.errno is None and disk_is_full(folder)):
        return f"the disk holding {folder} is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write in {folder}"
    if exc.errno == errno.ENOTDIR:
        return f"{_first_file_in(folder)} is a file, not a folder"
    if exc.errno == errno.ENOENT:
        return f"the folder {folder} does not exist"
    if exc.errno == errno.EISDIR:
        return "a folder of that name is in the way"
    return exc.strerror or str(exc)


def _first_file_in(folder: Path) -> Path:
    """The ancestor that is a regular file (why a path cannot be a folder)."""
    for parent in [folder, *folder.parents]:
        if parent.is_file():
            return parent
    return folder


# Per system: (environment variable that wins everywhere, Windows, macOS, other) for each kind.
_USER_FOLDERS = {
    "cache": ("XDG_CACHE_HOME", "Library/Caches", ".cache"),
    "data": ("XDG_DATA_HOME", "Library/Application Support", ".local/share"),
}


def user_folder(kind: str, *parts: str) -> Path:
    """The per-user folder for caches ("cache") or application data ("data"), below `usannotator`:
    $XDG_CACHE_HOME / $XDG_DATA_HOME when set (on every system), else the system's usual place."""
    variable, mac, other = _USER_FOLDERS[kind]
    if os.environ.get(variable):
        base = Path(os.environ[variable])
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / mac
    else:
        base = Path.home() / other
    return base.joinpath("usannotator", *parts)

