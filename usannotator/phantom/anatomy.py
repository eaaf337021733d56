"""The leg's anatomy: boundary surfaces drawn per seed, then rasterised into labels and tissues.

Layout of a posterior calf sweep (knee at slice 0, ankle at the last slice), as in LEG-3D-US:
water, skin and subcutaneous fat at the top; the gastrocnemius medialis (GM) and lateralis (GL)
side by side under the fat, split by an oblique septum; the soleus (SOL) under both, behind the
gastrocnemius aponeurosis, starting lower and reaching further down the leg; deep unlabelled
muscle; the tibia and fibula as bright curved surfaces with acoustic shadow below.

Every surface is a depth (in rows) per (slice, column), so labels come from comparing row indices
against a few 2D maps: fast, and exact to reproduce. The proportions are fractions of the image,
so any shape holds a whole leg.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import ndimage

from usannotator.phantom.fields import envelope, lens, wobble

GM, GL, SOL = 1, 2, 3
LABEL_NAMES = {GM: "GM", GL: "GL", SOL: "SOL"}

# Share of the fascia kept visible differs by interface: the fat/muscle line is almost always
# clear, the GM/GL septum is often hard to see (the "gap"), the others in between.
FAINT_SHARE = {"superficial": 0.3, "aponeurosis": 1.0, "deep": 1.3, "septum": 1.8}


class Tissue(IntEnum):
    WATER = 0
    SKIN = 1
    FAT = 2
    MUSCLE = 3      # labelled: GM, GL or SOL
    DEEP = 4        # deep muscles under the soleus, never labelled
    FASCIA = 5
    BONE = 6
    SHADOW = 7


@dataclass
class Layout:
    """Boundary surfaces as 2D maps over (slice, column), depths in rows (float)."""
    skin_top: np.ndarray
    fat_top: np.ndarray
    muscle_top: np.ndarray          # centre of the superficial fascia
    gastro_thickness: np.ndarray    # GM and GL together, rows
    sol_thickness: np.ndarray
    septum_x: np.ndarray            # (slices,) column of the GM/GL septum at the muscle top
    septum_slope: float             # columns per row of depth: the septum is oblique
    bone_top: np.ndarray            # +inf where no bone lies under a column
    bone_incidence: np.ndarray      # 1 where the beam hits the bone surface head-on
    visibility: dict                # interface name -> 2D map, 1 bright, near 0 faint or missing
    half_thickness: float           # fascia half thickness, rows

    @property
    def gastro_bottom(self) -> np.ndarray:
        return self.muscle_top + self.gastro_thickness

    @property
    def sol_bottom(self) -> np.ndarray:
        return self.gastro_bottom + self.sol_thickness


def draw_layout(rng, shape, opts) -> Layout:
    """Draw a leg with GM on the left of the image (low column indices)."""
    nz, ny, nx = shape
    s = np.linspace(0.0, 1.0, nz, dtype=np.float32)
    u = np.linspace(0.0, 1.0, nx, dtype=np.float32)
    skin_top, fat_top, muscle_top = _skin_and_fat(rng, s, u, ny, opts["fat_thickness"])
    gm, gl = _gastrocnemii(rng, s, u, ny, opts["muscle_scale"])
    septum_x, slope = _septum(rng, s, u, gm, gl)
    # Both heads share one deep aponeurosis: smoothing their summed thickness across the leg
    # turns the sharp notch where their profiles meet into the shallow valley seen in scans.
    gastro = ndimage.gaussian_filter1d(gm + gl, sigma=0.03 * u.size, axis=1, mode="constant")
    bone_top, incidence = _bones(rng, s, u, ny)
    sol = _soleus(rng, s, u, ny, opts["muscle_scale"])
    # Keep the soleus clear of the bones, leaving room for the deep muscles.
    room = bone_top - 0.06 * ny - (muscle_top + gastro)
    sol = np.minimum(sol, np.clip(room, 0.0, None)).astype(np.float32)
    half = max(0.5, 0.009 * ny)
    layout = Layout(skin_top, fat_top, muscle_top, gastro, sol, septum_x, slope, bone_top, incidence,
                    {}, half)
    layout.visibility = _visibility(rng, s, u, np.linspace(0, 1, ny), layout, opts["faint_fraction"])
    return layout


def _skin_and_fat(rng, s, u, ny, fat_fraction):
    # The calf is convex: the skin lies deeper towards the sides of the image.
    depth = rng.uniform(0.025, 0.04) + rng.uniform(0.15, 0.3) * (u[None, :] - 0.5) ** 2
    skin_top = ny * (depth + 0.004 * wobble(rng, s, u))
    fat_top = skin_top + max(1.0, 0.012 * ny)
    fat = fat_fraction * ny * (1.0 + 0.25 * wobble(rng, s, u, cycles_u=3.0))
    return skin_top.astype(np.float32), fat_top.astype(np.float32), (fat_top + fat).astype(np.float32)


def _muscle_belly(rng, s, u, ny, extent, center, half_width, thickness, rise, fall):
    """Thickness map (rows) of one muscle: a lens across the leg that tapers at both ends."""
    env = envelope(s, rng.uniform(*extent[0]), rng.uniform(*extent[1]), rise, fall)[:, None]
    c = rng.uniform(*center) + 0.02 * wobble(rng, s, u, cycles_u=0.0)[:, :1]
    hw = rng.uniform(*half_width) * env ** 0.35          # width shrinks more slowly than thickness
    shape = lens(u, c, hw) * (1.0 + 0.08 * wobble(rng, s, u, cycles_u=3.0))
    return (rng.uniform(*thickness) * ny * env * shape).astype(np.float32)


def _gastrocnemii(rng, s, u, ny, scale):
    # The two heads overlap across the leg so that they meet along the septum, not over a gap.
    gm = _muscle_belly(rng, s, u, ny, ((0.02, 0.08), (0.55, 0.66)), (0.30, 0.36), (0.22, 0.26),
                       (0.20 * scale, 0.26 * scale), rise=0.6, fall=1.0)
    gl = _muscle_belly(rng, s, u, ny, ((0.04, 0.12), (0.47, 0.58)), (0.62, 0.68), (0.17, 0.21),
                       (0.15 * scale, 0.20 * scale), rise=0.6, fall=1.0)
    return gm, gl


def _soleus(rng, s, u, ny, scale):
    return _muscle_belly(rng, s, u, ny, ((0.13, 0.20), (0.93, 0.99)), (0.46, 0.54), (0.36, 0.44),
                         (0.24 * scale, 0.30 * scale), rise=0.9, fall=0.6)


def _septum(rng, s, u, gm, gl):
    """Where GM hands over to GL, per slice: the first column right of GM's belly where GL is thicker."""
    nx = u.size
    columns = np.arange(nx)
    gm_centre = np.argmax(gm, axis=1)
    handover = (gm - gl <= 0) & (columns[None, :] >= gm_centre[:, None])
    septum = np.where(handover.any(axis=1), np.argmax(handover, axis=1), nx).astype(np.float32)
    septum[gm.max(axis=1) <= 0] = -1.0                  # no GM on this slice: all of it is GL
    septum += 0.01 * nx * wobble(rng, s, u, cycles_u=0.0)[:, 0]
    # GM usually overlaps GL a little in depth, so the septum leans towards GL as it deepens.
    return septum, float(rng.uniform(-0.1, 0.45))


def _bones(rng, s, u, ny):
    """Depth of the first bone surface under each column (tibia medial, fibula lateral)."""
    top = np.full((s.size, u.size), np.inf, dtype=np.float32)
    incidence = np.zeros_like(top)
    for centre, depth, rx, ry in (((0.24, 0.34), (0.68, 0.76), (0.12, 0.16), (0.04, 0.06)),
                                  ((0.72, 0.82), (0.64, 0.72), (0.06, 0.08), (0.03, 0.04))):
        xc = rng.uniform(*centre) + 0.02 * wobble(rng, s, u, cycles_u=0.0)[:, :1]
        y_top = rng.uniform(*depth) + 0.01 * wobble(rng, s, u, cycles_u=0.0)[:, :1]
        half_x, half_y = rng.uniform(*rx), rng.uniform(*ry)
        across = np.clip(1.0 - ((u[None, :] - xc) / half_x) ** 2, 0.0, None)
        inside = across > 0
        surface = ny * (y_top + half_y * (1.0 - np.sqrt(across)))
        closer = inside & (surface < top)
        top[closer] = surface[closer]
        incidence[closer] = np.sqrt(np.sqrt(across[closer]))
    return top, incidence


def _visibility(rng, s, u, v, layout, faint_fraction):
    """Per interface, where the fascia is bright (1) and where faint or missing (0 to 0.1)."""
    exists = {
        "superficial": (layout.gastro_thickness + layout.sol_thickness) > 0,
        "aponeurosis": layout.gastro_thickness > 0,
        "deep": layout.sol_thickness > 0,
        "septum": None,
    }
    maps = {}
    for name, share in FAINT_SHARE.items():
        across = v if name == "septum" else u          # the septum runs down, the others across
        field = wobble(rng, s, across, terms=5, cycles_s=4.0, cycles_u=2.5)
        # What is left of a faint stretch: nothing (missing) up to a trace barely above the muscle.
        residual = np.clip(0.04 * (1.0 + wobble(rng, s, across, terms=3)), 0.0, 0.1)
        region = exists[name]
        pool = field[region] if region is not None and region.any() else field
        threshold = np.quantile(pool, min(0.8, faint_fraction * share))
        ramp = np.clip((field - threshold) / 0.05 + 0.5, 0.0, 1.0)   # a short, soft transition
        # Visible fascia are not uniformly bright either; they stay well above half, though.
        variation = wobble(rng, s, across, terms=4, cycles_s=6.0, cycles_u=4.0)
        strength = np.clip(0.85 + 0.15 * variation, 0.6, 1.0)
        maps[name] = (residual + ramp * (strength - residual)).astype(np.float32)
    return maps


@dataclass
class Anatomy:
    truth: np.ndarray       # uint8 labels
    tissue: np.ndarray      # uint8 Tissue per voxel
    fascia: np.ndarray      # uint8: 1 bright fascia, 2 faint or missing, 0 elsewhere
    fascia_visibility: np.ndarray   # float32, -1 where no fascia, else 0..1 (drawn brightness)
    in_soleus_layer: np.ndarray     # bool: below the gastrocnemius aponeurosis (fascicle direction)


def rasterise(layout: Layout, shape) -> Anatomy:
    nz, ny, nx = shape
    rows = np.arange(ny, dtype=np.float32)[None, :, None]
    half = np.float32(layout.half_thickness)
    top = layout.muscle_top[:, None, :]
    g_bot = layout.gastro_bottom[:, None, :]
    s_bot = layout.sol_bottom[:, None, :]
    gastro = (rows >= top + half) & (rows < g_bot - half)
    soleus = (rows >= g_bot + half) & (rows < s_bot - half)
    across = _across_septum(layout, rows[0, :, 0], nx)
    truth = np.zeros(shape, dtype=np.uint8)
    truth[gastro & (across < -half)] = GM
    truth[gastro & (across >= half)] = GL
    truth[soleus] = SOL
    visibility, recorded = _fascia_bands(layout, rows, gastro, across)
    fascia = np.where(recorded, np.where(visibility >= 0.5, 1, 2), 0).astype(np.uint8)
    tissue = _tissues(layout, rows, truth, visibility, top)
    return Anatomy(truth, tissue, fascia, visibility, rows >= g_bot)


def _across_septum(layout, rows, nx):
    """Signed column distance of each voxel from the oblique septum, shape (slices, rows, columns)."""
    depth_below_top = rows[None, :] - layout.muscle_top.mean(axis=1)[:, None]
    septum = layout.septum_x[:, None] + layout.septum_slope * np.clip(depth_below_top, 0.0, None)
    columns = np.arange(nx, dtype=np.float32)
    return columns[None, None, :] - septum[:, :, None].astype(np.float32)


def _fascia_bands(layout, rows, gastro, across):
    """Brightness of every fascia voxel (-1 elsewhere), and which ones bound a muscle."""
    half = np.float32(layout.half_thickness)
    visibility = np.full(gastro.shape, -1.0, dtype=np.float32)
    recorded = np.zeros(gastro.shape, dtype=bool)
    minimum = 2 * layout.half_thickness              # thinner than two half bands: no muscle voxel
    bands = (
        ("superficial", layout.muscle_top, layout.gastro_thickness + layout.sol_thickness),
        ("aponeurosis", layout.gastro_bottom, layout.gastro_thickness),
        ("deep", layout.sol_bottom, layout.sol_thickness),
    )
    for name, centre, bounded in bands:
        band = np.abs(rows - centre[:, None, :]) < half
        if name != "superficial":
            band &= (bounded > 0)[:, None, :]   # the fat/muscle line shows across the whole leg
        vis = np.broadcast_to(layout.visibility[name][:, None, :], band.shape)
        np.maximum(visibility, np.where(band, vis, -1.0), out=visibility)
        recorded |= band & (bounded > minimum)[:, None, :]
    septum = gastro & (np.abs(across) < half)
    vis = np.broadcast_to(layout.visibility["septum"][:, :, None], septum.shape)
    np.maximum(visibility, np.where(septum, vis, -1.0), out=visibility)
    recorded |= septum
    return visibility, recorded


def _tissues(layout, rows, truth, visibility, top):
    half = np.float32(layout.half_thickness)
    tissue = np.full(truth.shape, Tissue.DEEP, dtype=np.uint8)
    tissue[rows < top - half] = Tissue.FAT
    tissue[np.broadcast_to(rows < layout.fat_top[:, None, :], truth.shape)] = Tissue.SKIN
    tissue[np.broadcast_to(rows < layout.skin_top[:, None, :], truth.shape)] = Tissue.WATER
    tissue[truth > 0] = Tissue.MUSCLE
    tissue[visibility >= 0] = Tissue.FASCIA
    bone_top = layout.bone_top[:, None, :]
    tissue[np.broadcast_to(rows >= bone_top, truth.shape)] = Tissue.BONE
    bone_thickness = max(1.0, 2.5 * layout.half_thickness)
    tissue[np.broadcast_to(rows >= bone_top + bone_thickness, truth.shape)] = Tissue.SHADOW
    return tissue
