"""Viewer tools: what a mouse gesture on a slice view does. Plugins add tools through the host."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt


@dataclass
class SlicePoint:
    """Where the mouse is on a slice view: the view's axis and slice, the pixel and the voxel."""

    axis: int
    index: int
    row: float
    col: float
    voxel: tuple          # (z, y, x), clipped to the volume
    inside: bool          # False when the pointer is outside the image
    buttons: Qt.MouseButton = Qt.MouseButton.NoButton
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier


class SliceTool:
    """Base class. The left mouse button goes to the active tool; wheel, middle and right buttons
    keep their navigation roles (scroll, pan, zoom / window-level) whatever tool is active."""

    name = "tool"
    title = "Tool"
    icon = "fa5s.mouse-pointer"
    tooltip = ""
    shortcut = ""

    def press(self, view, point: SlicePoint) -> None: ...

    def drag(self, view, point: SlicePoint) -> None: ...

    def release(self, view, point: SlicePoint) -> None: ...

    def cursor_radius(self) -> float | None:
        """Footprint radius in voxels drawn around the pointer (brushes); None for no footprint."""
        return None

    def activated(self) -> None: ...

    def deactivated(self) -> None: ...


class NavigateTool(SliceTool):
    """Click or drag to move the crosshair; every linked view follows."""

    name = "navigate"
    title = "Navigate"
    icon = "fa5s.crosshairs"
    tooltip = "Navigate: click or drag to move the crosshair (N)"
    shortcut = "N"

    def __init__(self, state):
        self.state = state

    def press(self, view, point):
        if point.inside:
            self.state.set_cursor(point.voxel)

    drag = press
