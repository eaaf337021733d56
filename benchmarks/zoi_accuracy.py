"""Accuracy of interpolation from sparse key slices on demo phantoms, side by side.

For each seed, the phantom's ground truth is cut down to key slices every K slices of each muscle
(first, every K-th, last), then filled by ZOI (default settings, and the thesis' literal "smallest"
rule), shape-based (sdf) and ITK's morphological method. Prints, per muscle and averaged over the
seeds: Dice, HD95 (mm) and volume error (%), then the mean over muscles against the aims.

    python benchmarks/zoi_accuracy.py [--seeds 0 1 2 3 4] [--every 10 30]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from usannotator.core.provenance import Provenance
from usannotator.metrics import label_metrics
from usannotator.phantom import LABEL_NAMES, generate_phantom, sparse_key_slices
from usannotator_plugins.zoi.algorithm import interpolate
from usannotator_plugins.zoi.morphological import available, preload

# name shown: (method, settings)
METHODS = {
    "zoi": ("zoi", {}),
    "zoi-smallest": ("zoi", {"source_rule": "smallest"}),
    "sdf": ("sdf", {}),
    "morphological": ("morphological", {}),
}
SHOWN = ("dice", "hd95_mm", "volume_error_pct")
AIMS = {10: {"dice": 0.95, "volume_error_pct": 3.0}, 30: {"dice": 0.90}}


def key_to_key_dice(sparse, keys) -> float:
    """Dice between consecutive key masks of each muscle, pooled over all pairs (voxel-weighted):
    how much the anatomy changes from one key slice to the next, which bounds every method that
    copies or blends masks. Compare volumes (and phantoms with real data) by it."""
    overlap = size = 0
    for label, slices in keys.items():
        for a, b in zip(slices[:-1], slices[1:]):
            ma, mb = sparse[a] == label, sparse[b] == label
            overlap += 2 * np.count_nonzero(ma & mb)
            size += np.count_nonzero(ma) + np.count_nonzero(mb)
    return overlap / size if size else 1.0


def evaluate(phantom, every: int, methods) -> dict:
    """{method: ({label: metrics}, seconds)} for one phantom and key spacing."""
    spacing = phantom.geometry.spacing_zyx
    sparse = sparse_key_slices(phantom.truth, every=every)
    provenance = Provenance.from_sparse_labels(sparse)
    keys = {label: provenance.key_slices(label) for label in provenance.labels()}
    scores = {}
    for name in methods:
        method, settings = METHODS[name]
        start = time.perf_counter()
        filled = interpolate(sparse, keys, method=method, spacing=spacing, **settings).apply_to(sparse)
        seconds = time.perf_counter() - start
        scores[name] = (label_metrics(phantom.truth, filled, spacing, labels=list(LABEL_NAMES)), seconds)
    return scores, key_to_key_dice(sparse, keys)


def average(runs: list) -> dict:
    """Mean over seeds of each metric, per label, and the seconds."""
    labels = list(runs[0][0])
    means = {label: {k: float(np.mean([r[0][label][k] for r in runs])) for k in SHOWN} for label in labels}
    return {"labels": means, "seconds": float(np.mean([r[1] for r in runs]))}


def print_table(every: int, results: dict, overlap: float) -> None:
    names = [LABEL_NAMES[v] for v in LABEL_NAMES]
    head = "".join(f"{n + ' ' + m:>14}" for n in names + ["mean"] for m in ("Dice", "HD95", "VE%"))
    print(f"\nkey slices every {every} slices (means over seeds); consecutive key masks overlap with "
          f"Dice {overlap:.3f}")
    print(f"{'method':<14}{head}{'s/vol':>8}")
    for name, summary in results.items():
        cells = ""
        for label in list(LABEL_NAMES) + ["mean"]:
            m = summary["labels"][label]
            cells += f"{m['dice']:>14.3f}{m['hd95_mm']:>14.2f}{m['volume_error_pct']:>14.2f}"
        print(f"{name:<14}{cells}{summary['seconds']:>8.2f}")


def check_aims(every: int, results: dict) -> None:
    aims = AIMS.get(every, {})
    for name in ("zoi",):
        mean = results[name]["labels"]["mean"]
        for metric, target in aims.items():
            ok = mean[metric] >= target if metric == "dice" else mean[metric] <= target
            sign = ">=" if metric == "dice" else "<="
            print(f"aim {name} every {every}: mean {metric} {mean[metric]:.3f} {sign} {target}: "
                  f"{'met' if ok else 'NOT met'}")
    if "morphological" in results:
        zoi, morph = (results[n]["labels"]["mean"]["volume_error_pct"] for n in ("zoi", "morphological"))
        print(f"aim zoi volume error <= morphological every {every}: {zoi:.2f} vs {morph:.2f}: "
              f"{'met' if zoi <= morph else 'NOT met'}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--every", type=int, nargs="+", default=[10, 30])
    p.add_argument("--size", default="demo", choices=("small", "demo"))
    args = p.parse_args(argv)
    methods = [m for m in METHODS if m != "morphological" or available()]
    if "morphological" in methods:
        preload()                                       # so its first run is not timed loading ITK
    else:
        print("morphological skipped: pip install itk-morphologicalcontourinterpolation")
    runs = {every: {m: [] for m in methods} for every in args.every}
    overlaps = {every: [] for every in args.every}
    for seed in args.seeds:
        phantom = generate_phantom(seed, size=args.size)
        print(f"seed {seed}: {phantom.truth.shape} at {phantom.geometry.spacing_zyx} mm, "
              f"extents {phantom.extents}", flush=True)
        for every in args.every:
            scores, overlap = evaluate(phantom, every, methods)
            overlaps[every].append(overlap)
            for name, run in scores.items():
                runs[every][name].append(run)
    for every in args.every:
        results = {name: average(r) for name, r in runs[every].items()}
        print_table(every, results, float(np.mean(overlaps[every])))
        check_aims(every, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
