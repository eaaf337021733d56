"""One slice view: the B-mode slice, label overlay, plugin overlays, crosshair and tool footprint.

Only what changed is redrawn: scrolling re-uploads one slice; an edit re-uploads the label slice
only when the edited box crosses it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkFiltersCore import vtkContourFilter
from vtkmodules.vtkImagingCore import vtkImageMapToColors
from vtkmodules.vtkRenderingCore import vtkActor, vtkImageActor, vtkPolyDataMapper, vtkRenderer

from usannotator.core.geometry import ORIENTATION_NAMES, SLICE_AXES, slice_of, voxel_at
from usannotator.gui.tools import SlicePoint
from usannotator.gui.vtk_widget import QVTKRenderWindowInteractor
from usannotator.render.images import label_lookup_table, outline, to_vtk_image

AXIS_COLOURS = {0: (0.95, 0.35, 0.35), 1: (0.35, 0.85, 0.35), 2: (0.4, 0.6, 1.0)}


class _Canvas(QVTKRenderWindowInteractor):
    """The render surface; Qt mouse and wheel events are handled by the SliceView, not VTK's style."""

    def __init__(self, view, parent=None):
        super().__init__(parent)
        self.view = view
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def mousePressEvent(self, e):
        self.view.mouse_press(e)

    def mouseMoveEvent(self, e):
        self.view.mouse_move(e)

    def mouseReleaseEvent(self, e):
        self.view.mouse_release(e)

    def mouseDoubleClickEvent(self, e):
        self.view.mouse_double_click(e)

    def wheelEvent(self, e):
        self.view.wheel(e)

    def keyPressEvent(self, e):
        if not self.view.key_press(e):
            QWidget.keyPressEvent(self, e)

    def keyReleaseEvent(self, e):
        QWidget.keyReleaseEvent(self, e)

    def enterEvent(self, e):
        QWidget.enterEvent(self, e)

    def leaveEvent(self, e):
        self.view.pointer_left()


class SliceView(QWidget):
    hovered = Signal(object)      # SlicePoint under the pointer (or None when it leaves)

    def __init__(self, axis: int, state, host, parent=None):
        super().__init__(parent)
        self.axis = axis
        self.state = state
        self.host = host
        self.document = None
        self.index = 0
        self._drag = None           # (button, start position, start camera / contrast)
        self._tool_active = False
        # Renders that only move the crosshair wait for the event loop and are coalesced, so the
        # view being scrolled shows its new slice first and the others follow once per frame.
        self._render_timer = QTimer(self, singleShot=True, interval=0)
        self._render_timer.timeout.connect(self.render)
        self.label_preview = None   # (region, values): what a gesture in progress would write
        self._build_ui()
        self._build_scene()
        state.cursor_changed.connect(self._on_cursor)
        state.display_changed.connect(self.refresh_display)
        state.overlays_changed.connect(self._sync_overlays)

    # ----- construction -----
    def _build_ui(self):
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        header = QHBoxLayout()
        self.title = QLabel(ORIENTATION_NAMES[self.axis])
        self.slice_label = QLabel("")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Slice (wheel, Up/Down, Page Up/Down)")
        self.slider.valueChanged.connect(self._on_slider)
        header.addWidget(self.title)
        header.addWidget(self.slider, 1)
        header.addWidget(self.slice_label)
        layout.addLayout(header)
        self.canvas = _Canvas(self, self)
        layout.addWidget(self.canvas, 1)

    def _build_scene(self):
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.05, 0.05, 0.07)
        self.canvas.GetRenderWindow().AddRenderer(self.renderer)
        self.canvas.GetRenderWindow().GetInteractor().SetInteractorStyle(None)
        self.image_actor = vtkImageActor()
        self.image_actor.GetProperty().SetInterpolationTypeToNearest()
        self.renderer.AddActor(self.image_actor)
        self.label_colors = vtkImageMapToColors()
        self.label_colors.SetOutputFormatToRGBA()
        self.label_actor = vtkImageActor()
        self.label_actor.GetProperty().SetInterpolationTypeToNearest()
        self.label_actor.SetPosition(0, 0, -0.1)   # the camera looks along +z: smaller z is in front
        self.renderer.AddActor(self.label_actor)
        self.overlay_actors = {}                     # overlay -> (actor, colour mapper)
        self.contour_actors = {}                     # overlay -> (line actor, iso-line filter)
        self.cross_actor, self.cross_points = self._line_actor(2, (1, 1, 0))
        self.footprint_actor, self.footprint_points = self._line_actor(1, (1, 1, 1), closed_ring=48)
        self.footprint_actor.VisibilityOff()
        self._image_data = None
        self._label_data = None

    def _line_actor(self, n_lines, colour, closed_ring=0):
        points = vtkPoints()
        cells = vtkCellArray()
        if closed_ring:
            points.SetNumberOfPoints(closed_ring)
            cells.InsertNextCell(closed_ring + 1)
            for i in range(closed_ring + 1):
                cells.InsertCellPoint(i % closed_ring)
        else:
            points.SetNumberOfPoints(2 * n_lines)
            for i in range(n_lines):
                cells.InsertNextCell(2)
                cells.InsertCellPoint(2 * i)
                cells.InsertCellPoint(2 * i + 1)
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(cells)
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(poly)
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*colour)
        actor.GetProperty().SetLineWidth(1.5)
        actor.PickableOff()
        self.renderer.AddActor(actor)
        return actor, points

    # ----- document -----
    def set_document(self, document):
        self.document = document
        if document is None:
            return
        n = document.volume.shape[self.axis]
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.blockSignals(False)
        self.index = self.state.cursor[self.axis]
        document.labels_changed.connect(self._on_labels_changed)
        document.label_table.changed.connect(self._on_table_changed)
        self._label_lut = label_lookup_table(document.label_table, self.state.label_opacity)
        self.label_colors.SetLookupTable(self._label_lut)
        self.redraw_all()
        self.reset_camera()

    @property
    def spacing_rc(self):
        sz_sy_sx = self.document.volume.geometry.spacing_zyx
        row_axis, col_axis = SLICE_AXES[self.axis]
        return sz_sy_sx[row_axis], sz_sy_sx[col_axis]

    def slice_shape(self):
        row_axis, col_axis = SLICE_AXES[self.axis]
        shape = self.document.volume.shape
        return shape[row_axis], shape[col_axis]

    # ----- drawing -----
    def redraw_all(self):
        if self.document is None:
            return
        self._upload_image()
        self._upload_labels()
        self._upload_overlays()
        self._place_crosshair()
        self._update_slice_label()
        self.render()

    def refresh_display(self):
        if self.document is None:
            return
        prop = self.image_actor.GetProperty()
        prop.SetColorWindow(self.state.window)
        prop.SetColorLevel(self.state.level)
        label_lookup_table(self.document.label_table, self.state.label_opacity, self._label_lut)
        self._upload_labels()
        self._upload_overlays()
        self.render()

    def _upload_image(self):
        sl = slice_of(self.document.volume.array, self.axis, self.index)
        self._image_data = to_vtk_image(sl, self.spacing_rc, self._image_data)
        self.image_actor.SetInputData(self._image_data)
        prop = self.image_actor.GetProperty()
        prop.SetColorWindow(self.state.window)
        prop.SetColorLevel(self.state.level)

    def _upload_labels(self):
        sl = self._label_slice()
        if self.state.outline:
            sl = outline(sl)
        self._label_data = to_vtk_image(sl, self.spacing_rc, self._label_data)
        self.label_colors.SetInputData(self._label_data)
        self.label_colors.Update()
        self.label_actor.SetInputData(self.label_colors.GetOutput())

    def _label_slice(self) -> np.ndarray:
        """The labels of the shown slice, with the preview of a gesture in progress drawn in."""
        sl = slice_of(self.document.labels, self.axis, self.index)
        if self.label_preview is None or not self.shows(self.label_preview[0]):
            return sl
        region, values = self.label_preview
        row_axis, col_axis = SLICE_AXES[self.axis]
        sl = sl.copy()
        sl[region[row_axis], region[col_axis]] = slice_of(values, self.axis, self.index - region[self.axis].start)
        return sl

    def set_label_preview(self, preview, changed=None) -> None:
        """Draw `preview` = (region, values), labels a tool is about to write, over the document's until
        it is set to None. A tool shows a stroke this way and applies ONE edit when it ends. Redraws
        only when `changed` (the box that differs from the last preview) crosses this slice."""
        before, self.label_preview = self.label_preview, preview
        if changed is None and (preview or before) is not None:
            changed = (preview or before)[0]
        if self.document is not None and changed is not None and self.shows(changed):
            self._upload_labels()
            if self._tool_active:      # the view being painted shows the dab at once
                self.render()
            else:                      # the others follow once per frame
                self.render_soon()

    def shows(self, region) -> bool:
        """Whether a (z, y, x) box crosses the slice this view shows."""
        return region[self.axis].start <= self.index < region[self.axis].stop

    def _sync_overlays(self):
        if self.document is None:
            return
        for overlay in list(self.overlay_actors):
            if overlay not in self.state.overlays:
                actor, _ = self.overlay_actors.pop(overlay)
                self.renderer.RemoveActor(actor)
                self.renderer.RemoveActor(self.contour_actors.pop(overlay)[0])
                overlay.changed.disconnect(self._on_overlay_changed)   # a removed overlay redraws nothing here
        for overlay in self.state.overlays:
            if overlay not in self.overlay_actors:
                actor = vtkImageActor()
                actor.GetProperty().SetInterpolationTypeToNearest()
                # heat maps sit behind the label colours; outline-like maps (above_labels) in front
                actor.SetPosition(0, 0, -0.15 if overlay.above_labels else -0.05)
                colours = vtkImageMapToColors()
                colours.SetOutputFormatToRGBA()
                self.overlay_actors[overlay] = (actor, colours)
                self.renderer.AddActor(actor)
                self.contour_actors[overlay] = self._contour_actor()
                overlay.changed.connect(self._on_overlay_changed)
        self._upload_overlays()
        self.render()

    def _on_overlay_changed(self):
        self._upload_overlays()
        self.render()

    def _upload_overlays(self):
        for overlay, (actor, colours) in self.overlay_actors.items():
            sl = overlay.slice(self.axis, self.index) if overlay.visible else None
            self._upload_contour(overlay, sl)
            if sl is None:
                actor.VisibilityOff()
                continue
            sl = np.asarray(sl, dtype=np.float32)
            table = overlay.lookup_table()
            table.SetNanColor(0.0, 0.0, 0.0, 0.0)    # NaN: not computed yet, so nothing to show
            colours.SetLookupTable(table)
            # translucent layers are blended order-independently (VTK's OIT), which mixes even alpha-1
            # colours with the labels beneath; a fully opaque overlay goes to the opaque pass instead,
            # where its colours stay exact and its fully transparent pixels are discarded
            actor.SetForceOpaque(overlay.opacity >= 1.0)
            colours.SetInputData(to_vtk_image(sl, self.spacing_rc))
            colours.Update()
            actor.SetInputData(colours.GetOutput())
            actor.VisibilityOn()

    def _contour_actor(self):
        iso = vtkContourFilter()
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(iso.GetOutputPort())
        mapper.ScalarVisibilityOff()
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetLineWidth(2.0)
        actor.SetPosition(0, 0, -0.18)    # in front of the labels and category maps, behind the crosshair
        actor.PickableOff()
        actor.VisibilityOff()
        self.renderer.AddActor(actor)
        return actor, iso

    def _upload_contour(self, overlay, sl):
        """The overlay's iso-line at `overlay.contour` on this slice (e.g. the edge of the area that
        "show only below" leaves coloured), sub-pixel, as a line rather than a band of pixels."""
        actor, iso = self.contour_actors[overlay]
        level = getattr(overlay, "contour", None)
        if sl is None or level is None:
            actor.VisibilityOff()
            return
        # not computed (NaN) counts as the top of the range: no line of its own inside it
        values = np.nan_to_num(np.asarray(sl, dtype=np.float32), nan=overlay.value_range[1])
        iso.SetInputData(to_vtk_image(values, self.spacing_rc))
        iso.SetValue(0, float(level))
        iso.Update()
        actor.GetProperty().SetColor(*overlay.contour_colour)
        actor.VisibilityOn()

    def _place_crosshair(self):
        row_axis, col_axis = SLICE_AXES[self.axis]
        rows, cols = self.slice_shape()
        sr, sc = self.spacing_rc
        r = self.state.cursor[row_axis] * sr
        c = self.state.cursor[col_axis] * sc
        z = -0.2
        pts = self.cross_points
        pts.SetPoint(0, -0.5 * sc, r, z)
        pts.SetPoint(1, (cols - 0.5) * sc, r, z)
        pts.SetPoint(2, c, -0.5 * sr, z)
        pts.SetPoint(3, c, (rows - 0.5) * sr, z)
        pts.Modified()
        self.cross_actor.GetProperty().SetColor(*AXIS_COLOURS[self.axis])

    def _update_slice_label(self):
        n = self.document.volume.shape[self.axis]
        self.slice_label.setText(f"{self.index + 1} / {n}")
        self.slider.blockSignals(True)
        self.slider.setValue(self.index)
        self.slider.blockSignals(False)

    def render(self):
        self._render_timer.stop()
        self.canvas.GetRenderWindow().Render()

    def render_soon(self):
        """Render once control returns to the event loop (several requests, one render)."""
        self._render_timer.start()

    def reset_camera(self):
        rows, cols = self.slice_shape()
        sr, sc = self.spacing_rc
        cx, cy = (cols - 1) * sc / 2, (rows - 1) * sr / 2
        cam = self.renderer.GetActiveCamera()
        cam.ParallelProjectionOn()
        cam.SetFocalPoint(cx, cy, 0)
        cam.SetPosition(cx, cy, -1000)     # looking along +z with rows running down the screen
        cam.SetViewUp(0, -1, 0)
        w, h = max(self.canvas.width(), 1), max(self.canvas.height(), 1)
        half_h, half_w = rows * sr / 2, cols * sc / 2
        cam.SetParallelScale(max(half_h, half_w * h / w) * 1.05)
        self.renderer.ResetCameraClippingRange()
        self.render()

    # ----- reacting to the model -----
    def _on_cursor(self, cursor):
        if self.document is None:
            return
        self._place_crosshair()
        if cursor[self.axis] != self.index:
            self.index = cursor[self.axis]
            self._upload_image()
            self._upload_labels()
            self._upload_overlays()
            self._update_slice_label()
            self.render()
        else:
            self.render_soon()

    def _on_labels_changed(self, region):
        if region is None or self.shows(region):
            self._upload_labels()
            self.render()

    def _on_table_changed(self, _value=None):
        label_lookup_table(self.document.label_table, self.state.label_opacity, self._label_lut)
        self.label_colors.Modified()
        self._upload_labels()
        self.render()

    def _on_slider(self, value):
        voxel = list(self.state.cursor)
        voxel[self.axis] = value
        self.state.set_cursor(voxel)

    # ----- pointer -----
    def point_at(self, pos: QPointF, buttons=Qt.MouseButton.NoButton, modifiers=Qt.KeyboardModifier.NoModifier):
        """The SlicePoint under a widget position (Qt logical pixels)."""
        ratio = self.canvas.devicePixelRatioF()
        x = pos.x() * ratio
        y = (self.canvas.height() - pos.y()) * ratio
        self.renderer.SetDisplayPoint(x, y, 0)
        self.renderer.DisplayToWorld()
        wx, wy, _, w = self.renderer.GetWorldPoint()
        if w:
            wx, wy = wx / w, wy / w
        sr, sc = self.spacing_rc
        row, col = wy / sr, wx / sc
        rows, cols = self.slice_shape()
        inside = -0.5 <= row < rows - 0.5 and -0.5 <= col < cols - 0.5
        r = int(min(max(round(row), 0), rows - 1))
        c = int(min(max(round(col), 0), cols - 1))
        return SlicePoint(self.axis, self.index, row, col, voxel_at(self.axis, self.index, r, c),
                          inside, buttons, modifiers)

    def mouse_press(self, e):
        if self.document is None:
            return
        self.canvas.setFocus()
        point = self.point_at(e.position(), e.buttons(), e.modifiers())
        button = e.button()
        if button == Qt.MouseButton.LeftButton and not (e.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self._tool_active = True
            self.host.active_tool.press(self, point)
        else:
            cam = self.renderer.GetActiveCamera()
            self._drag = (button, e.position(), cam.GetFocalPoint(), cam.GetParallelScale(),
                          (self.state.window, self.state.level), e.modifiers())

    def mouse_move(self, e):
        if self.document is None:
            return
        point = self.point_at(e.position(), e.buttons(), e.modifiers())
        self._show_footprint(point)
        self.hovered.emit(point)
        if self._tool_active:
            self.host.active_tool.drag(self, point)
        elif self._drag is not None:
            self._navigate_drag(e)

    def mouse_double_click(self, e):
        """Tools that end a shape on a double click (polygon) get it; for the others it is a press."""
        tool = self.host.active_tool
        if self.document is None or e.button() != Qt.MouseButton.LeftButton or not hasattr(tool, "double_click"):
            self.mouse_press(e)
            return
        tool.double_click(self, self.point_at(e.position(), e.buttons(), e.modifiers()))

    def mouse_release(self, e):
        if self.document is None:
            return
        if self._tool_active and e.button() == Qt.MouseButton.LeftButton:
            self._tool_active = False
            self.host.active_tool.release(self, self.point_at(e.position(), e.buttons(), e.modifiers()))
        self._drag = None

    def _navigate_drag(self, e):
        button, start, focal, scale, (window, level), mods = self._drag
        dx = e.position().x() - start.x()
        dy = e.position().y() - start.y()
        cam = self.renderer.GetActiveCamera()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton):
            # pan: the image follows the pointer (Shift+left or middle button)
            per_pixel = 2 * scale / max(self.canvas.height(), 1)
            fx, fy = focal[0] - dx * per_pixel, focal[1] - dy * per_pixel
            cam.SetFocalPoint(fx, fy, 0)
            cam.SetPosition(fx, fy, -1000)
        elif button == Qt.MouseButton.RightButton and mods & Qt.KeyboardModifier.ControlModifier:
            cam.SetParallelScale(max(scale * (1.01 ** dy), 1e-3))    # Ctrl+right drag: zoom
        elif button == Qt.MouseButton.RightButton:
            # window/level as in most viewers: horizontal = window, vertical = level
            self.state.set_contrast(window * (1.005 ** dx), level - dy * window / 400)
            return
        self.render()

    def wheel(self, e):
        if self.document is None:
            return
        steps = e.angleDelta().y() / 120 or e.angleDelta().x() / 120
        if e.modifiers() & Qt.KeyboardModifier.ControlModifier:
            cam = self.renderer.GetActiveCamera()
            cam.SetParallelScale(cam.GetParallelScale() * (0.9 ** steps))
            self.render()
        elif hasattr(self.host.active_tool, "wheel") and e.modifiers() & Qt.KeyboardModifier.AltModifier:
            self.host.active_tool.wheel(steps)
            self._show_footprint(self.point_at(e.position()))
        else:
            self.state.move_slice(self.axis, int(np.sign(steps)) * max(1, int(abs(steps))))

    def key_press(self, e) -> bool:
        if self.document is None:
            return False
        step = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: 10, Qt.Key.Key_PageDown: -10}.get(e.key())
        if step is None:   # other keys go to the active tool (Enter closes a polygon, Esc cancels it)
            key = getattr(self.host.active_tool, "key", None)
            return bool(key and key(self, e.key()))
        self.state.move_slice(self.axis, step)
        return True

    def pointer_left(self):
        self.hovered.emit(None)
        if self.document is not None and self.footprint_actor.GetVisibility():
            self.footprint_actor.VisibilityOff()
            self.render_soon()

    def _show_footprint(self, point):
        radius = self.host.active_tool.cursor_radius()
        if radius is None or not point.inside:
            if self.footprint_actor.GetVisibility():
                self.footprint_actor.VisibilityOff()
                self.render()
            return
        sr, sc = self.spacing_rc
        n = self.footprint_points.GetNumberOfPoints()
        for i in range(n):
            t = 2 * np.pi * i / n
            self.footprint_points.SetPoint(i, (point.col + (radius + 0.5) * np.cos(t)) * sc,
                                           (point.row + (radius + 0.5) * np.sin(t)) * sr, -0.3)
        self.footprint_points.Modified()
        self.footprint_actor.VisibilityOn()
        self.render_soon()   # while painting, the dab's render shows it too: one render per mouse move

    def close_view(self):
        self._render_timer.stop()
        self.canvas.Finalize()
