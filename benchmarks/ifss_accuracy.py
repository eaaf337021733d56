"""IFSS-Net lite against ZOI and shape-based interpolation from the same key slices.

On demo phantoms whose seeds were never used in training (training: 1000-1399, validation: 950),
key slices every 20 slices: Dice, HD95 and volume error per muscle, and the time to propagate a
whole demo volume (three muscles) on this machine. Prints a table; --json writes the numbers.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/ifss_accuracy.py [--seeds 900-904] [--every 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # shared CPUs: see plugins/ifss/command.py

import numpy as np  # noqa: E402

NAMES = {1: "GM", 2: "GL", 3: "SOL"}


def key_slices(sparse):
    from usannotator.core import Provenance

    prov = Provenance.from_sparse_labels(sparse)
    return {v: [int(z) for z in prov.key_slices(v)] for v in prov.labels()}


def run_ifss(phantom, sparse, keys, weights, adapt_steps, threshold=None):
    from usannotator.jobs import Progress
    from usannotator_plugins.ifss.propagate import THRESHOLD, Propagator, propagate

    started = time.perf_counter()
    propagator = Propagator(weights, "cpu", threshold=THRESHOLD if threshold is None else threshold)
    result = propagate(Progress(), phantom.volume.array, sparse, keys, propagator=propagator,
                       adapt_steps=adapt_steps, preview=False)
    return result.applied_to(sparse), time.perf_counter() - started


def run_interpolation(phantom, sparse, keys, method):
    from usannotator_plugins.zoi import interpolate

    started = time.perf_counter()
    result = interpolate(sparse, keys, method=method, spacing=phantom.geometry.spacing_zyx)
    return result.apply_to(sparse), time.perf_counter() - started


def scores(phantom, prediction):
    from usannotator.metrics import label_metrics

    return label_metrics(phantom.truth, prediction, phantom.geometry.spacing_zyx)


def main(argv=None) -> int:
    from usannotator_plugins.ifss.command import parse_seeds
    from usannotator_plugins.ifss.weights import shipped_weights

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="900-904")
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--weights", default=None, help="IFSS-Net lite weights (default: shipped)")
    p.add_argument("--adapt", type=int, default=0, help="also run IFSS-Net adapted N steps to each volume")
    p.add_argument("--untrained", help="weights of the untrained network (zero-order copy) for reference")
    p.add_argument("--spec-threshold", action="store_true",
                   help="also run IFSS-Net lite with the spec's threshold 0.5 (the default is lower)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="write all numbers here")
    args = p.parse_args(argv)

    import torch

    from usannotator.phantom import generate_phantom, sparse_key_slices

    torch.set_num_threads(args.threads)
    weights = args.weights or str(shipped_weights("lite"))
    methods = {"IFSS-Net lite": lambda ph, sp, k: run_ifss(ph, sp, k, weights, 0),
               "ZOI": lambda ph, sp, k: run_interpolation(ph, sp, k, "zoi"),
               "shape-based (sdf)": lambda ph, sp, k: run_interpolation(ph, sp, k, "sdf")}
    if args.adapt:
        methods[f"IFSS-Net lite, adapted {args.adapt} steps"] = lambda ph, sp, k: run_ifss(ph, sp, k, weights, args.adapt)
    if args.spec_threshold:
        from usannotator_plugins.ifss.propagate import SPEC_THRESHOLD

        methods[f"IFSS-Net lite, spec threshold {SPEC_THRESHOLD:g}"] = \
            lambda ph, sp, k: run_ifss(ph, sp, k, weights, 0, SPEC_THRESHOLD)
    if args.untrained:
        methods["untrained lite (zero-order copy)"] = lambda ph, sp, k: run_ifss(ph, sp, k, args.untrained, 0)
    rows = {name: [] for name in methods}
    seconds = {name: [] for name in methods}
    for seed in parse_seeds(args.seeds):
        phantom = generate_phantom(seed, size="demo")
        sparse = sparse_key_slices(phantom.truth, every=args.every)
        keys = key_slices(sparse)
        for name, method in methods.items():
            prediction, took = method(phantom, sparse, keys)
            rows[name].append(scores(phantom, prediction))
            seconds[name].append(took)
            print(f"seed {seed}: {name:<34} mean Dice {rows[name][-1]['mean']['dice']:.4f}  {took:6.1f} s",
                  file=sys.stderr)
    table = summarise(rows, seconds)
    print_table(table, args, phantom.volume.array.shape)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"settings": vars(args), "table": table}, f, indent=2)
    return 0


def summarise(rows, seconds) -> dict:
    table = {}
    for name, per_volume in rows.items():
        entry = {}
        for label in (1, 2, 3, "mean"):
            entry[str(label)] = {k: float(np.mean([m[label][k] for m in per_volume]))
                                 for k in ("dice", "hd95_mm", "volume_error_pct")}
        entry["seconds"] = float(np.median(seconds[name]))
        table[name] = entry
    return table


def print_table(table, args, shape) -> None:
    print(f"\nDemo phantoms {args.seeds} ({shape[0]} x {shape[1]} x {shape[2]}, 0.5 mm), key slices every "
          f"{args.every}; means over volumes. Dice / HD95 mm / volume error %.\n")
    header = "| method | " + " | ".join(f"{NAMES[l]} Dice | {NAMES[l]} HD95 | {NAMES[l]} vol.err" for l in (1, 2, 3))
    print(header + " | mean Dice | mean HD95 | mean vol.err | time per volume (s) |")
    print("|" + "---|" * (2 + 9 + 3))
    for name, entry in table.items():
        cells = []
        for label in ("1", "2", "3", "mean"):
            m = entry[label]
            cells += [f"{m['dice']:.4f}", f"{m['hd95_mm']:.2f}", f"{m['volume_error_pct']:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + f" | {entry['seconds']:.1f} |")
    import torch

    if not torch.cuda.is_available():
        print("\nNo GPU was available: the full configuration's time per thesis-sized volume was not measured.")


if __name__ == "__main__":
    sys.exit(main())
