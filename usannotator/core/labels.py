"""The label table: which integer value is which muscle, its colour, visibility and lock."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from usannotator.core.events import Signal

# Colours chosen to stay distinct on grey B-mode images and for common colour-vision deficiencies.
DEFAULT_LABELS = (
    (1, "GM", (230, 75, 60)),      # gastrocnemius medialis
    (2, "GL", (60, 140, 230)),     # gastrocnemius lateralis
    (3, "SOL", (90, 200, 90)),     # soleus
)
EXTRA_COLOURS = ((240, 200, 40), (200, 90, 220), (40, 210, 210), (250, 140, 30), (150, 110, 70))


@dataclass
class Label:
    value: int
    name: str
    color: tuple = (255, 255, 0)    # RGB 0-255
    visible: bool = True
    locked: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["color"] = list(self.color)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Label":
        return cls(int(d["value"]), str(d["name"]), tuple(d.get("color", (255, 255, 0))),
                   bool(d.get("visible", True)), bool(d.get("locked", False)))


class LabelTable:
    """Ordered labels by value. Emits `changed(value)` when a label is added, edited or removed."""

    def __init__(self, labels=None):
        self._labels: dict[int, Label] = {}
        self.changed = Signal()
        for label in labels if labels is not None else [Label(v, n, c) for v, n, c in DEFAULT_LABELS]:
            self._labels[label.value] = label

    def __iter__(self):
        return iter(sorted(self._labels.values(), key=lambda l: l.value))

    def __len__(self):
        return len(self._labels)

    def __contains__(self, value):
        return int(value) in self._labels

    def __getitem__(self, value) -> Label:
        return self._labels[int(value)]

    def values(self) -> list:
        return sorted(self._labels)

    def locked_values(self) -> set:
        return {l.value for l in self._labels.values() if l.locked}

    def add(self, name: str | None = None, value: int | None = None, color=None) -> Label:
        value = value if value is not None else (max(self._labels, default=0) + 1)
        if value in self._labels:
            raise ValueError(f"label value {value} already exists")
        if not 1 <= value <= 65535:
            raise ValueError(f"label value must be between 1 and 65535, got {value}")
        color = color or EXTRA_COLOURS[(value - 1) % len(EXTRA_COLOURS)]
        label = Label(value, name or f"Label {value}", tuple(color))
        self._labels[value] = label
        self.changed.emit(value)
        return label

    def update(self, value: int, **fields) -> None:
        label = self._labels[int(value)]
        for key, val in fields.items():
            if not hasattr(label, key) or key == "value":
                raise AttributeError(f"labels have no editable field {key!r}")
            setattr(label, key, tuple(val) if key == "color" else val)
        self.changed.emit(int(value))

    def remove(self, value: int) -> None:
        del self._labels[int(value)]
        self.changed.emit(int(value))

    def ensure(self, values) -> None:
        """Add a table entry for every value a label file uses that the table lacks."""
        for v in sorted(int(v) for v in values):
            if v and v not in self._labels:
                self.add(value=v)

    def to_list(self) -> list:
        return [l.to_dict() for l in self]

    @classmethod
    def from_list(cls, items) -> "LabelTable":
        return cls([Label.from_dict(d) for d in items])
