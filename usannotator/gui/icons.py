"""Icons by meaning, in one place (qtawesome). A missing icon font never stops the application."""

from PySide6.QtGui import QIcon

NAMES = {
    "open": "fa5s.folder-open", "save": "fa5s.save", "undo": "fa5s.undo", "redo": "fa5s.redo",
    "labels": "fa5s.tags", "add": "fa5s.plus", "remove": "fa5s.minus", "lock": "fa5s.lock",
    "visible": "fa5s.eye", "plugins": "fa5s.puzzle-piece", "cancel": "fa5s.times-circle",
    "contrast": "fa5s.adjust", "screenshot": "fa5s.camera", "about": "fa5s.info-circle",
    "reset": "fa5s.expand", "quit": "fa5s.sign-out-alt", "demo": "fa5s.magic",
}


def icon(name: str) -> QIcon:
    try:
        import qtawesome

        return qtawesome.icon(NAMES.get(name, name))
    except Exception:  # noqa: BLE001 - fonts unavailable: text-only actions are still usable
        return QIcon()
