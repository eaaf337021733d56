"""Where a segmenter's evidence sat when deciding distinct versus completed border pixels (Seg-Grad-CAM).

For a layer with activations A and a set M of border pixels of one kind on one sweep slice:
  S = sum of the muscle's logits over M;  G = dS/dA;  a_k = mean of G_k over space;  map = ReLU(sum_k a_k A_k),
upsampled to the slice grid. Only M differs between the two maps.

Caveat (spec 5.3): when only linear, translation-invariant operations lie between A and the logits
(the output layer itself, or a layer followed only by a 1x1 convolution), a_k is the same for both
kinds up to the factor |M|, so the two maps coincide after normalisation. Hence the default layer is
the segmenter's first declared one (the penultimate decoder stage), and every result is checked.

Works on any Segmenter the loaded plugins offer (usannotator.plugins.api), never importing a plugin.
torch is imported inside functions, so this module loads without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from usannotator.core.errors import UserError

COINCIDE_MESSAGE = ("this layer cannot tell the two border kinds apart: both maps are the same map scaled "
                    "(always so at the output layer, or where only linear operations follow); pick an earlier layer")
NO_MODEL_MESSAGE = "no segmentation model is available"
TARGETS = ("muscle", "background")
# "global": Seg-Grad-CAM, one weight per channel (gradient averaged over space), as the spec says.
# "per-pixel": gradient times activation at each position (HiResCAM), an option because global weights
# of two border subsets of one muscle are often nearly parallel in small networks (see README).
WEIGHTINGS = ("global", "per-pixel")


@dataclass
class SliceActivation:
    """Raw (un-normalised, >= 0) maps of one sweep slice on the slice grid (depth, lateral)."""

    z: int
    distinct: np.ndarray | None        # None when the slice has no border of that kind
    completed: np.ndarray | None
    scores: dict                       # kind -> S, the summed logit whose gradient made the map

    def normalised(self) -> tuple[np.ndarray, np.ndarray]:
        """Both maps on one scale (joint normalisation), so colours compare across the two views."""
        blank = np.zeros_like(self.distinct if self.distinct is not None else self.completed)
        return joint_normalise(_or(self.distinct, blank), _or(self.completed, blank))

    @property
    def coincide(self) -> bool:
        if self.distinct is None or self.completed is None:
            return False
        return maps_coincide(self.distinct, self.completed)

    @property
    def empty(self) -> list[str]:
        """Kinds whose map is zero everywhere: the weighted sum was negative all over before the ReLU
        (it happens in small networks; the view should say "no positive evidence at this layer")."""
        return [k for k, m in (("distinct", self.distinct), ("completed", self.completed))
                if m is not None and not m.any()]


@dataclass
class BorderActivation:
    """Activation maps of one muscle over some sweep slices, with the settings that produced them."""

    label: int
    layer: str
    target: str
    weights: str = "global"
    slices: dict = field(default_factory=dict)   # z -> SliceActivation
    message: str = ""                            # what the user must know before reading the maps
    normalisation: str = "joint per slice"

    @property
    def coinciding_slices(self) -> list[int]:
        return [z for z, s in self.slices.items() if s.coincide]

    @property
    def empty_maps(self) -> dict:
        """{z: kinds whose map is empty} (see SliceActivation.empty)."""
        return {z: s.empty for z, s in self.slices.items() if s.empty}

    def volumes(self, shape, normalised: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(distinct, completed) float32 volumes of `shape`; slices without a map stay 0."""
        out = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        for z, s in self.slices.items():
            pair = s.normalised() if normalised else (s.distinct, s.completed)
            for volume, plane in zip(out, pair):
                if plane is not None:
                    volume[z] = plane
        return out


def _or(value, default):
    return default if value is None else value


# ---- normalisation and the guard (numpy only) -------------------------------------------------------

def joint_normalise(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract the common minimum, divide by the larger maximum: the two maps stay comparable."""
    low = min(float(a.min()), float(b.min()))
    high = max(float(a.max()), float(b.max())) - low
    if high <= 0:
        return np.zeros_like(a, np.float32), np.zeros_like(b, np.float32)
    return ((a - low) / high).astype(np.float32), ((b - low) / high).astype(np.float32)


def per_map_normalise(a: np.ndarray) -> np.ndarray:
    """The authors' min-max (with their 1e-7): used by the guard, because joint scaling hides degeneracy."""
    shifted = a - a.min()
    return (shifted / (shifted.max() + 1e-7)).astype(np.float32)


def maps_coincide(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the two maps are the same up to scale (spec 5.3 guard)."""
    na, nb = per_map_normalise(a).astype(np.float64), per_map_normalise(b).astype(np.float64)
    if np.abs(na - nb).max() < 1e-6:
        return True
    if na.std() == 0 or nb.std() == 0:
        return False
    return float(np.corrcoef(na.ravel(), nb.ravel())[0, 1]) > 0.9999


# ---- finding a model ----------------------------------------------------------------------------------

def available_segmenters(records=None) -> tuple[list, str]:
    """(segmenters that can load, why there are none) from the loaded plugins (discovered if not given)."""
    from usannotator.plugins import discover, segmenters

    offered = segmenters(discover() if records is None else records)
    usable, reasons = [], []
    for segmenter in offered:
        ok, why = segmenter.available()
        if ok:
            usable.append(segmenter)
        else:
            reasons.append(f"{segmenter.title}: {why}")
    if usable:
        return usable, ""
    detail = "; ".join(reasons) if reasons else "no loaded plugin offers one"
    return [], f"{NO_MODEL_MESSAGE} ({detail})"


def choose_layer(segmenter, model, layer: str | None = None) -> tuple[str, object]:
    """(name, module) of the requested layer, or of the segmenter's default (its first) layer."""
    layers = dict(segmenter.layers(model))
    if not layers:
        raise UserError(f"{segmenter.title} declares no layer for activation maps")
    name = layer if layer is not None else next(iter(layers))
    if name not in layers:
        raise UserError(f"{segmenter.title} has no layer {name!r}; choose one of {', '.join(layers)}")
    return name, layers[name]


def layer_caveat(model, module) -> str:
    """The coincidence warning when the layer is the network output (known before computing anything)."""
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    at_output = module is model or (leaves and any(m is leaves[-1] for m in module.modules()))
    return COINCIDE_MESSAGE if at_output else ""


# ---- the maps -----------------------------------------------------------------------------------------

def slice_activation(segmenter, model, image, labels, z: int, label: int, distinct, completed,
                     layer: str | None = None, target: str = "muscle", weights: str = "global") -> SliceActivation:
    """Maps of one slice. `distinct`/`completed`: (H, W) masks of the border pixels of each kind (M)."""
    import torch

    if target not in TARGETS:
        raise UserError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if weights not in WEIGHTINGS:
        raise UserError(f"weights must be one of {', '.join(WEIGHTINGS)}, got {weights!r}")
    masks = {"distinct": np.asarray(distinct, bool), "completed": np.asarray(completed, bool)}
    if not any(m.any() for m in masks.values()):
        raise UserError(f"slice {z} has no border pixel of label {label}")
    _, module = choose_layer(segmenter, model, layer)
    with torch.inference_mode(False), torch.enable_grad():
        captured, logits = _forward_with_hook(segmenter, model, module, image, labels, z, label)
        if tuple(logits.shape) != masks["distinct"].shape:
            raise UserError(f"{segmenter.title} returned logits of shape {tuple(logits.shape)} for a slice of "
                            f"shape {masks['distinct'].shape}")
        sign = 1.0 if target == "muscle" else -1.0  # background log-odds of a per-muscle (sigmoid) output
        maps, scores = {}, {}
        for kind, mask in masks.items():
            if not mask.any():
                maps[kind] = None
                continue
            score = sign * logits[torch.as_tensor(mask, device=logits.device)].sum()
            scores[kind] = float(score.detach())
            maps[kind] = _cam(score, captured, logits.shape, weights)
    return SliceActivation(z, maps["distinct"], maps["completed"], scores)


def _forward_with_hook(segmenter, model, module, image, labels, z, label):
    """Logits of the slice, with the layer's outputs turned into leaves whose gradient we can take."""
    captured = []

    def keep(_module, _inputs, output):
        first = output[0] if isinstance(output, (tuple, list)) else output
        # a fresh leaf: gradients stop here (cheaper) and exist even when the weights are frozen; the
        # network goes on with a copy, which an in-place operation downstream (ReLU(inplace)) may change
        leaf = first.detach().requires_grad_(True)
        captured.append(leaf)
        onward = leaf.clone()
        return onward if first is output else type(output)([onward, *output[1:]])

    handle = module.register_forward_hook(keep)
    try:
        logits = segmenter.slice_logits(model, image, labels, z, label)
    finally:
        handle.remove()
    if not captured:
        raise UserError("the chosen layer was not used to compute this slice's logits")
    return captured, logits


def _cam(score, captured, size, weights="global") -> np.ndarray:
    """Grad-CAM of `score`, summed over every use of the layer (a layer run once per frame of a window
    only gets a gradient from the frame that made this slice, so the others add nothing)."""
    import torch

    grads = torch.autograd.grad(score, captured, retain_graph=True, allow_unused=True)
    total = torch.zeros(tuple(size), dtype=torch.float32, device=captured[0].device)
    for activation, grad in zip(captured, grads):
        if grad is not None:
            total += _one_cam(activation.detach(), grad, size, weights)
    return total.cpu().numpy().astype(np.float32)


def _one_cam(activation, grad, size, weights="global"):
    import torch.nn.functional as F

    a, g = _batched(activation), _batched(grad)           # (N, K, *spatial)
    if weights == "global":
        g = g.mean(dim=tuple(range(2, a.dim())), keepdim=True)  # global average pooling of the gradient
    cam = F.relu((g * a).sum(dim=1))                      # (N, *spatial)
    if cam.dim() == 4:                                    # a 3D window: keep the slice's own plane
        plane = _batched(grad).abs().sum(dim=(0, 1, 3, 4)).argmax()  # the plane the score depends on most
        cam = cam[:, plane]
    up = F.interpolate(cam[:, None], size=tuple(size), mode="bilinear", align_corners=False)
    return up.sum(dim=(0, 1))


def _batched(t):
    return t[None] if t.dim() == 3 else t                 # (K, H, W) -> (1, K, H, W)


def border_activation_maps(progress, segmenter, image, labels, distinct, completed, label: int,
                           slices=None, layer: str | None = None, target: str = "muscle",
                           weights: str = "global", device: str = "cpu", model=None) -> BorderActivation:
    """Job: maps of muscle `label` on each slice holding its border (or on `slices`).

    `distinct`/`completed`: the split volumes (z, y, x). Loads the model when not given. Progress is
    updated after every slice, so Cancel stops between slices.
    """
    import torch

    if model is None:
        with torch.inference_mode(False):  # weights made under inference mode could not be differentiated
            model = segmenter.load(device)
    name, module = choose_layer(segmenter, model, layer)
    caveat = layer_caveat(model, module) if weights == "global" else ""
    result = BorderActivation(label, name, target, weights, message=caveat)
    todo = _slices_with_border(distinct, completed, label) if slices is None else [int(z) for z in slices]
    for i, z in enumerate(todo):
        masks = distinct[z] == label, completed[z] == label
        if masks[0].any() or masks[1].any():
            result.slices[z] = slice_activation(segmenter, model, image, labels, z, label, *masks, name, target,
                                                weights)
        progress.update((i + 1) / max(len(todo), 1), f"activation maps, slice {z}")
    if result.coinciding_slices and not result.message:
        result.message = COINCIDE_MESSAGE
    return result


def _slices_with_border(distinct, completed, label) -> list[int]:
    present = ((distinct == label) | (completed == label)).any(axis=(1, 2))
    return [int(z) for z in np.flatnonzero(present)]
