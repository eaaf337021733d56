"""What a plugin is: one capability a user can name, reachable from the GUI and the command line.

A plugin module exposes `plugin`, an instance of a `Plugin` subclass. Its module must import
without Qt or torch (the command line and the plugin list load it); GUI code lives in a separate
module that `activate` imports.

In the GUI, `activate(host)` receives the host (see usannotator.gui.host.Host), which offers:
  host.document            the open Document, or None; host.document_opened / document_closed
                           are Qt-free Signals.
  host.add_dock(widget, title, area="right")
  host.add_action(menu, action)         menu: "File", "Edit", "View", "Tools", "Plugins", "Help"
  host.add_tool(tool)                   a SliceTool: mouse events on every slice view
  host.add_overlay(overlay)             a SliceOverlay (heat map) or CategoryOverlay (fixed colours per
                                        value, drawn over the labels) on every slice view; remove_overlay
  host.run_job(job, on_result, on_partial=None, on_error=None)   background work with progress and Cancel
  host.apply_edit(edit)                 the document's edit path, with errors shown to the user
  host.settings(plugin_name)            a QSettings group of its own
  host.show_error(title, message, details="")
  host.viewers                          the slice views (current slice, jump to a slice)
  host.plugin_records                   the loaded plugins' records, for segmenters(records)
  host.save_screenshot(path)            the whole window as PNG
  host.wait_for_autosave()              block until finished strokes are on disk
"""

from __future__ import annotations


class Plugin:
    name = "plugin"          # short identifier, also the command-line namespace
    title = "Plugin"         # shown to users
    description = ""

    def add_commands(self, subparsers) -> None:
        """Add command-line subcommands. Each sets `func(args) -> int` with set_defaults."""

    def activate(self, host) -> None:
        """Add docks, tools, overlays and actions to the running application."""

    def deactivate(self, host) -> None:
        """Release what activate created (threads, files). Docks are removed by the host."""


class Segmenter:
    """A torch segmentation model that a plugin offers to the rest of the application.

    The IFSS-Net plugin offers one; border analysis computes activation maps on any of them, without
    importing the plugin that made it (the host collects them: `segmenters(records)`).
    torch is imported inside the methods only.
    """

    name = "segmenter"
    title = "Segmenter"

    def available(self) -> tuple[bool, str]:
        """(True, "") when the model can be loaded (e.g. its weights exist), else (False, why)."""
        return True, ""

    def load(self, device: str = "cpu"):
        """The model (torch.nn.Module) in eval mode on `device`, weights from local files only."""
        raise NotImplementedError

    def layers(self, model) -> dict:
        """Named layers (torch.nn.Module) where activation maps make sense; the first is the default."""
        raise NotImplementedError

    def slice_logits(self, model, image, labels, z: int, label: int):
        """Logits (torch tensor, shape (H, W) of the slice grid (depth, lateral)) for label `label` on
        sweep slice `z`, computed the way the model segments that slice in use (its context taken
        from `image` and `labels`, numpy (z, y, x)). Must stay differentiable for activation maps."""
        raise NotImplementedError


def segmenters(records) -> list:
    """Every Segmenter offered by the loaded plugins (a plugin offers them through `segmenters()`)."""
    found = []
    for record in records:
        if record.ok and hasattr(record.plugin, "segmenters"):
            found.extend(record.plugin.segmenters())
    return found
