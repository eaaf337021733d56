"""The plugin API and discovery. Plugins are found through the entry-point group
`usannotator.plugins`; built-in and third-party plugins install the same way."""

from usannotator.plugins.api import Plugin, Segmenter, segmenters
from usannotator.plugins.discovery import ENTRY_POINT_GROUP, PluginRecord, discover

__all__ = ["Plugin", "Segmenter", "segmenters", "PluginRecord", "discover", "ENTRY_POINT_GROUP"]
