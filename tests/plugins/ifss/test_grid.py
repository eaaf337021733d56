"""Slices to the network grid and back: resize (lite), centre crop or pad (full), z-score."""

import dataclasses

import numpy as np
import torch

from usannotator_plugins.ifss.config import FULL, LITE
from usannotator_plugins.ifss.grid import IntensityStats, SliceGrid, prepare_image


def test_resize_round_trip_keeps_a_large_shape():
    grid = SliceGrid((96, 160), dataclasses.replace(LITE, slice_size=32))
    mask = torch.zeros(1, 96, 160)
    mask[0, 24:72, 40:120] = 1
    on_grid = grid.masks(mask)
    assert on_grid.shape == (1, 32, 32) and set(on_grid.unique().tolist()) == {0.0, 1.0}
    back = grid.back(on_grid) >= 0.5
    assert back.shape == (1, 96, 160)
    overlap = (back & mask.bool()).sum() / mask.sum()
    assert overlap > 0.95


def test_crop_and_pad_are_centred_and_invert():
    config = dataclasses.replace(FULL, slice_size=8)
    grid = SliceGrid((12, 6), config)         # depth cropped by 4, lateral padded by 2
    x = torch.arange(72, dtype=torch.float32).reshape(1, 12, 6)
    on_grid = grid.image(x, fill=-1.0)
    assert torch.equal(on_grid[0, :, 1:7], x[0, 2:10])
    assert (on_grid[0, :, 0] == -1).all() and (on_grid[0, :, 7] == -1).all()
    back = grid.to_volume(on_grid)
    assert torch.equal(back[0, 2:10], x[0, 2:10])
    assert (back[0, :2] == 0).all() and (back[0, 10:] == 0).all()     # cropped away: background
    edge = np.zeros((12, 6), bool)
    edge[0, 3] = True
    assert grid.mask_outside_crop(edge) and not grid.mask_outside_crop(np.roll(edge, 5, axis=0))


def test_zscore_uses_non_zero_voxels_only():
    volume = np.zeros((4, 16, 16), np.uint8)
    volume[:, 4:12, 4:12] = np.arange(64, dtype=np.uint8).reshape(8, 8) + 10
    stats = IntensityStats.of(volume)
    inside = volume[volume != 0].astype(float)
    assert stats.mean == inside.mean() and abs(stats.std - inside.std()) < 1e-9
    image, grid, used = prepare_image(volume, dataclasses.replace(LITE, slice_size=16))
    assert image.shape == (4, 16, 16) and used == stats
    assert abs(float(image[:, 4:12, 4:12].mean())) < 1e-5
