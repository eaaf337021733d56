"""Qt-free data model: volumes, label maps, label tables, provenance, the document and its edits."""

from usannotator.core.geometry import Geometry
from usannotator.core.volume import Volume
from usannotator.core.labels import Label, LabelTable
from usannotator.core.provenance import Provenance, Source
from usannotator.core.edits import Edit, OverwriteRule, LockedLabelError
from usannotator.core.document import Document

__all__ = [
    "Geometry", "Volume", "Label", "LabelTable", "Provenance", "Source",
    "Edit", "OverwriteRule", "LockedLabelError", "Document",
]
