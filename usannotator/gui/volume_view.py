"""The 3D view: one smooth surface per visible label and the three slice planes at the cursor.

Surfaces are rebuilt after edits with a short delay, so painting stays fluid.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.vtkFiltersSources import vtkPlaneSource
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer

from usannotator.gui.slice_view import AXIS_COLOURS
from usannotator.gui.vtk_widget import QVTKRenderWindowInteractor
from usannotator.render.surfaces import label_surface


class VolumeView(QWidget):
    REBUILD_DELAY_MS = 400

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.document = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.canvas = QVTKRenderWindowInteractor(self)
        layout.addWidget(self.canvas)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.08, 0.08, 0.1)
        self.canvas.GetRenderWindow().AddRenderer(self.renderer)
        self.canvas.GetRenderWindow().GetInteractor().SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.surface_actors = {}
        self.planes = {axis: self._plane(axis) for axis in range(3)}
        self._rebuild_timer = QTimer(self, singleShot=True, interval=self.REBUILD_DELAY_MS)
        self._rebuild_timer.timeout.connect(self.rebuild_surfaces)
        # the slice planes follow the cursor at most ~30 times a second: scrolling stays fluid
        self._render_timer = QTimer(self, singleShot=True, interval=30)
        self._render_timer.timeout.connect(self.render)
        state.cursor_changed.connect(self._move_planes)

    def _plane(self, axis):
        source = vtkPlaneSource()
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(source.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetRepresentationToWireframe()
        actor.GetProperty().SetColor(*AXIS_COLOURS[axis])
        actor.GetProperty().SetLineWidth(2)
        self.renderer.AddActor(actor)
        return source

    def set_document(self, document):
        self.document = document
        for actor in self.surface_actors.values():
            self.renderer.RemoveActor(actor)
        self.surface_actors.clear()
        document.labels_changed.connect(self._schedule)
        document.label_table.changed.connect(self._schedule)
        self.rebuild_surfaces()
        self._move_planes(self.state.cursor)
        self.renderer.ResetCamera()
        cam = self.renderer.GetActiveCamera()
        cam.Elevation(-60)
        cam.SetViewUp(0, -1, 0)
        cam.OrthogonalizeViewUp()
        self.renderer.ResetCamera()
        self.render()

    def _schedule(self, *_):
        self._rebuild_timer.start()

    def rebuild_surfaces(self):
        if self.document is None:
            return
        spacing = self.document.volume.geometry.spacing_zyx
        for value in list(self.surface_actors):
            self.renderer.RemoveActor(self.surface_actors.pop(value))
        for label in self.document.label_table:
            if not label.visible:
                continue
            poly = label_surface(self.document.labels, label.value, spacing)
            if poly is None:
                continue
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(poly)
            mapper.ScalarVisibilityOff()
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().SetColor(*(c / 255 for c in label.color))
            actor.GetProperty().SetOpacity(0.85)
            self.renderer.AddActor(actor)
            self.surface_actors[label.value] = actor
        self.render()

    def _move_planes(self, cursor):
        if self.document is None:
            return
        sz, sy, sx = self.document.volume.geometry.spacing_zyx
        nz, ny, nx = self.document.volume.shape
        ext = ((nx - 1) * sx, (ny - 1) * sy, (nz - 1) * sz)
        pos = (cursor[2] * sx, cursor[1] * sy, cursor[0] * sz)   # VTK (x, y, z) from numpy (z, y, x)
        for axis, source in self.planes.items():
            vtk_axis = 2 - axis
            origin, p1, p2 = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
            a, b = [i for i in range(3) if i != vtk_axis]
            for p in (origin, p1, p2):
                p[vtk_axis] = pos[vtk_axis]
            p1[a] = ext[a]
            p2[b] = ext[b]
            source.SetOrigin(origin)
            source.SetPoint1(p1)
            source.SetPoint2(p2)
        if not self._render_timer.isActive():
            self._render_timer.start()

    def render(self):
        self._render_timer.stop()
        self.canvas.GetRenderWindow().Render()

    def close_view(self):
        self._rebuild_timer.stop()
        self._render_timer.stop()
        self.canvas.Finalize()
