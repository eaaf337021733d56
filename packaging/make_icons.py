"""Render resources/icons/usannotator.svg to the PNG (Linux launcher) and ICO (Windows) icons, with Qt.

    python packaging/make_icons.py OUT_DIR      -> OUT_DIR/usannotator.png (256 px), usannotator.ico
"""

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer


def render(svg: Path, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    return image


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    app = QGuiApplication.instance() or QGuiApplication(["make_icons", "-platform", "offscreen"])  # noqa: F841
    svg = Path(__file__).resolve().parents[1] / "resources" / "icons" / "usannotator.svg"
    if not render(svg, 256).save(str(out / "usannotator.png"), "PNG"):
        raise SystemExit("make_icons: could not write usannotator.png")
    # Qt's ICO writer stores one size per file; 256 px is what Windows' Explorer and Start menu use.
    if not render(svg, 256).save(str(out / "usannotator.ico"), "ICO"):
        print("make_icons: no ICO writer in this Qt (only needed for Windows builds)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
