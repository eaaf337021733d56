"""Label surfaces for the 3D view: discrete flying edges on a (possibly subsampled) label map."""

from __future__ import annotations

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkFiltersCore import vtkWindowedSincPolyDataFilter
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D

MAX_SURFACE_VOXELS = 8_000_000  # above this the label map is subsampled so the 3D view stays quick


def subsample_step(shape) -> int:
    step = 1
    while np.prod([-(-n // step) for n in shape]) > MAX_SURFACE_VOXELS:
        step += 1
    return step


def label_surface(labels: np.ndarray, value: int, spacing_zyx, smooth: bool = True):
    """A vtkPolyData surface of one label, in index-aligned physical coordinates (x, y, z) mm."""
    step = subsample_step(labels.shape)
    mask = (labels[::step, ::step, ::step] == value).astype(np.uint8)
    if not mask.any():
        return None
    mask = np.pad(mask, 1)  # closed surfaces where a muscle touches the volume's edge
    image = vtkImageData()
    nz, ny, nx = mask.shape
    image.SetDimensions(nx, ny, nz)
    sz, sy, sx = (s * step for s in spacing_zyx)
    image.SetSpacing(sx, sy, sz)
    image.SetOrigin(-sx, -sy, -sz)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(mask.reshape(-1), deep=True))
    fe = vtkDiscreteFlyingEdges3D()
    fe.SetInputData(image)
    fe.SetValue(0, 1)
    fe.ComputeNormalsOff()
    if not smooth:
        fe.Update()
        return fe.GetOutput()
    sinc = vtkWindowedSincPolyDataFilter()
    sinc.SetInputConnection(fe.GetOutputPort())
    sinc.SetNumberOfIterations(12)
    sinc.SetPassBand(0.05)
    sinc.NormalizeCoordinatesOn()
    sinc.Update()
    return sinc.GetOutput()
