"""IFSS-Net lite as a Segmenter for the rest of the application (border analysis computes
activation maps on it without importing this plugin). Torch is imported inside the methods."""

from __future__ import annotations

import numpy as np

from usannotator.core.errors import UserError
from usannotator.plugins.api import Segmenter


class IFSSSegmenter(Segmenter):
    name = "ifss-lite"
    title = "IFSS-Net lite"

    def __init__(self, weights=None):
        self.weights = weights
        self._prepared = (None, None)

    def _path(self):
        from usannotator_plugins.ifss.weights import shipped_weights

        return self.weights or shipped_weights("lite")

    def available(self) -> tuple:
        path = self._path()
        if not path.is_file():
            return False, f"the IFSS-Net lite weights are missing ({path})"
        return True, ""

    def load(self, device: str = "cpu"):
        from usannotator.jobs import choose_device
        from usannotator_plugins.ifss.weights import load_model

        try:
            device = choose_device(device)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        return load_model(self._path(), "lite", device)[0].eval()

    def layers(self, model) -> dict:
        return model.gradcam_layers()

    def slice_logits(self, model, image, labels, z: int, label: int):
        """Foreground logits of slice z as propagation computes them: chains from the nearest
        slices holding `label` on each side (z itself excluded, so the network predicts it rather
        than copying it), the window holding z evaluated with gradients, sides blended by distance."""
        import torch

        image, labels = np.asarray(image), np.asarray(labels)
        present = np.flatnonzero((labels == label).reshape(labels.shape[0], -1).any(axis=1))
        below, above = present[present < z], present[present > z]
        if not below.size and not above.size:
            raise UserError(f"label {label} appears on no slice besides {z}: nothing to propagate from")
        grid_image, grid = self._grid_image(model, image)
        sides = []
        if below.size:
            sides.append((int(below[-1]), 1))
        if above.size:
            sides.append((int(above[0]), -1))
        logits = []
        for start, direction in sides:
            mask = grid.masks(torch.from_numpy(labels[start] == label)[None])[0]
            logits.append(self._window_logit(model, grid_image, mask, start, direction, z))
        if len(logits) == 2:
            lo, hi = sides[0][0], sides[1][0]
            blended = ((hi - z) / (hi - lo)) * logits[0] + ((z - lo) / (hi - lo)) * logits[1]
        else:
            blended = logits[0]
        return grid.to_volume(blended[None])[0]

    def _grid_image(self, model, image):
        from usannotator_plugins.ifss.grid import prepare_image

        key = (id(model), image.shape, hash(image[::7, ::7, ::7].tobytes()))
        if self._prepared[0] != key:
            tensor, grid, _ = prepare_image(image, model.config)
            device = next(model.parameters()).device
            self._prepared = (key, (tensor.to(device), grid))
        return self._prepared[1]

    @staticmethod
    def _window_logit(model, grid_image, key_mask, start, direction, z):
        """Run the chain without gradients up to the window holding z, that window with them."""
        import torch

        from usannotator_plugins.ifss.chains import window_slices
        from usannotator_plugins.ifss.model import foreground_probability

        config = model.config
        w, stride = config.window, config.stride
        device = grid_image.device
        offset = abs(z - start) - 1
        step, position = offset // stride, offset % stride
        carried = key_mask.to(device).expand(w, -1, -1)
        n_z = grid_image.shape[0]
        with torch.no_grad():
            for j in range(step):
                idx = window_slices(start, direction, j, w, stride, n_z)
                carried = foreground_probability(model(grid_image[idx][None, None], carried[None, None]))[0]
        idx = window_slices(start, direction, step, w, stride, n_z)
        logits = model(grid_image[idx][None, None], carried[None, None].detach().clone())
        return logits[0, 1, position]
