"""The Qt widget that hosts a VTK render window (PySide6 binding selected once, here)."""

import vtkmodules.qt

vtkmodules.qt.PyQtImpl = "PySide6"

# Registers the OpenGL render window and interactor factories.
import vtkmodules.vtkInteractionStyle  # noqa: E402,F401
import vtkmodules.vtkRenderingOpenGL2  # noqa: E402,F401
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor  # noqa: E402

__all__ = ["QVTKRenderWindowInteractor"]
