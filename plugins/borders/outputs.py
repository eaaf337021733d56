"""What `usannotator borders` reads, computes and writes (see command.py)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from usannotator.core.errors import UserError
from usannotator_plugins.borders.split import SplitParameters


@dataclass
class Inputs:
    volume: object                  # usannotator.core.Volume
    labels: np.ndarray
    names: dict                     # label value -> name
    prediction: np.ndarray | None = None
    field_of_view: np.ndarray | None = None


def read_inputs(args) -> Inputs:
    from usannotator.core.labels import LabelTable
    from usannotator.io import read_labels, read_volume

    volume = read_volume(args.image)
    labels, _, table = read_labels(args.labels, like=volume)
    table = table or LabelTable()
    names = {v: table[v].name for v in table.values()}
    prediction = read_labels(args.prediction, like=volume)[0] if args.prediction else None
    fov = read_labels(args.fov, like=volume)[0] > 0 if args.fov else None
    return Inputs(volume, labels, names, prediction, fov)


def split_parameters(args) -> SplitParameters:
    defaults = SplitParameters()
    try:
        return SplitParameters(
            mode=args.mode,
            sigma_px=defaults.sigma_px if args.sigma is None else args.sigma,
            tol_px=defaults.tol_px if args.edge_tolerance is None else args.edge_tolerance,
            threshold_method="otsu" if args.otsu else defaults.threshold_method,
            edge_percentile=defaults.edge_percentile if args.percentile is None else args.percentile,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def compute(args, inputs: Inputs) -> tuple[dict, list]:
    """{file name: content} for every output, and warnings; nothing is written here."""
    from usannotator_plugins.borders.analysis import analyse

    if args.tolerance < 0:
        raise UserError(f"--tolerance must not be negative, got {args.tolerance}")
    sweep_first = SweepFirst(args.axis)
    spacing = sweep_first.order(inputs.volume.geometry.spacing_zyx)
    result = analyse(_progress(), *sweep_first.arrays(inputs.volume.array, inputs.labels), spacing,
                     sweep_first.array(inputs.prediction), split_parameters(args), args.tolerance,
                     sweep_first.array(inputs.field_of_view))
    geometry = inputs.volume.geometry
    files = {
        "distinct.nii.gz": ("labels", sweep_first.back(result.split.distinct), geometry),
        "completed.nii.gz": ("labels", sweep_first.back(result.split.completed), geometry),
        "split.json": ("text", to_json({**result.split.summary(), "names": inputs.names, **_sources(args)})),
    }
    if result.metrics is not None:
        files.update(_metric_files(result.metrics, inputs.names, args))
    if args.activation is not None:
        files.update(_activation_files(args, inputs, result.split, sweep_first))
    return files, result.warnings


def _metric_files(metrics: dict, names: dict, args) -> dict:
    from usannotator_plugins.borders.metrics import metrics_csv

    return {"metrics.json": ("text", to_json({**metrics, "names": names, **_sources(args)})),
            "metrics.csv": ("text", metrics_csv(metrics, names))}


def _activation_files(args, inputs: Inputs, split, sweep_first) -> dict:
    from usannotator_plugins.borders.activation import border_activation_maps

    segmenter = choose_segmenter(args.model)
    image, labels = sweep_first.arrays(inputs.volume.array, inputs.labels)
    label = args.activation
    if not np.any(split.border == label):
        raise UserError(f"--activation {label}: the reference has no border of label {label}", args.labels)
    maps = border_activation_maps(_progress(), segmenter, image, labels, split.distinct, split.completed,
                                  label, layer=args.layer, target=args.target, weights=args.weights,
                                  device=_device(args.device))
    distinct, completed = (sweep_first.back(v) for v in maps.volumes(image.shape, normalised=True))
    info = {"model": segmenter.name, "layer": maps.layer, "target": maps.target, "label": label,
            "normalisation": maps.normalisation, "slices": sorted(maps.slices),
            "coinciding_slices": maps.coinciding_slices, "empty_maps": maps.empty_maps, "message": maps.message,
            "weights": maps.weights}
    geometry = inputs.volume.geometry
    return {"activation_distinct.nii.gz": ("image", distinct, geometry),
            "activation_completed.nii.gz": ("image", completed, geometry),
            "activation.json": ("text", to_json(info))}


def choose_segmenter(name: str | None):
    """The named segmenter, or the first available; a UserError saying why there is none."""
    from usannotator_plugins.borders.activation import available_segmenters

    usable, why = available_segmenters(plugin_records())
    if not usable:
        raise UserError(f"{why}; the split and metrics work without one (leave out --activation)")
    if name is None:
        return usable[0]
    for segmenter in usable:
        if segmenter.name == name:
            return segmenter
    raise UserError(f"no available segmenter is called {name!r}; available: {', '.join(s.name for s in usable)}")


def plugin_records() -> list:
    """The loaded plugins, whose segmenters the maps may use (tests offer their own here)."""
    from usannotator.plugins import discover

    return discover()


def _device(requested: str) -> str:
    from usannotator.jobs import choose_device

    try:
        return choose_device(requested)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def write_all(out_dir, files: dict) -> None:
    """Write every file into a hidden folder inside OUT_DIR, then move them into place."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".borders-", dir=out))
    except OSError as exc:
        raise UserError(f"cannot create the output folder ({exc.strerror or exc})", out) from exc
    try:
        for name, content in files.items():
            _write(staging / name, content)
        for name in files:
            os.replace(staging / name, out / name)
    except OSError as exc:
        raise UserError(f"could not be written ({exc.strerror or exc})", out) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(path: Path, content) -> None:
    from usannotator.io import write_image, write_labels

    kind, data = content[0], content[1]
    if kind == "labels":
        write_labels(path, data, content[2])
    elif kind == "image":
        write_image(path, data, content[2])
    else:
        path.write_text(data)


def to_json(value) -> str:
    from usannotator_plugins.borders.metrics import jsonable

    return json.dumps(jsonable(value), indent=2) + "\n"


def _sources(args) -> dict:
    return {"image": str(args.image), "labels": str(args.labels), "prediction": args.prediction}


def _progress():
    from usannotator.jobs import Progress
    from usannotator.jobs.job import stderr_bar

    return Progress(on_update=stderr_bar() if sys.stderr.isatty() else None)


class SweepFirst:
    """Moves the sweep axis to the front for the computation and back for the files."""

    def __init__(self, axis: int):
        self.axis = axis

    def array(self, a):
        return None if a is None else np.moveaxis(a, self.axis, 0)

    def arrays(self, *arrays):
        return tuple(self.array(a) for a in arrays)

    def back(self, a):
        return np.moveaxis(a, 0, self.axis)

    def order(self, values) -> tuple:
        values = list(values)
        return tuple([values[self.axis]] + [v for i, v in enumerate(values) if i != self.axis])
