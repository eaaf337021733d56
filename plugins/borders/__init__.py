"""Border analysis: distinct vs completed reference borders, per-kind scores of a prediction, and
activation maps of any segmenter on each kind of border pixel.

Python API (Qt-free; torch only inside the activation functions):
  split.split_borders(image, labels, SplitParameters(...), field_of_view=None, progress=None) -> BorderSplit
  analysis.analyse(progress, image, labels, spacing_zyx, prediction=None, ...) -> BorderAnalysis   (a Job)
  metrics.border_metrics(split, prediction, spacing_zyx, tolerance_mm=1.0) -> dict
  activation.border_activation_maps(progress, segmenter, image, labels, distinct, completed, label, ...)  (a Job)
  activation.available_segmenters(records) -> (segmenters, why none)

Command line: usannotator borders IMAGE LABELS -o OUT_DIR [--prediction P] [--tolerance MM] ...
GUI: the Borders dock (gui.py), imported only by `activate`.
"""

from __future__ import annotations

from usannotator.plugins.api import Plugin


class BordersPlugin(Plugin):
    name = "borders"
    title = "Border analysis"
    description = ("Split each muscle's border into distinct (visible) and completed (inferred) parts, score "
                   "a prediction on each, and show where a model's evidence lies for each kind.")

    def add_commands(self, subparsers) -> None:
        from usannotator_plugins.borders.command import add_borders_command

        add_borders_command(subparsers)

    def activate(self, host) -> None:
        from usannotator_plugins.borders.gui import activate

        self.dock = activate(host)

    def deactivate(self, host) -> None:
        self.dock = None


plugin = BordersPlugin()
