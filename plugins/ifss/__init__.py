"""IFSS-Net propagation: key-slice masks carried slice by slice through the volume by a network
that looks at the image as it goes (interactive few-shot siamese network, spec ifss-net.md).

Imports without torch or Qt. For the GUI dock (model jobs run on the host's model thread):
  propagator = Propagator(weights=None, device="auto")          one per document; loads lazily
  host.run_job(propagation_job(doc, propagator), on_result=lambda r: host.apply_edit(r.to_edit()),
               on_partial=preview)                            partial: {"label", "slices", "probability", "direction"}
  host.run_job(correction_job(doc, propagator, label, z), ...)  after a correction of slice z
  host.run_job(adaptation_job(doc, propagator, steps), ...)     "Adapt to this volume"
Those names import torch; reach them through `usannotator_plugins.ifss.api` when a model is first used.
"""

from __future__ import annotations

from usannotator.plugins.api import Plugin


class IFSSPlugin(Plugin):
    name = "ifss"
    title = "IFSS-Net propagation"
    description = ("Carry each muscle's key-slice masks through the volume with IFSS-Net (lite, CPU): "
                   "forward and backward chains between key slices, blended by distance; a correction "
                   "recomputes only its two neighbouring stretches.")

    def add_commands(self, subparsers) -> None:
        from usannotator_plugins.ifss.command import add_commands

        add_commands(subparsers)

    def segmenters(self) -> list:
        from usannotator_plugins.ifss.segmenter import IFSSSegmenter

        return [IFSSSegmenter()]

    def activate(self, host) -> None:
        from usannotator_plugins.ifss.gui import activate   # Qt only when a window starts

        self.dock = activate(host)

    def deactivate(self, host) -> None:
        from usannotator_plugins.ifss.gui import deactivate

        deactivate(host)


plugin = IFSSPlugin()

__all__ = ["plugin", "IFSSPlugin"]
