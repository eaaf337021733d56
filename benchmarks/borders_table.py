"""Per-kind border table on demo phantoms (the analogue of the thesis' Table 2.3).

    python benchmarks/borders_table.py [--seeds 0 1 2 3] [--size demo] [--every 10] [--tolerance 1.0]

For each seed: the share of each muscle's reference border that is distinct / completed (published on
LEG-3D-US: 54.8 % / 45.2 %), then a prediction scored per kind: zero-order interpolation (ZOI) of
sparse key slices when the interpolation plugin is installed, else the truth morphologically
perturbed (the script says which). Prints means and standard deviations over the seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from usannotator.phantom import LABEL_NAMES, generate_phantom, key_slice_indices, sparse_key_slices
from usannotator_plugins.borders.analysis import analyse

KINDS = ("distinct", "completed")
PUBLISHED = {"distinct": 54.8, "completed": 45.2}


def zoi_prediction(truth, spacing, every):
    """Labels interpolated from every `every`-th slice of each muscle, as an annotator would start."""
    from usannotator_plugins.zoi import interpolate   # a benchmark may use another plugin; the plugin may not

    sparse = sparse_key_slices(truth, every=every)
    keys = {label: key_slice_indices(truth, label, every) for label in LABEL_NAMES}
    return interpolate(sparse, keys, method="zoi", spacing=spacing).apply_to(sparse)


def ifss_prediction(phantom, every):
    """IFSS-Net lite (the shipped weights) propagated from every `every`-th slice of each muscle."""
    from usannotator.jobs import Progress
    from usannotator_plugins.ifss.propagate import propagate

    truth = phantom.truth
    sparse = sparse_key_slices(truth, every=every)
    keys = {label: key_slice_indices(truth, label, every) for label in LABEL_NAMES}
    result = propagate(Progress(), phantom.volume.array, sparse, keys, device="cpu")
    return result.applied_to(sparse)


def perturbed_prediction(truth, seed):
    """Each muscle opened with a disc of radius 3 per slice, then moved one voxel deeper: smooth errors
    everywhere, larger at thin and pointed parts."""
    yy, xx = np.mgrid[-3:4, -3:4]
    disc = (yy ** 2 + xx ** 2 <= 9)[np.newaxis]
    out = np.zeros_like(truth)
    for label in LABEL_NAMES:
        out[ndimage.binary_opening(truth == label, disc)] = label
    return np.roll(out, 1, axis=1)


def make_prediction(truth, spacing, every, seed, source="zoi", phantom=None):
    if source == "ifss":
        return ifss_prediction(phantom, every), f"IFSS-Net lite from key slices every {every}"
    try:
        return zoi_prediction(truth, spacing, every), f"ZOI from key slices every {every}"
    except ImportError:
        return perturbed_prediction(truth, seed), "truth opened (disc r=3) and shifted 1 voxel deeper"


def one_seed(seed, size, every, tolerance, source="zoi"):
    phantom = generate_phantom(seed, size)
    spacing = phantom.geometry.spacing_zyx
    prediction, how = make_prediction(phantom.truth, spacing, every, seed, source, phantom)
    result = analyse(None, phantom.volume.array, phantom.truth, spacing, prediction, tolerance_mm=tolerance)
    return result, how


def rows_of(result) -> dict:
    """{group: {figure: value}} for one seed; group is a muscle name or "all"."""
    metrics, shares = result.metrics, result.split.shares()
    out = {}
    for key, name in [(m, LABEL_NAMES[m]) for m in metrics["muscles"]] + [("all", "all")]:
        figures = metrics["muscles"][key] if key != "all" else metrics["all"]
        row = {f"share_{k}": shares[key][k] for k in KINDS}
        for k in KINDS:
            row.update({f"{f}_{k}": figures[k][f] for f in ("recovered_of_total", "recall", "mean_dist_mm",
                                                             "p95_dist_mm")})
        row["btp"] = figures["btp"]
        out[name] = row
    return out


def summarise(per_seed: list[dict]) -> dict:
    groups = per_seed[0].keys()
    return {g: {f: (float(np.nanmean([s[g][f] for s in per_seed])), float(np.nanstd([s[g][f] for s in per_seed])))
                for f in per_seed[0][g]} for g in groups}


def cell(pair, digits=1) -> str:
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def print_tables(summary, n, how, tolerance):
    print(f"\nReference border composition (% of each muscle's border), mean ± std over {n} seeds")
    print(f"{'muscle':<8}{'distinct':>16}{'completed':>16}")
    for g, row in summary.items():
        print(f"{g:<8}{cell(row['share_distinct']):>16}{cell(row['share_completed']):>16}")
    print(f"{'LEG-3D-US':<8}{PUBLISHED['distinct']:>16.1f}{PUBLISHED['completed']:>16.1f}   (published)")
    print(f"\nPrediction: {how}; hit = within {tolerance} mm of the predicted border")
    head = ["BTP", "rec/total D", "rec/total C", "recall D", "recall C", "mean mm D", "mean mm C",
            "p95 mm D", "p95 mm C"]
    print(f"{'muscle':<8}" + "".join(f"{h:>16}" for h in head))
    for g, row in summary.items():
        cells = [cell(row["btp"])] + [cell(row[f"{f}_{k}"], 2 if "dist" in f else 1)
                                      for f in ("recovered_of_total", "recall", "mean_dist_mm", "p95_dist_mm")
                                      for k in KINDS]
        print(f"{g:<8}" + "".join(f"{c:>16}" for c in cells))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--size", default="demo")
    parser.add_argument("--every", type=int, default=10, help="key slice spacing for the ZOI prediction")
    parser.add_argument("--tolerance", type=float, default=1.0, help="mm")
    parser.add_argument("--prediction", choices=("zoi", "ifss"), default="zoi",
                        help="what predicts the borders: ZOI interpolation or IFSS-Net lite propagation")
    args = parser.parse_args(argv)
    per_seed, how = [], ""
    for seed in args.seeds:
        start = time.perf_counter()
        result, how = one_seed(seed, args.size, args.every, args.tolerance, args.prediction)
        per_seed.append(rows_of(result))
        row = per_seed[-1]["all"]
        print(f"seed {seed}: distinct {row['share_distinct']:.1f} %, BTP {row['btp']:.1f} %, recall distinct "
              f"{row['recall_distinct']:.1f} % / completed {row['recall_completed']:.1f} % "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    print_tables(summarise(per_seed), len(args.seeds), how, args.tolerance)


if __name__ == "__main__":
    main()
