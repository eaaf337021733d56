"""Small widgets every dock uses, so plugins look and behave alike."""

from PySide6.QtWidgets import QLabel


def note(parent, text: str = "") -> QLabel:
    """A wrapped explanatory line under a dock's controls."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    return label


def combo(parent, items, tip: str, item_tips: dict | None = None):
    """A drop-down of `items` with a tooltip, and optionally one tooltip per item."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QComboBox

    box = QComboBox(parent)
    for item in items:
        box.addItem(item)
        if item_tips:
            box.setItemData(box.count() - 1, item_tips[item], Qt.ItemDataRole.ToolTipRole)
    box.setToolTip(tip)
    return box


def number(parent, lo: float, hi: float, decimals: int, step: float, value: float, tip: str):
    """A decimal spin box for a method parameter, with its tooltip."""
    from PySide6.QtWidgets import QDoubleSpinBox

    box = QDoubleSpinBox(parent, decimals=decimals, minimum=lo, maximum=hi, singleStep=step, value=value)
    box.setToolTip(tip)
    return box
