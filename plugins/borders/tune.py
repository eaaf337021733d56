"""Choosing the split's defaults on demo phantoms, whose faint or missing fascia stretches are
completed borders by construction (and bright stretches distinct ones).

    python -m usannotator_plugins.borders.tune [--seeds 0 1 2 3] [--size demo]

prints, for each parameter set, how many border voxels beside bright fascia are called distinct and
how many beside faint fascia are called completed (the figures in README.md).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import ndimage

from usannotator_plugins.borders.split import (SplitParameters, edge_strength, edge_threshold, label_border,
                                               tolerated)

SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0)
TOLERANCES = (0, 1, 2)
PERCENTILES = (80.0, 85.0, 88.0, 90.0, 93.0, 95.0)


def fascia_beside_border(border: np.ndarray, fascia: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bright, faint): border voxels touching (4-neighbour, in the slice) bright fascia only, faint only.

    The phantom's fascia band lies right outside the muscle, so nearly every border voxel touches one.
    Voxels touching both (where a stretch turns faint) or neither (image edges, tapering muscle ends)
    are left out of the agreement: their truth is not known.
    """
    cross = ndimage.generate_binary_structure(2, 1)[np.newaxis]   # in-slice 4-neighbourhood
    near_bright = ndimage.binary_dilation(fascia == 1, cross)
    near_faint = ndimage.binary_dilation(fascia == 2, cross)
    on_border = border > 0
    return on_border & near_bright & ~near_faint, on_border & near_faint & ~near_bright


def agreement(distinct: np.ndarray, bright: np.ndarray, faint: np.ndarray) -> dict:
    """Shares (%) of the bright-fascia border called distinct and of the faint one called completed."""
    bright_ok = 100.0 * np.count_nonzero(distinct & bright) / max(np.count_nonzero(bright), 1)
    faint_ok = 100.0 * np.count_nonzero(~distinct & faint) / max(np.count_nonzero(faint), 1)
    return {"bright_distinct": bright_ok, "faint_completed": faint_ok, "balanced": (bright_ok + faint_ok) / 2}


def sweep(image: np.ndarray, labels: np.ndarray, fascia: np.ndarray, sigmas=SIGMAS, tolerances=TOLERANCES,
          percentiles=PERCENTILES) -> list[dict]:
    """Agreement and distinct share for every parameter set (edges computed once per sigma)."""
    border = label_border(labels)
    bright, faint = fascia_beside_border(border, fascia)
    rows = []
    for sigma in sigmas:
        strength = edge_strength(image, sigma)
        for tol in tolerances:
            near_edge = tolerated(strength, tol)[border > 0]
            for method, pct in [("percentile", p) for p in percentiles] + [("otsu", None)]:
                tau = edge_threshold(strength, method, pct if pct is not None else 0.0)
                distinct = np.zeros(border.shape, bool)
                distinct[border > 0] = near_edge > tau
                rows.append({"sigma_px": sigma, "tol_px": tol, "method": method, "percentile": pct,
                             "distinct_share": 100.0 * np.count_nonzero(distinct) / np.count_nonzero(border),
                             **agreement(distinct, bright, faint)})
    return rows


def mean_rows(per_seed: list[list[dict]]) -> list[dict]:
    keys = ("distinct_share", "bright_distinct", "faint_completed", "balanced")
    out = []
    for rows in zip(*per_seed):
        row = dict(rows[0])
        for key in keys:
            values = [r[key] for r in rows]
            row[key], row[key + "_min"] = float(np.mean(values)), float(np.min(values))
        out.append(row)
    return out


def main(argv=None) -> None:
    from usannotator.phantom import generate_phantom

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--size", default="demo")
    parser.add_argument("--slices", type=int, help="fewer sweep slices than the size's (faster)")
    parser.add_argument("--top", type=int, default=15, help="rows to print, best balanced agreement first")
    parser.add_argument("--json", metavar="OUT", help="also write every row (means over seeds) as JSON")
    args = parser.parse_args(argv)
    per_seed = []
    for seed in args.seeds:
        ph = _phantom(generate_phantom, seed, args.size, args.slices)
        per_seed.append(sweep(ph.volume.array, ph.truth, ph.fascia))
    rows = mean_rows(per_seed)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"seeds {args.seeds}, size {args.size}; means over seeds (worst seed in brackets)")
    print("sigma tol method     pct | distinct share | bright->distinct | faint->completed | balanced")
    ranked = sorted(rows, key=lambda r: -r["balanced"])
    for r in ranked[:args.top] + [r for r in rows if _is_spec_start(r)]:
        pct = "-" if r["percentile"] is None else f"{r['percentile']:.0f}"
        print(f"{r['sigma_px']:5.1f} {r['tol_px']:3d} {r['method']:<10} {pct:>3} | {r['distinct_share']:14.1f} | "
              f"{r['bright_distinct']:7.1f} ({r['bright_distinct_min']:5.1f}) | "
              f"{r['faint_completed']:7.1f} ({r['faint_completed_min']:5.1f}) | "
              f"{r['balanced']:5.1f} ({r['balanced_min']:5.1f})")


def _phantom(generate_phantom, seed, size, slices):
    if slices is None:
        return generate_phantom(seed, size)
    from usannotator.phantom import SIZES

    shape, spacing = SIZES[size]
    return generate_phantom(seed, shape=(slices, *shape[1:]), spacing=spacing)


def _is_spec_start(row) -> bool:
    """The spec's starting values and the chosen defaults, printed after the ranking."""
    chosen = SplitParameters()
    return (row["sigma_px"], row["tol_px"], row["percentile"]) in ((1.0, 1, 85.0), (chosen.sigma_px, chosen.tol_px,
                                                                                   chosen.edge_percentile))


if __name__ == "__main__":
    main()
