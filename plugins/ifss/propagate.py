"""Interactive propagation (spec section 8): key masks carried through the volume by IFSS-Net.

For each muscle and each pair of neighbouring key slices, a forward chain from the first key and a
backward chain from the second are blended by distance. All chains run in lock-step as one batch.
A correction becomes a key slice; `recompute_around` recomputes only its two neighbouring
intervals, and cached chains make that cost two new chains. Results are one PropagationResult,
which becomes ONE undoable Edit (source PROPAGATED) through Document.apply_edit.

Nothing here touches Qt; torch is imported by this module, which the GUI loads with the model.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from usannotator.core.edits import Edit
from usannotator.core.errors import UserError
from usannotator.core.provenance import Source
from usannotator.jobs import Job, choose_device, is_out_of_memory
from usannotator_plugins.ifss.chains import ChainPlan, ChainRunner, steps_needed
from usannotator_plugins.ifss.config import SPEC_THRESHOLD, THRESHOLD  # noqa: F401 (SPEC_THRESHOLD: for callers)
from usannotator_plugins.ifss.grid import prepare_image
from usannotator_plugins.ifss.weights import load_model, shipped_weights, weights_fingerprint

TAIL_MIN_PIXELS = 10
TAIL_MIN_SHARE = 0.02
NAMES = {1: "GM", 2: "GL", 3: "SOL"}


# ----------------------------------------------------------------------------- results

@dataclass
class PropagationResult:
    """New label values for a box of sweep slices; `to_edit()` makes the one undoable edit."""

    region: tuple                      # (z slice, y slice, x slice) into the label map
    values: np.ndarray                 # the box's new labels
    changed: np.ndarray                # voxels of the box whose value changes
    slices_written: dict               # {label: [z, ...]} the slices each muscle recomputed
    description: str = "IFSS-Net propagation"
    windows_evaluated: int = 0
    chains_computed: int = 0
    chains_reused: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    messages: list = field(default_factory=list)

    def to_edit(self) -> Edit:
        return Edit(self.region, self.values, mask=self.changed, description=self.description,
                    source=Source.PROPAGATED, slices_written={k: list(v) for k, v in self.slices_written.items()})

    def applied_to(self, labels: np.ndarray) -> np.ndarray:
        """A copy of `labels` with the result written (command line, scripts)."""
        out = labels.copy()
        out[self.region] = np.where(self.changed, self.values, out[self.region])
        return out

    @property
    def recomputed_slices(self) -> list:
        return sorted({z for zs in self.slices_written.values() for z in zs})


@dataclass(frozen=True)
class Interval:
    """Slices strictly between two keys of a muscle; a tail has one end None (beyond the keys)."""

    label: int
    low: int | None
    high: int | None

    def slices(self, n_slices: int) -> range:
        lo = -1 if self.low is None else self.low
        hi = n_slices if self.high is None else self.high
        return range(lo + 1, hi)


# ----------------------------------------------------------------------------- inputs

def checked_inputs(image, labels, key_slices, locked, labels_to_run, window: int):
    """Validate and normalise the inputs; returns (labels_to_run, {label: sorted keys})."""
    image = np.asarray(image)
    if image.ndim != 3:
        raise UserError(f"the image must be a 3D volume, got {image.ndim} dimensions")
    if np.asarray(labels).shape != image.shape:
        raise UserError(f"the labels have shape {np.asarray(labels).shape} but the image has {image.shape}")
    n_z = image.shape[0]
    if n_z < window:
        raise UserError(f"the volume has {n_z} slices along the sweep; IFSS-Net needs at least {window}")
    keys = {int(l): sorted({int(z) for z in zs}) for l, zs in (key_slices or {}).items() if len(zs)}
    for label, zs in keys.items():
        if zs[0] < 0 or zs[-1] >= n_z:
            raise UserError(f"key slice {zs[-1] if zs[-1] >= n_z else zs[0]} of label {label} is outside "
                            f"the volume (0..{n_z - 1})")
    locked = {int(v) for v in (locked or ())}
    if labels_to_run is None:
        labels_to_run = [l for l in sorted(keys) if l not in locked]
    else:
        labels_to_run = sorted({int(l) for l in labels_to_run})
        for l in labels_to_run:
            if l in locked:
                raise UserError(f"label {_name(l)} is locked; unlock it to propagate it")
    if not any(keys.get(l) for l in labels_to_run):
        raise UserError("no key slice to propagate from: draw each muscle on at least two slices")
    return labels_to_run, keys


def intervals_of(label: int, keys: list, n_slices: int, extend_tails: bool) -> list:
    found = [Interval(label, a, b) for a, b in zip(keys, keys[1:]) if b - a > 1]
    if extend_tails and keys:
        if keys[0] > 0:
            found.insert(0, Interval(label, None, keys[0]))
        if keys[-1] < n_slices - 1:
            found.append(Interval(label, keys[-1], None))
    return found


def intervals_around(keys: list, label: int, z: int, n_slices: int, extend_tails: bool = False) -> list:
    """The intervals a new key slice z of `label` splits or extends (spec 8.6)."""
    keys = sorted(set(keys) | {z})
    return [iv for iv in intervals_of(label, keys, n_slices, extend_tails) if z in (iv.low, iv.high)]


def blend_weights(z: int, low: int, high: int) -> tuple:
    """(forward, backward) weights of slice z between keys low < z < high: each chain is weighted
    by closeness to its own key (spec 8.3)."""
    span = high - low
    return (high - z) / span, (z - low) / span


def _name(label: int) -> str:
    return NAMES.get(int(label), str(label))


def _digest(array: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(str((array.shape, array.dtype.str)).encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- the propagator

class Propagator:
    """A model, its device and the chain cache for one document.

    Create it anywhere (it is cheap); the model loads on first use, in the thread that calls
    propagate (the host's model thread). Adapted weights (`adapt`) stay with this propagator only.
    """

    def __init__(self, weights=None, device: str = "auto", config_name: str = "lite", batch: int | None = None,
                 threshold: float = THRESHOLD):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"the threshold must be in (0, 1], got {threshold}")
        self.weights_path = weights
        self.threshold = float(threshold)     # THRESHOLD, or SPEC_THRESHOLD for the spec's 0.5
        self.requested_device = device
        self.config_name = config_name
        self.batch = batch
        self.model = None
        self.device = None
        self.fingerprint = None
        self.tversky_omega = None
        self.messages: list = []
        self._image_key = None
        self._prepared = None
        self._cache: dict = {}

    # --- model

    def follow_host_device(self, device) -> None:
        """The host's model thread passes the device it chose; a propagator left on "auto" takes it
        (before its model loads). It keeps its own out-of-memory fallback either way."""
        if device and self.requested_device == "auto" and self.device is None:
            self.requested_device = "cpu" if device.startswith("cpu") else device

    def ensure_model(self):
        if self.model is None:
            try:
                device = choose_device(self.requested_device)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            path = self.weights_path or shipped_weights(self.config_name)
            self.model, payload = load_model(path, self.config_name, device)
            self.tversky_omega = payload.get("tversky_omega")
            self.device = device
            self.fingerprint = weights_fingerprint(self.model)
        return self.model

    @property
    def config(self):
        return self.ensure_model().config

    def use_model(self, model) -> None:
        """Swap in other weights (e.g. adapted ones); cached chains of the old weights are dropped."""
        self.device = self.device or "cpu"
        self.model = model.eval().to(self.device)
        self.fingerprint = weights_fingerprint(model)
        self._cache.clear()

    def _fall_back_to_cpu(self) -> None:
        message = f"the {self.device} device ran out of memory; continuing on the CPU"
        self.messages.append(message)
        self.model.to("cpu")
        self.device = "cpu"
        self._image_key = self._prepared = None   # cached chain outputs live on the CPU already
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # --- image
    def prepared_image(self, image: np.ndarray):
        key = (_digest(image), self.fingerprint)
        if self._image_key != key:
            tensor, grid, stats = prepare_image(image, self.config)
            self._prepared = (tensor.to(self.device), grid, stats)
            self._image_key = key
            self._cache = {k: v for k, v in self._cache.items() if k[0] == key}
        return self._prepared

    # --- propagation
    def propagate(self, progress, image, labels, key_slices, locked=(), labels_to_run=None,
                  intervals=None, extend_tails: bool = False, preview: bool = True) -> PropagationResult:
        """Propagate the key masks of `labels_to_run` (default: every unlocked label with keys).

        key_slices: {label: sweep indices} (Provenance.key_slices); locked: label values never
        written. intervals: {label: [Interval, ...]} to recompute only those (default: all).
        preview: stream {"label", "slices", "probability" (n, Y, X), "direction"} via progress.partial.
        """
        self.ensure_model()
        self.messages = []
        while True:
            try:
                return self._propagate(progress, np.asarray(image), np.asarray(labels), key_slices, locked,
                                       labels_to_run, intervals, extend_tails, preview)
            except RuntimeError as exc:
                if self.device == "cpu" or not is_out_of_memory(exc):
                    raise
                self._fall_back_to_cpu()

    def recompute_around(self, progress, image, labels, key_slices, locked, label: int, z: int,
                         extend_tails: bool = False, preview: bool = True) -> PropagationResult:
        """After the user corrected slice z of `label` (now a key slice): recompute only the
        intervals on either side of z; every other slice stays byte-identical."""
        keys = dict(key_slices)
        keys[int(label)] = sorted(set(int(k) for k in keys.get(int(label), ())) | {int(z)})
        n_z = np.asarray(image).shape[0]
        around = intervals_around(keys[int(label)], int(label), int(z), n_z, extend_tails)
        return self.propagate(progress, image, labels, keys, locked, [int(label)], {int(label): around},
                              extend_tails, preview)

    def _propagate(self, progress, image, labels, key_slices, locked, labels_to_run, intervals,
                   extend_tails, preview) -> PropagationResult:
        started = time.perf_counter()
        config = self.config
        run_labels, keys = checked_inputs(image, labels, key_slices, locked, labels_to_run, config.window)
        n_z = image.shape[0]
        todo = self._intervals_to_run(run_labels, keys, n_z, intervals, extend_tails)
        if not any(todo.values()):
            raise UserError("nothing to propagate: each muscle needs two key slices with a gap between them"
                            + ("" if extend_tails else " (or turn on extending beyond the end keys)"))
        progress.update(0.0, "preparing the image")
        grid_image, grid, _ = self.prepared_image(image)
        plans = self._plans(todo, labels, grid)
        self._warn_about_crop(todo, labels, grid)
        runner, computed, reused = self._run_plans(plans, grid_image, grid, progress, preview)
        progress.update(0.97, "writing labels")
        result = self._resolve(image.shape, labels, todo, plans, grid)
        result.windows_evaluated = runner.windows_evaluated
        result.chains_computed, result.chains_reused = computed, reused
        result.seconds = time.perf_counter() - started
        result.device = self.device
        result.messages = list(self.messages)
        progress.update(1.0, f"propagated {', '.join(_name(l) for l in todo if todo[l])}")
        return result

    def _warn_about_crop(self, todo, labels, grid) -> None:
        """Full configuration: key masks reaching outside the 512-pixel crop are cut."""
        ends = {(label, end) for label, ivs in todo.items() for iv in ivs for end in (iv.low, iv.high)
                if end is not None}
        for label, end in sorted(ends):
            if grid.mask_outside_crop(labels[end] == label):
                self.messages.append(f"the key mask of {_name(label)} on slice {end} reaches outside the "
                                     f"network's {grid.size}-pixel crop; that part is ignored")

    def _intervals_to_run(self, run_labels, keys, n_z, intervals, extend_tails) -> dict:
        todo = {}
        for label in run_labels:
            known = intervals_of(label, keys.get(label, []), n_z, extend_tails)
            if intervals is None or label not in intervals:
                todo[label] = [] if intervals is not None else known
                continue
            wanted = list(intervals[label])
            unknown = [iv for iv in wanted if iv not in known]
            if unknown:
                raise ValueError(f"{unknown[0]} is not an interval between neighbouring key slices of label {label}")
            todo[label] = wanted
        return todo

    def _plans(self, todo: dict, labels: np.ndarray, grid) -> dict:
        """{(label, start, direction, length, stop_area): ChainPlan}, one per chain end of each interval."""
        plans = {}
        n_z = labels.shape[0]
        for label, ivs in todo.items():
            for iv in ivs:
                n = len(iv.slices(n_z))
                for start, direction in ((iv.low, 1), (iv.high, -1)):
                    if start is None:
                        continue
                    tail = iv.low is None or iv.high is None
                    mask = labels[start] == label
                    plan = self._plan(label, start, direction, n, mask, grid, tail)
                    plans[(label, start, direction)] = plan
        return plans

    def _plan(self, label, start, direction, length, mask, grid, tail) -> ChainPlan:
        key_mask = grid.masks(torch.from_numpy(mask)[None])[0]
        stop = max(TAIL_MIN_PIXELS, TAIL_MIN_SHARE * float(key_mask.sum())) if tail else None
        plan = ChainPlan(label, start, direction, length, key_mask, stop_area=stop)
        plan.cache_key = (self._image_key, label, start, direction, _digest(mask))
        cached = self._cache.get(plan.cache_key)
        if cached is not None:
            outputs, carried = cached
            use = min(len(outputs), length)
            plan.outputs = list(outputs[:use])
            plan.done = use
            plan.carried = carried if use < length else None
            plan.from_cache = use
            if tail:
                _apply_tail_stop(plan)
        return plan

    def _run_plans(self, plans: dict, grid_image, grid, progress, preview):
        config = self.config
        runner = ChainRunner(self.model, grid_image, config, self.device, self.batch or _batch_for(self.device))
        pending = [p for p in plans.values() if p.active()]
        total = max(sum(steps_needed(p.length - p.done, config.stride) for p in pending), 1)

        def check():
            progress.update(0.02 + 0.95 * runner.windows_evaluated / total,
                            f"propagating: {runner.windows_evaluated} of about {total} windows")

        def on_step(plan, slices, probs):
            if preview:
                progress.partial({"label": plan.label, "slices": slices,
                                  "probability": grid.back(probs.float()).numpy(),
                                  "direction": "forward" if plan.direction > 0 else "backward"})

        runner.run(pending, check=check, on_step=on_step)
        for plan in plans.values():
            if plan.done > plan.from_cache:
                self._cache[plan.cache_key] = (list(plan.outputs), plan.carried)
        return runner, len(pending), len(plans) - len(pending)

    # --- write rules (spec 8.5 = ZOI 4.4 with P in place of F)
    def _resolve(self, shape, labels, todo, plans, grid) -> PropagationResult:
        n_z = shape[0]
        recompute = {l: sorted({z for iv in ivs for z in iv.slices(n_z)}) for l, ivs in todo.items() if ivs}
        all_z = sorted({z for zs in recompute.values() for z in zs})
        z0, z1 = all_z[0], all_z[-1] + 1
        old = labels[z0:z1]
        new = old.astype(np.uint16, copy=True)
        run = sorted(recompute)
        members = {l: np.zeros(z1 - z0, dtype=bool) for l in run}
        for l in run:
            members[l][np.asarray(recompute[l]) - z0] = True
        soft = {l: self._blended(l, todo[l], plans, n_z) for l in run}
        chunk = 16
        for c0 in range(0, len(all_z), chunk):
            zs = all_z[c0:c0 + chunk]
            self._resolve_slices(zs, z0, new, run, members, soft, grid, self.threshold)
        region = (slice(z0, z1), slice(0, shape[1]), slice(0, shape[2]))
        changed = new != old
        names = ", ".join(_name(l) for l in run)
        return PropagationResult(region, new, changed, {l: recompute[l] for l in run},
                                 description=f"IFSS-Net propagation ({names})")

    def _blended(self, label, ivs, plans, n_z) -> dict:
        """{z: blended probability on the grid (s, s)} for the slices this label recomputes."""
        out = {}
        for iv in ivs:
            zs = list(iv.slices(n_z))
            if iv.low is not None and iv.high is not None:
                fwd = plans[(label, iv.low, 1)].outputs
                bwd = plans[(label, iv.high, -1)].outputs
                for i, z in enumerate(zs):
                    w_fwd, w_bwd = blend_weights(z, iv.low, iv.high)
                    out[z] = w_fwd * fwd[i].float() + w_bwd * bwd[len(zs) - 1 - i].float()
            else:
                plan = plans[(label, iv.high, -1)] if iv.low is None else plans[(label, iv.low, 1)]
                for z in zs:
                    i = abs(z - plan.start) - 1
                    out[z] = plan.outputs[i].float() if i < plan.done else None
        return out

    @staticmethod
    def _resolve_slices(zs, z0, new, run, members, soft, grid, threshold: float = THRESHOLD) -> None:
        idx = np.asarray(zs) - z0
        block = new[idx]
        probs = np.full((len(run),) + block.shape, -1.0, dtype=np.float32)
        for i, l in enumerate(run):
            inside = members[l][idx]
            block[(block == l) & inside[:, None, None]] = 0          # stale voxels are recomputed
            grid_p = [soft[l].get(z) for z in zs]
            rows = [j for j, p in enumerate(grid_p) if inside[j] and p is not None]
            if rows:
                stacked = torch.stack([grid_p[j] for j in rows])
                probs[i, rows] = grid.back(stacked).numpy()
        best = probs.argmax(axis=0)                                  # ties: the lower label value
        best_p = np.take_along_axis(probs, best[None], axis=0)[0]
        write = (best_p >= threshold) & (block == 0)
        block[write] = np.asarray(run, dtype=np.uint16)[best[write]]
        new[idx] = block


def _batch_for(device: str) -> int:
    """Windows per model call. On the CPU small batches stay in cache (measured on the project's
    2-core machine: 45 ms per window at batch 4, 89 ms at batch 32); accelerators want many."""
    return 4 if device == "cpu" else 64


def _apply_tail_stop(plan: ChainPlan) -> None:
    """Replay the stop rule of a tail chain over cached outputs."""
    run = 0
    for i, out in enumerate(plan.outputs):
        run = run + 1 if float((out.float() >= 0.5).sum()) < plan.stop_area else 0
        if run >= 3:
            plan.outputs = plan.outputs[:i + 1]
            plan.done = i + 1
            plan.stopped = True
            plan.carried = None
            return


# ----------------------------------------------------------------------------- jobs

def document_inputs(document) -> dict:
    """Copies of what propagation reads from a Document (taken on the GUI thread)."""
    table = document.label_table
    return {
        "image": np.array(document.volume.array, copy=True),
        "labels": document.labels.copy(),
        "key_slices": {v: list(document.provenance.key_slices(v)) for v in document.provenance.labels()},
        "locked": set(table.locked_values()),
    }


def propagation_job(document, propagator: Propagator, labels_to_run=None, extend_tails: bool = False,
                    preview: bool = True) -> Job:
    """A model job; its result's to_edit() goes to host.apply_edit on the GUI thread."""
    inputs = document_inputs(document)

    def run(progress, device=None):
        propagator.follow_host_device(device)
        return propagator.propagate(progress, labels_to_run=labels_to_run, extend_tails=extend_tails,
                                    preview=preview, **inputs)

    return Job("IFSS-Net: propagate", run, uses_model=True)


def correction_job(document, propagator: Propagator, label: int, z: int, preview: bool = True) -> Job:
    """After a correction of slice z of `label`: recompute its two neighbouring intervals."""
    inputs = document_inputs(document)

    def run(progress, device=None):
        propagator.follow_host_device(device)
        return propagator.recompute_around(progress, label=label, z=z, preview=preview, **inputs)

    return Job(f"IFSS-Net: update around slice {z}", run, uses_model=True)


def propagate(progress, image, labels, key_slices, locked=(), labels_to_run=None, *, weights=None,
              device: str = "auto", adapt_steps: int = 0, extend_tails: bool = False, preview: bool = True,
              propagator: Propagator | None = None, seed: int = 0) -> PropagationResult:
    """Job-compatible one-shot propagation (command line, scripts)."""
    propagator = propagator or Propagator(weights, device)
    if adapt_steps:
        from usannotator_plugins.ifss.adapt import adapt

        adapt(progress, propagator, image, labels, key_slices, steps=adapt_steps, seed=seed)
    return propagator.propagate(progress, image, labels, key_slices, locked, labels_to_run,
                                extend_tails=extend_tails, preview=preview)
