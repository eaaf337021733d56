"""Qt-free files layer: volumes, frames, label maps (incl. 3D Slicer .seg.nrrd), PLUS sequences,
float maps and sessions. Every writer writes aside and renames (`atomic_output`); every problem a
user can fix is raised as a UserError naming the file."""

from usannotator.io.describe import describe_file
from usannotator.io.files import atomic_output
from usannotator.io.images import write_image
from usannotator.io.journal import (Journal, RecoveryError, RecoveryPendingError, discard_recovery, find_recovery,
                                    list_recoveries, recover, recovery_dir)
from usannotator.io.labels import read_labels, write_labels
from usannotator.io.session import open_session, save_session
from usannotator.io.volumes import read_frame, read_volume

__all__ = [
    "read_volume", "read_frame", "read_labels", "write_labels", "write_image", "atomic_output",
    "save_session", "open_session", "describe_file",
    "Journal", "find_recovery", "list_recoveries", "recover", "discard_recovery", "recovery_dir",
    "RecoveryPendingError", "RecoveryError",
]
