"""Sparse 2D annotation: brush, eraser, polygon, freehand, flood fill and hole filling on any slice
view; key slices; live statistics; and the same edits from the command line.

Qt-free parts: `tools` (gesture -> Edit), `keyslices`, `stats`, `cli`; the window's part: `gui`
(loaded by `activate`). Importing this package loads none of them, nor Qt, scipy or torch (the plugin
list and the command line import it at start).
"""

from __future__ import annotations

from usannotator.plugins.api import Plugin


class AnnotatePlugin(Plugin):
    name = "annotate"
    title = "Annotation"
    description = "Paint muscles on key slices: brush, eraser, polygon, freehand, fill, fill holes."

    def add_commands(self, subparsers) -> None:
        from usannotator_plugins.annotate.cli import add_commands

        add_commands(subparsers)

    def activate(self, host) -> None:
        from usannotator_plugins.annotate.gui import AnnotationGui

        self.gui = AnnotationGui(host)   # the host's signals hold their slots weakly: keep it alive

    def deactivate(self, host) -> None:
        gui = getattr(self, "gui", None)
        if gui is not None:
            gui.close()
            self.gui = None


plugin = AnnotatePlugin()
