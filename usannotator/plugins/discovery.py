"""Finding plugins through entry points, so that one which fails to load never stops the application."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points

from usannotator.plugins.api import Plugin

ENTRY_POINT_GROUP = "usannotator.plugins"


@dataclass
class PluginRecord:
    name: str
    source: str                  # "module:attribute" of the entry point
    distribution: str = ""
    plugin: Plugin | None = None
    state: str = "loaded"        # loaded | failed to load | failed to start | active
    error: str = ""              # one line for the user
    details: str = ""            # the traceback, for the Plugins dialog's details

    @property
    def ok(self) -> bool:
        return self.plugin is not None and not self.state.startswith("failed")

    def fail(self, state: str, exc: BaseException) -> None:
        self.state = state
        self.error = f"{type(exc).__name__}: {exc}"
        self.details = "".join(traceback.format_exception(exc))


def discover(group: str = ENTRY_POINT_GROUP) -> list[PluginRecord]:
    """Load every plugin of the group; failures are recorded, not raised."""
    records = []
    seen = set()
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(getattr(ep, "dist", None), "name", "") or ""
        record = PluginRecord(ep.name, ep.value, dist)
        try:
            obj = ep.load()
            plugin = obj() if isinstance(obj, type) else obj
            if not isinstance(plugin, Plugin):
                raise TypeError(f"{ep.value} is not a usannotator Plugin")
            record.plugin = plugin
        except BaseException as exc:  # noqa: BLE001 - a plugin must never take the application down
            if isinstance(exc, KeyboardInterrupt):
                raise
            record.fail("failed to load", exc)
        records.append(record)
    return records
