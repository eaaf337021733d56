"""Reading real pixels off the screen for GUI checks."""

import numpy as np


def grab(widget) -> np.ndarray:
    """The pixels of a widget as shown on screen (VTK's OpenGL content included), RGB."""
    from PySide6.QtGui import QImage

    image = widget.screen().grabWindow(widget.winId()).toImage().convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    arr = np.frombuffer(ptr, np.uint8, image.sizeInBytes()).reshape(image.height(), image.bytesPerLine())
    return arr[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def colour_pixels(rgb: np.ndarray, colour, tol=12) -> int:
    return int(np.all(np.abs(rgb.astype(int) - np.array(colour)) <= tol, axis=-1).sum())


def show(window, document, qtbot):
    """Open a document with labels drawn opaque, every view fitted to its slice."""
    window.set_document(document)
    window.state.set_label_opacity(1.0)
    window.reset_views()
    qtbot.wait(50)
    window.render_all()
