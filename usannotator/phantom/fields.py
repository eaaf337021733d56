"""Smooth seeded shapes: boundary wobble, muscle cross-section profiles and sweep envelopes.

Every curve is a sum of a few low-frequency sinusoids with seeded random frequencies and phases,
so shapes vary smoothly along the sweep and across the leg, and every seed gives a different leg.
Coordinates are normalised: `s` runs along the sweep and `u` across the leg, both from 0 to 1.
"""

from __future__ import annotations

import numpy as np


def wobble(rng, s, u, terms=4, cycles_s=3.0, cycles_u=2.0) -> np.ndarray:
    """A smooth random field over (s, u) of about unit standard deviation, shape (len(s), len(u)).

    `cycles_*` bound how many periods fit along each axis: low values keep boundaries smooth.
    Pass `cycles_u=0` for a curve that only varies along the sweep (the result still has len(u)
    columns so it broadcasts like the others).
    """
    s = np.asarray(s, dtype=np.float32)[:, None]
    u = np.asarray(u, dtype=np.float32)[None, :]
    field = np.zeros((s.shape[0], u.shape[1]), dtype=np.float32)
    power = 0.0
    for k in range(terms):
        amplitude = rng.uniform(0.5, 1.0) / (1.0 + 0.5 * k)   # later terms finer and weaker
        fs = rng.uniform(0.3, cycles_s)
        fu = rng.uniform(-cycles_u, cycles_u)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        angle = np.float32(2 * np.pi) * (fs * s + fu * u) + np.float32(phase)
        field += np.float32(amplitude) * np.sin(angle)
        power += amplitude ** 2 / 2.0
    return field / np.float32(np.sqrt(power))


def lens(u, center, half_width, power=0.5) -> np.ndarray:
    """A muscle's cross-section thickness profile across the leg: 1 at the centre, 0 at the tips.

    A power below 1 flattens the belly and keeps the tips pointed, as muscle bellies look in
    transverse ultrasound. `center` and `half_width` may vary along the sweep (column vectors).
    """
    half_width = np.maximum(half_width, 1e-6)
    t = 1.0 - ((np.asarray(u)[None, :] - center) / half_width) ** 2
    return np.clip(t, 0.0, None).astype(np.float32) ** np.float32(power)


def envelope(s, start, end, rise=0.5, fall=1.0) -> np.ndarray:
    """How much of a muscle there is along the sweep: 0 outside [start, end], peak 1 inside.

    A beta-like bump t^rise (1-t)^fall: a muscle grows from its origin, peaks, then tapers into
    its tendon; `rise` < `fall` puts the belly nearer the origin, as for the gastrocnemii.
    """
    t = (np.asarray(s, dtype=np.float64) - start) / (end - start)
    inside = (t > 0) & (t < 1)
    bump = np.zeros_like(t)
    bump[inside] = t[inside] ** rise * (1 - t[inside]) ** fall
    peak = (rise / (rise + fall)) ** rise * (fall / (rise + fall)) ** fall
    return (bump / peak).astype(np.float32)


def thin_lines(phase, sharpness=6) -> np.ndarray:
    """Thin bright lines where `phase` (in periods) is an integer: 1 on a line, near 0 between.

    Raising a raised cosine to a power narrows each line, so the lines stay thin whatever the
    period, like fascicle septa or fat strands.
    """
    lines = (0.5 + 0.5 * np.cos(np.float32(2 * np.pi) * phase)).astype(np.float32)
    out = lines
    for _ in range(sharpness - 1):
        out = out * lines
    return out
