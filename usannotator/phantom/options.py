"""Phantom sizes and the options a user can set, each with the range it is drawn from per seed.

An option left out is drawn from its range, so every seed looks a little different (models trained
on phantoms should see variety). A number fixes it; a (low, high) pair narrows or widens the range.
Each option consumes one uniform draw whatever the user passes, so fixing one option never
changes the others for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Numpy order (sweep, depth, lateral). "small" keeps the same field of view as "demo" with coarser
# voxels, so tests see the same anatomy.
SIZES = {
    "small": ((48, 64, 64), 1.25),
    "demo": ((200, 160, 192), 0.5),
}
DEFAULT_SPACING_MM = 0.5


@dataclass(frozen=True)
class Option:
    low: float
    high: float
    help: str


OPTIONS = {
    # Appearance
    "dynamic_range_db": Option(48.0, 60.0, "displayed dynamic range; smaller means more contrast"),
    "speckle": Option(0.75, 1.0, "speckle strength, 1 = fully developed speckle"),
    "attenuation_db": Option(6.0, 16.0, "loss of brightness from the top to the bottom of the image"),
    "fascia_brightness_db": Option(22.0, 30.0, "how much brighter than muscle a visible fascia is"),
    "striation_db": Option(6.0, 12.0, "brightness of the fascicle lines inside muscles"),
    "muscle_db": Option(-38.0, -32.0, "echo level of muscle below the brightest echoes"),
    "faint_fraction": Option(0.15, 0.35, "share of the fascia between muscles that is faint or missing"),
    "pennation_deg": Option(15.0, 28.0, "fascicle angle to the aponeuroses in the gastrocnemii"),
    # Anatomy
    "muscle_scale": Option(0.85, 1.15, "thickness of all muscles relative to an average leg"),
    "fat_thickness": Option(0.03, 0.065, "subcutaneous fat thickness, as a fraction of the depth"),
}


def resolve_size(size, shape, spacing) -> tuple:
    """The (shape, spacing in mm, numpy order) a request asks for."""
    if shape is None:
        if size not in SIZES:
            raise ValueError(f"unknown phantom size {size!r}; "
                             f"choose one of {sorted(SIZES)} or pass shape=")
        shape, preset_spacing = SIZES[size]
        spacing = preset_spacing if spacing is None else spacing
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 16:
        raise ValueError(f"a phantom needs 3 dimensions of at least 16 voxels, got {shape}")
    spacing = DEFAULT_SPACING_MM if spacing is None else spacing
    spacing = tuple(float(v) for v in np.broadcast_to(np.asarray(spacing, dtype=float), (3,)))
    if min(spacing) <= 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    return shape, spacing


def draw_options(rng, overrides: dict) -> dict:
    """One value per option: drawn in its range, or as the user set it."""
    unknown = set(overrides) - set(OPTIONS)
    if unknown:
        raise TypeError(f"unknown phantom option(s) {sorted(unknown)}; known: {sorted(OPTIONS)}")
    values = {}
    for name, option in OPTIONS.items():
        fraction = rng.uniform()                  # always drawn: see the module docstring
        low, high = option.low, option.high
        if name in overrides:
            given = overrides[name]
            if np.ndim(given) == 0:
                values[name] = float(given)
                continue
            low, high = (float(v) for v in given)
        values[name] = low + fraction * (high - low)
    return values
