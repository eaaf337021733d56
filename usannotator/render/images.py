"""Turning numpy slices into VTK image data, and the colour tables for labels and heat maps."""

from __future__ import annotations

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkCommonDataModel import vtkImageData


def to_vtk_image(slice2d: np.ndarray, spacing_rc=(1.0, 1.0), image: vtkImageData | None = None) -> vtkImageData:
    """A vtkImageData holding a (rows, cols) slice: VTK's x runs along columns, y along rows.

    Reuses `image` when given so that scrolling does not allocate new VTK objects.
    """
    rows, cols = slice2d.shape
    image = image or vtkImageData()
    if image.GetDimensions() != (cols, rows, 1):
        image.SetDimensions(cols, rows, 1)
    image.SetSpacing(spacing_rc[1], spacing_rc[0], 1.0)
    flat = np.ascontiguousarray(slice2d).reshape(-1)
    scalars = numpy_support.numpy_to_vtk(flat, deep=True)
    image.GetPointData().SetScalars(scalars)
    image.Modified()
    return image


def label_lookup_table(label_table, opacity: float, table: vtkLookupTable | None = None) -> vtkLookupTable:
    """Indexed colours: value -> label colour at `opacity`; background and hidden labels clear."""
    colours = {label.value: label.color for label in label_table if label.visible}
    top = max([label.value for label in label_table] + [1])
    return category_lookup_table(colours, opacity, table, top)


def category_lookup_table(colours: dict, opacity: float = 1.0, table: vtkLookupTable | None = None,
                          top: int | None = None) -> vtkLookupTable:
    """Indexed colours for small integer maps: value -> (r, g, b) in 0-255 at `opacity`; 0, and any
    value without a colour, clear. `top`: the largest value the table must cover."""
    top = max([int(v) for v in colours] + [1, top or 0])
    table = table or vtkLookupTable()
    table.SetNumberOfTableValues(top + 1)
    table.SetTableRange(0, top)
    for v in range(top + 1):
        table.SetTableValue(v, 0.0, 0.0, 0.0, 0.0)
    for value, colour in colours.items():
        r, g, b = (c / 255.0 for c in colour)
        table.SetTableValue(int(value), r, g, b, opacity)
    table.Build()
    return table


def heat_lookup_table(opacity: float, below: float | None = None, value_range=(0.0, 1.0)) -> vtkLookupTable:
    """A perceptual dark-to-bright colour map (inferno-like) for maps in value_range.

    With `below`, values at or above the threshold are transparent ("show only untrusted areas").
    """
    stops = np.array([[0.0, 0.0, 0.02], [0.34, 0.06, 0.43], [0.73, 0.21, 0.33],
                      [0.98, 0.55, 0.04], [0.99, 1.0, 0.64]])
    n = 256
    table = vtkLookupTable()
    table.SetNumberOfTableValues(n)
    table.SetTableRange(*value_range)
    t = np.linspace(0, 1, n)
    lo, hi = value_range
    for i in range(n):
        pos = t[i] * (len(stops) - 1)
        k = min(int(pos), len(stops) - 2)
        rgb = stops[k] + (stops[k + 1] - stops[k]) * (pos - k)
        value = lo + t[i] * (hi - lo)
        alpha = 0.0 if below is not None and value >= below else opacity
        table.SetTableValue(i, *rgb, alpha)
    table.Build()
    return table


def outline(labels2d: np.ndarray) -> np.ndarray:
    """Label values kept only on their 4-connected border, for the outline display mode."""
    edge = np.zeros(labels2d.shape, dtype=bool)
    edge[1:, :] |= labels2d[1:, :] != labels2d[:-1, :]
    edge[:-1, :] |= labels2d[:-1, :] != labels2d[1:, :]
    edge[:, 1:] |= labels2d[:, 1:] != labels2d[:, :-1]
    edge[:, :-1] |= labels2d[:, :-1] != labels2d[:, 1:]
    return np.where(edge, labels2d, 0)
