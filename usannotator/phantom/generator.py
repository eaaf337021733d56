"""generate_phantom: a seeded synthetic 3D ultrasound volume of the calf with its ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from usannotator.core import Geometry, Volume
from usannotator.phantom.anatomy import LABEL_NAMES, draw_layout, rasterise
from usannotator.phantom.appearance import render_bmode
from usannotator.phantom.keyslices import label_extent
from usannotator.phantom.options import draw_options, resolve_size


@dataclass
class Phantom:
    volume: Volume              # uint8 B-mode, (sweep, depth, lateral), row 0 at the transducer
    truth: np.ndarray           # uint8 labels: 0 background, 1 GM, 2 GL, 3 SOL
    fascia: np.ndarray          # uint8: 1 bright fascia, 2 faint or missing stretch, 0 elsewhere
    tissue: np.ndarray          # uint8 anatomy.Tissue per voxel (fat, bone, shadow, ...)
    extents: dict               # label -> (first, last) slice along the sweep
    seed: int
    options: dict = field(default_factory=dict)   # every option's value as used
    label_names: dict = field(default_factory=lambda: dict(LABEL_NAMES))

    @property
    def geometry(self) -> Geometry:
        return self.volume.geometry


def generate_phantom(seed=0, size="demo", shape=None, spacing=None, gm_side="left",
                     **options) -> Phantom:
    """A leg phantom for `seed`: same seed and options, same arrays, bit for bit.

    `size` is "small" (48 x 64 x 64, for tests) or "demo" (200 x 160 x 192 at 0.5 mm); `shape`
    (numpy order) and `spacing` (mm, one value or three in numpy order) override it. `gm_side`
    puts the gastrocnemius medialis on the "left" or "right" of the image. Other keywords are the
    options of `usannotator.phantom.OPTIONS` (a number fixes one, a (low, high) pair sets the range
    it is drawn from).
    """
    if gm_side not in ("left", "right"):
        raise ValueError(f"gm_side must be 'left' or 'right', got {gm_side!r}")
    shape, spacing = resolve_size(size, shape, spacing)
    # Separate random streams: fixing an option changes only what that option controls.
    opts = draw_options(np.random.default_rng([seed, 0]), options)
    layout = draw_layout(np.random.default_rng([seed, 1]), shape, opts)
    anatomy = rasterise(layout, shape)
    image = render_bmode(np.random.default_rng([seed, 2]), anatomy, layout, opts)
    arrays = [image, anatomy.truth, anatomy.fascia, anatomy.tissue]
    if gm_side == "right":
        arrays = [np.ascontiguousarray(a[:, :, ::-1]) for a in arrays]
    image, truth, fascia, tissue = arrays
    geometry = Geometry(spacing=spacing[::-1])
    volume = Volume(image, geometry, sweep_axis=0, depth_axis=1, name=f"leg phantom (seed {seed})")
    extents = {label: label_extent(truth, label) for label in LABEL_NAMES}
    return Phantom(volume, truth, fascia, tissue, extents, int(seed), dict(opts, gm_side=gm_side))
