"""Dialogs: errors with expandable details, the plugin report, About."""

from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QMessageBox, QPlainTextEdit,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from usannotator import __version__


def show_error(parent, title: str, message: str, details: str = "") -> QMessageBox:
    """A clear message, the technical details one click away (never a bare traceback)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setObjectName("errorDialog")
    box.open()
    return box


class PluginsDialog(QDialog):
    def __init__(self, records, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.resize(720, 320)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(records), 4, self)
        self.table.setHorizontalHeaderLabels(["Plugin", "State", "Source", "Error"])
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for row, r in enumerate(records):
            for col, text in enumerate((r.plugin.title if r.plugin else r.name, r.state, r.source, r.error)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.currentCellChanged.connect(lambda row, *_: self._show_details(records, row))
        layout.addWidget(self.table)
        self.details = QPlainTextEdit(self, readOnly=True)
        self.details.setPlaceholderText("Select a plugin that failed to see the details.")
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _show_details(self, records, row):
        if 0 <= row < len(records):
            self.details.setPlainText(records[row].details or records[row].error or "Loaded without errors.")


def show_about(parent) -> None:
    QMessageBox.about(parent, "About usannotator",
                      f"<b>usannotator {__version__}</b><br>3D ultrasound annotation of lower-leg muscles "
                      "(GM, GL, SOL): sparse annotation, interpolation, confidence maps, IFSS-Net "
                      "propagation and border analysis.<br>Apache-2.0.")
