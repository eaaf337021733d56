"""What the leg looks like in B-mode: echo levels, textures, shadow, attenuation, speckle, display.

Everything is added in decibels, as a scanner's log compression would show it: each tissue has an
echo level below the brightest echo (0 dB), fascicles and fat strands add thin brighter lines,
fascia add their brightness where visible, depth subtracts attenuation, and speckle adds the
log of a correlated Rayleigh field. The display maps [-dynamic range, 0] dB to [0, 255].
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from usannotator.phantom.anatomy import GL, GM, SOL, Tissue
from usannotator.phantom.fields import thin_lines, wobble

SPECKLE_GRAIN = (1.0, 0.8, 1.4)     # voxels (sweep, depth, lateral): lateral resolution is the worst
RESOLUTION = (0.5, 0.5, 0.7)        # voxels at demo size: blur of the echo levels


def render_bmode(rng, anatomy, layout, opts) -> np.ndarray:
    """The uint8 B-mode volume of a rasterised leg."""
    shape = anatomy.truth.shape
    level = _tissue_levels(rng, anatomy, layout, opts)
    level += _fascicles(rng, anatomy, shape, opts)
    level += _fat_strands(rng, anatomy, layout, shape)
    level += _deep_septum(rng, anatomy, layout, shape)
    level = _fascia(anatomy, level, opts)
    level = _blur_by_resolution(level)
    level -= _attenuation(shape, opts["attenuation_db"])
    level += _speckle_db(rng, shape, opts["speckle"])
    return _display(level, opts["dynamic_range_db"])


def _tissue_levels(rng, anatomy, layout, opts):
    muscle = opts["muscle_db"]
    by_tissue = np.zeros(len(Tissue), dtype=np.float32)
    by_tissue[Tissue.WATER] = -90.0
    by_tissue[Tissue.SKIN] = muscle + rng.uniform(18.0, 24.0)
    by_tissue[Tissue.FAT] = muscle - rng.uniform(6.0, 10.0)      # fat is darker than muscle
    by_tissue[Tissue.MUSCLE] = muscle
    by_tissue[Tissue.DEEP] = muscle + rng.uniform(-3.0, 1.0)
    by_tissue[Tissue.FASCIA] = muscle                             # its brightness comes later
    by_tissue[Tissue.BONE] = -1.0
    by_tissue[Tissue.SHADOW] = muscle - rng.uniform(18.0, 26.0)   # little passes a bone
    per_muscle = np.zeros(4, dtype=np.float32)
    per_muscle[[GM, GL, SOL]] = rng.uniform(-1.5, 1.5, size=3)   # muscles differ slightly
    level = by_tissue[anatomy.tissue] + per_muscle[anatomy.truth]
    # A bone echoes strongest where the beam meets its surface head-on.
    bone = anatomy.tissue == Tissue.BONE
    incidence = np.broadcast_to(layout.bone_incidence[:, None, :], shape=level.shape)
    level[bone] -= 10.0 * (1.0 - incidence[bone])
    # Near a bone's edges the beam only grazes it, so its shadow fades out sideways.
    shadow = anatomy.tissue == Tissue.SHADOW
    fade = np.clip(1.0 - 4.0 * incidence[shadow] ** 4, 0.0, 1.0)
    level[shadow] += fade * (by_tissue[Tissue.DEEP] - by_tissue[Tissue.SHADOW])
    return level


def _fascicles(rng, anatomy, shape, opts):
    """Thin oblique lines inside muscles: fascicle septa at the pennation angle (in the sweep plane).

    The gastrocnemii and the soleus lean opposite ways, as their fascicles run from the
    superficial to the deep aponeurosis in opposite directions along the leg.
    """
    nz, ny, nx = shape
    period = max(3.0, 0.035 * ny)
    z = np.arange(nz, dtype=np.float32)[:, None, None]
    rows = np.arange(ny, dtype=np.float32)[None, :, None]
    angles = np.radians([opts["pennation_deg"], -(opts["pennation_deg"] + rng.uniform(0.0, 10.0))])
    along = [(rows * np.cos(a) - z * np.sin(a)) / period for a in angles]   # (nz, ny, 1) each
    s, v, u = np.linspace(0, 1, nz), np.linspace(0, 1, ny), np.linspace(0, 1, nx)
    # Two cheap 2D warps instead of one 3D one: the lines wave along the leg and across it.
    warp_zx = 0.6 * wobble(rng, s, u, terms=6, cycles_s=6.0, cycles_u=8.0)[:, None, :]
    warp_yx = 0.6 * wobble(rng, v, u, terms=6, cycles_s=5.0, cycles_u=10.0)[None, :, :]
    phase = np.where(anatomy.in_soleus_layer, along[1], along[0]) + warp_zx + warp_yx
    # Lines break up: fascicles come in bundles, not as continuous sheets.
    bundles_zx = np.clip(0.4 + 0.8 * wobble(rng, s, u, terms=8, cycles_s=10.0, cycles_u=16.0), 0.0, 1.0)
    bundles_yx = np.clip(0.5 + 0.8 * wobble(rng, v, u, terms=8, cycles_s=8.0, cycles_u=16.0), 0.0, 1.0)
    strength = np.float32(opts["striation_db"]) * bundles_zx[:, None, :] * bundles_yx[None, :, :]
    textured = np.isin(anatomy.tissue, (Tissue.MUSCLE, Tissue.DEEP, Tissue.FASCIA))
    return np.where(textured, strength * thin_lines(phase, sharpness=8), np.float32(0.0))


def _deep_septum(rng, anatomy, layout, shape):
    """A dim line between the deep muscles under the soleus: unlabelled, a distractor for models."""
    nz, ny, nx = shape
    s, u = np.linspace(0, 1, nz), np.linspace(0, 1, nx)
    floor = np.minimum(layout.bone_top, ny)
    depth = layout.sol_bottom + rng.uniform(0.35, 0.6) * (floor - layout.sol_bottom)
    depth = depth + 0.02 * ny * wobble(rng, s, u, cycles_u=2.0)
    rows = np.arange(ny, dtype=np.float32)[None, :, None]
    line = np.abs(rows - depth[:, None, :]) < layout.half_thickness
    brightness = np.float32(rng.uniform(8.0, 14.0))
    return np.where(line & (anatomy.tissue == Tissue.DEEP), brightness, np.float32(0.0))


def _fat_strands(rng, anatomy, layout, shape):
    """Bright connective strands in the subcutaneous fat, running roughly parallel to the skin."""
    nz, ny, nx = shape
    fat = anatomy.tissue == Tissue.FAT
    last_row = int(np.ceil(layout.muscle_top.max())) + 1     # fat never lies deeper: skip the rest
    rows = np.arange(last_row, dtype=np.float32)[None, :, None]
    s, u = np.linspace(0, 1, nz), np.linspace(0, 1, nx)
    period = max(3.0, 0.03 * ny)
    waviness = 0.6 * wobble(rng, s, u, cycles_u=4.0)[:, None, :]
    phase = (rows - layout.fat_top[:, None, :]) / period + waviness
    strands = np.zeros(shape, dtype=np.float32)
    strands[:, :last_row] = rng.uniform(10.0, 15.0) * thin_lines(phase, sharpness=8)
    return np.where(fat, strands, np.float32(0.0))


def _fascia(anatomy, level, opts):
    """Blend fascia voxels from the muscle texture towards the fascia level by their visibility.

    A faint or missing stretch (visibility near 0) therefore keeps the muscle's own look.
    """
    visibility = anatomy.fascia_visibility
    bright = np.float32(opts["muscle_db"] + opts["fascia_brightness_db"])
    return np.where(visibility >= 0, level + np.clip(visibility, 0, 1) * (bright - level), level)


def _blur_by_resolution(level):
    """The beam's finite resolution softens every edge, most of all laterally.

    Scaled like the anatomy (whose proportions follow the image), so a coarse "small" phantom
    is a shrunken demo rather than a blurrier one.
    """
    sigma = [s * level.shape[1] / 160.0 for s in RESOLUTION]
    if max(sigma) < 0.3:            # below a third of a voxel the blur changes nothing visible
        return level
    return ndimage.gaussian_filter(level, sigma, truncate=2.0)


def _attenuation(shape, total_db):
    """Brightness lost with depth, as left after the scanner's time-gain compensation."""
    rows = np.arange(shape[1], dtype=np.float32) / np.float32(shape[1])
    return (np.float32(total_db) * rows)[None, :, None]


def _speckle_db(rng, shape, strength):
    """Log of a Rayleigh speckle field of mean 1, correlated over a voxel or so.

    The envelope of blurred complex Gaussian noise is Rayleigh distributed, as the echo of many
    unresolved scatterers is; the blur gives the speckle grain its size.
    """
    field = np.empty(shape, dtype=np.complex64)
    field.real = rng.standard_normal(shape, dtype=np.float32)
    field.imag = rng.standard_normal(shape, dtype=np.float32)
    field = ndimage.gaussian_filter(field, SPECKLE_GRAIN, truncate=2.5)
    envelope = np.abs(field)
    envelope /= envelope.mean()
    mixed = np.float32(1.0 - strength) + np.float32(strength) * envelope
    return np.float32(20.0) * np.log10(np.maximum(mixed, np.float32(1e-3)))


def _display(level_db, dynamic_range_db):
    grey = (level_db + np.float32(dynamic_range_db)) * np.float32(255.0 / dynamic_range_db)
    return np.clip(grey, 0, 255).round().astype(np.uint8)
