"""Interpolation plugin: fill the slices between a muscle's key slices (ZOI, shape-based, morphological).

Imports without Qt, torch or ITK. For the GUI: `make_job` (preview computed in the background),
`result_to_edit` (apply as one undoable edit), `interpolate` for scripts.
"""

from usannotator.plugins.api import Plugin

from .algorithm import METHODS, InterpolationResult, interpolate
from .document import interpolate_document, interpolation_job, key_slices_of, make_job, result_to_edit


class InterpolationPlugin(Plugin):
    name = "zoi"
    title = "Interpolation"
    description = "Fill every slice between a muscle's key slices: zero-order with smoothing (the " \
                  "thesis' ZOI), shape-based (signed distance) or morphological (ITK)."

    def add_commands(self, subparsers) -> None:
        from .command import add_interpolate_command

        add_interpolate_command(subparsers)

    def activate(self, host) -> None:
        from .gui import activate   # Qt only when the GUI loads the plugin

        self.dock = activate(host)


plugin = InterpolationPlugin()

__all__ = ["plugin", "InterpolationPlugin", "interpolate", "InterpolationResult", "METHODS",
           "make_job", "interpolation_job", "result_to_edit", "interpolate_document", "key_slices_of"]
