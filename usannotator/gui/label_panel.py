"""The label panel: add, rename, recolour, show/hide and lock labels; pick the active label."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QColorDialog, QHBoxLayout, QHeaderView, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from usannotator.gui.icons import icon

COL_COLOUR, COL_NAME, COL_VISIBLE, COL_LOCKED, COL_VALUE = range(5)


class LabelPanel(QWidget):
    active_label_changed = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table_model = None
        self.active_label = 1
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 5, self)
        self.table.setHorizontalHeaderLabels(["", "Name", "Show", "Lock", "Value"])
        self.table.horizontalHeader().setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setToolTip("Select the active label (or press its number). Double-click the name to "
                              "rename, the colour to recolour. Locked labels are never changed.")
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        self.table.currentCellChanged.connect(self._on_current)
        layout.addWidget(self.table)
        buttons = QHBoxLayout()
        add = QPushButton(icon("add"), "Add label")
        add.setToolTip("Add a new label with the next free value")
        add.clicked.connect(self.add_label)
        buttons.addWidget(add)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def set_label_table(self, table):
        self.table_model = table
        table.changed.connect(lambda *_: self.refresh())
        self.refresh()

    def refresh(self):
        if self.table_model is None:
            return
        self.table.blockSignals(True)
        labels = list(self.table_model)
        self.table.setRowCount(len(labels))
        for row, label in enumerate(labels):
            swatch = QTableWidgetItem()
            swatch.setBackground(QColor(*label.color))
            swatch.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            swatch.setToolTip("Double-click to change the colour")
            name = QTableWidgetItem(label.name)
            visible = QTableWidgetItem()
            visible.setCheckState(Qt.CheckState.Checked if label.visible else Qt.CheckState.Unchecked)
            visible.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
            locked = QTableWidgetItem(icon("lock") if label.locked else icon(""), "")
            locked.setCheckState(Qt.CheckState.Checked if label.locked else Qt.CheckState.Unchecked)
            locked.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
            value = QTableWidgetItem(str(label.value))
            value.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            for col, item in enumerate((swatch, name, visible, locked, value)):
                item.setData(Qt.ItemDataRole.UserRole, label.value)
                self.table.setItem(row, col, item)
            if label.value == self.active_label:
                self.table.selectRow(row)
        self.table.resizeColumnToContents(COL_VISIBLE)
        self.table.resizeColumnToContents(COL_LOCKED)
        self.table.setColumnWidth(COL_COLOUR, 24)
        self.table.blockSignals(False)

    def _on_item_changed(self, item):
        value = item.data(Qt.ItemDataRole.UserRole)
        col = item.column()
        if col == COL_NAME and item.text().strip():
            self.table_model.update(value, name=item.text().strip())
        elif col == COL_VISIBLE:
            self.table_model.update(value, visible=item.checkState() == Qt.CheckState.Checked)
        elif col == COL_LOCKED:
            self.table_model.update(value, locked=item.checkState() == Qt.CheckState.Checked)

    def _on_double_click(self, row, col):
        if col != COL_COLOUR:
            return
        value = self.table.item(row, col).data(Qt.ItemDataRole.UserRole)
        current = QColor(*self.table_model[value].color)
        colour = QColorDialog.getColor(current, self, "Label colour")
        if colour.isValid():
            self.table_model.update(value, color=(colour.red(), colour.green(), colour.blue()))

    def _on_current(self, row, *_):
        item = self.table.item(row, COL_VALUE)
        if item is not None:
            self.set_active_label(int(item.text()))

    def set_active_label(self, value: int):
        if self.table_model is not None and value in self.table_model and value != self.active_label:
            self.active_label = value
            self.refresh()
            self.active_label_changed.emit(value)

    def add_label(self):
        if self.table_model is not None:
            label = self.table_model.add()
            self.set_active_label(label.value)
