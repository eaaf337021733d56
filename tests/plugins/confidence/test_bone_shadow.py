"""On real tracked frames over a bone, the acoustic shadow under the bone comes out as low
confidence (spec section 9, test 7).

Where the bone is: its surface is the brightest structure of each scan line in the lower part of
the frame (the fascia lines above it are thinner and dimmer), so after light smoothing the row of
maximum intensity per column finds it; columns where that maximum is not clearly above the
column's typical brightness have no bone. Regions then follow the surface: a band 20..80 rows
under it (shadow) and 80..20 rows above it (muscle), per column.
"""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from usannotator_plugins.confidence.algorithm import confidence_map

FRAMES = (0, 20)                 # both ends of the sweep; each frame is 616 x 820
SEARCH_ROWS = slice(200, 560)    # below the skin and fascia, above the bottom


def bone_surface(frame):
    """Row of the bone surface per column, -1 where there is no bone."""
    smooth = gaussian_filter(frame.astype(float), 4)
    rows = np.argmax(smooth[SEARCH_ROWS], axis=0) + SEARCH_ROWS.start
    peak = smooth[rows, np.arange(frame.shape[1])]
    typical = np.median(smooth, axis=0)
    bone = (peak > 4 * np.maximum(typical, 1)) & (rows < 400)   # the arc, not deeper echoes
    return np.where(bone, rows, -1)


@pytest.fixture(scope="module", params=FRAMES)
def frame_and_map(request, bone_sequence):
    frame = bone_sequence.array[request.param]
    return frame, confidence_map(frame)


def test_the_bone_is_found(frame_and_map):
    frame, _ = frame_and_map
    surface = bone_surface(frame)
    columns = np.flatnonzero(surface >= 0)
    assert len(columns) > 150                      # the arc spans ~300 of the 466 imaged columns
    assert 230 < np.median(surface[columns]) < 360


def test_shadow_under_the_bone_is_less_confident_than_the_muscle_above(frame_and_map):
    frame, cm = frame_and_map
    surface = bone_surface(frame)
    above, below = [], []
    for c in np.flatnonzero(surface >= 0):
        r = surface[c]
        above.append(cm[r - 80:r - 20, c].mean())
        below.append(cm[r + 20:r + 80, c].mean())
    above, below = np.array(above), np.array(below)
    assert below.mean() < 0.5 * above.mean()
    assert np.mean(below < 0.6 * above) > 0.9       # column by column, not only on average


def test_shadow_is_darker_than_tissue_beside_the_bone_at_the_same_depth(frame_and_map):
    """Not just depth: at the same rows, columns without bone above keep more confidence."""
    frame, cm = frame_and_map
    surface = bone_surface(frame)
    bone_columns = np.flatnonzero(surface >= 0)
    top = int(np.median(surface[bone_columns]))
    rows = slice(top + 30, top + 90)
    imaged = np.flatnonzero(frame.max(axis=0) > 0)
    beside = [c for c in imaged if surface[c] < 0 and frame[:top + 90, c].max() > 0
              and abs(c - bone_columns).min() > 20]
    assert len(beside) > 20
    shadow = cm[rows][:, [c for c in bone_columns if surface[c] < top + 30]].mean()
    assert shadow < 0.6 * cm[rows][:, beside].mean()
