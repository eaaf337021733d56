"""Speed and peak memory of interpolation on a thesis-sized label map (1443 x 564 x 632 uint8).

Three muscles keyed every 10 slices (drawn directly as smooth fusiform shapes that drift along the
sweep), interpolated with ZOI, shape-based (sdf) and ITK's morphological contour interpolation,
each in a fresh process so that its peak memory is its own. Prints seconds, the ratio to ITK, and
the peak resident memory above the input.

    python benchmarks/zoi_speed.py [--every 10] [--methods zoi sdf morphological] [--shape 1443 564 632]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

THESIS_SHAPE = (1443, 564, 632)      # numpy order: sweep, depth, lateral
# label: (first slice, last slice as fractions of the sweep; centre y, x and semi-axes as
# fractions of depth and width) - GM and GL side by side near the skin, SOL deep and wide.
MUSCLES = {
    1: (0.07, 0.78, (0.25, 0.30), (0.14, 0.24)),
    2: (0.10, 0.73, (0.25, 0.72), (0.13, 0.22)),
    3: (0.20, 0.97, (0.62, 0.50), (0.21, 0.43)),
}


def muscle_slice(label: int, z: int, shape) -> tuple:
    """(box, mask) of one muscle on sweep slice z: an ellipse that swells and drifts along the sweep."""
    n, height, width = shape
    first, last, (cy, cx), (ry, rx) = MUSCLES[label]
    t = (z / n - first) / (last - first)
    if not 0.0 <= t <= 1.0:
        return None
    swell = np.sin(np.pi * t) ** 0.6
    cy = height * (cy + 0.03 * np.sin(2 * np.pi * t))
    cx = width * (cx + 0.04 * (t - 0.5))
    ry, rx = height * ry * swell + 1, width * rx * swell + 1
    y0, y1 = max(int(cy - ry), 0), min(int(cy + ry) + 2, height)
    x0, x1 = max(int(cx - rx), 0), min(int(cx + rx) + 2, width)
    y, x = np.ogrid[y0:y1, x0:x1]
    mask = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
    return (slice(y0, y1), slice(x0, x1)), mask


def sparse_muscles(shape=THESIS_SHAPE, every: int = 10) -> tuple:
    """(labels holding the three muscles on their key slices only, {label: key slices})."""
    labels = np.zeros(shape, dtype=np.uint8)
    keys = {}
    for label in MUSCLES:
        inside = [z for z in range(shape[0]) if muscle_slice(label, z, shape) is not None]
        keys[label] = np.union1d(np.arange(inside[0], inside[-1] + 1, every), [inside[-1]])
        for z in keys[label]:
            box, mask = muscle_slice(label, int(z), shape)
            plane = labels[z][box]
            plane[mask & (plane == 0)] = label       # muscles do not overlap: first drawn keeps it
    return labels, keys


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(method: str, shape, every: int) -> dict:
    """Run one method in this process; returns its time and peak memory above the input."""
    from usannotator_plugins.zoi.algorithm import interpolate

    labels, keys = sparse_muscles(shape, every)
    if method == "morphological":
        from usannotator_plugins.zoi.morphological import available, preload
        if not available():
            return {"method": method, "skipped": "itk-morphologicalcontourinterpolation is not installed"}
        preload()                       # loading ITK takes seconds; not part of the method's time
    before = rss_bytes()
    start = time.perf_counter()
    result = interpolate(labels, keys, method=method, spacing=(0.3, 0.1, 0.1))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"method": method, "seconds": seconds, "input_mb": labels.nbytes / 1e6,
            "peak_above_input_mb": (peak - before) / 1e6, "changed_voxels": result.n_changed}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--methods", nargs="+", default=["zoi", "sdf", "morphological"])
    p.add_argument("--shape", type=int, nargs=3, default=THESIS_SHAPE)
    p.add_argument("--one", help=argparse.SUPPRESS)      # run one method here (child process)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, tuple(args.shape), args.every)))
        return 0
    print(f"label map {tuple(args.shape)} uint8, 3 muscles keyed every {args.every} slices, "
          f"{os.cpu_count()} CPU cores")
    rows = [_in_child(m, args) for m in args.methods]
    _print(rows)
    return 0


def _in_child(method, args) -> dict:
    command = [sys.executable, __file__, "--one", method, "--every", str(args.every),
               "--shape", *map(str, args.shape)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"method": method, "skipped": f"failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print(rows) -> None:
    itk = next((r["seconds"] for r in rows if r["method"] == "morphological" and "seconds" in r), None)
    print(f"{'method':<14} {'seconds':>8} {'ITK / this':>10} {'peak above input MB':>20}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['method']:<14} skipped: {r['skipped']}")
            continue
        ratio = f"{itk / r['seconds']:.1f}x" if itk else "-"
        print(f"{r['method']:<14} {r['seconds']:>8.2f} {ratio:>10} {r['peak_above_input_mb']:>20.0f}")


if __name__ == "__main__":
    sys.exit(main())
