"""Small widgets every dock uses, so plugins look and behave alike."""

from PySide6.QtWidgets import QLabel


def note(parent, text: str = "") -> QLabel:
    """A wrapped explanatory line under a dock's controls."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    return label
