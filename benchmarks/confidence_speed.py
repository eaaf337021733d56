"""Confidence maps: our solver against MONAI's UltrasoundConfidenceMapTransform, side by side.

Prints, from one run on this machine:
  per reference image (neck 597 x 568, femur 512 x 476): time per image for ours (first call, with
  the per-size analysis, and later calls) and for MONAI, the ratio, the max abs error of both
  against the maps of the authors' MATLAB code;
  per slice of a 200-slice 512 x 476 volume (the femur frame, shifted and with fresh speckle on
  every slice): our time per slice with the analysis reused, against MONAI's per-image time
  (--workers N: N worker processes; their CPU time counts, and so does starting them);
  peak memory of one map (tracemalloc: numpy's allocations) for both.

Both run single-threaded BLAS (OPENBLAS_NUM_THREADS etc. set to 1 before numpy loads, as the
application does): on a shared machine extra BLAS threads only wait.
Times are medians of alternating runs (ours, MONAI, ours, ...), wall clock and CPU time; the
machine is shared, so the CPU time (what this process used) is the steadier figure.

Run: python benchmarks/confidence_speed.py [--repeats 3] [--slices 200] [--workers 1]
Needs MONAI (benchmark only): pip install --no-deps monai
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# MONAI loads torch, whose OpenMP threads otherwise spin after each call and slow whatever runs next
# (measured: our neck map 0.54 s instead of 0.35 s right after a MONAI call). The application sets
# the same (usannotator/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

DATA = Path(os.environ.get("USANNOTATOR_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")
REFERENCES = {"neck": 0.03, "femur": 0.06}      # gamma of each reference map; alpha 2, beta 90


def cpu_seconds() -> float:
    """This process, and its finished children (the volume's worker processes; to 10 ms)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def timed(fn):
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def monai_transform(gamma):
    from monai.transforms import UltrasoundConfidenceMapTransform

    return UltrasoundConfidenceMapTransform(alpha=2.0, beta=90.0, gamma=gamma, mode="B", sink_mode="all")


def compare_image(name, gamma, repeats):
    from usannotator_plugins.confidence import algorithm

    image = sitk.GetArrayFromImage(sitk.ReadImage(str(DATA / "confidence_maps" / f"{name}_input.png")))
    expected = np.load(DATA / "confidence_maps" / f"{name}_result.npy").astype(np.float64)
    monai = monai_transform(gamma)
    algorithm._grid_for.cache_clear()                 # the first call pays for the analysis
    ours, first_wall, first_cpu = timed(lambda: algorithm.confidence_map(image, gamma=gamma))
    times = {"ours": [], "monai": []}
    for _ in range(repeats):
        ours, wall, cpu = timed(lambda: algorithm.confidence_map(image, gamma=gamma))
        times["ours"].append((wall, cpu))
        theirs, wall, cpu = timed(lambda: monai(image[None].astype(np.float64)))
        times["monai"].append((wall, cpu))
    return {
        "name": f"{name} {image.shape[0]}x{image.shape[1]}",
        "first": (first_wall, first_cpu),
        "ours": tuple(statistics.median(t[i] for t in times["ours"]) for i in (0, 1)),
        "monai": tuple(statistics.median(t[i] for t in times["monai"]) for i in (0, 1)),
        "err_ours": float(np.abs(ours - expected).max()),
        "err_monai": float(np.abs(np.asarray(theirs) - expected).max()),
    }


def synthetic_volume(n_slices, seed=0):
    """The femur frame, shifted sideways and re-speckled on every slice: a 512 x 476 sweep whose
    slices all differ (so no cache or repeated input could flatter the figure)."""
    femur = sitk.GetArrayFromImage(sitk.ReadImage(str(DATA / "confidence_maps" / "femur_input.png")))
    rng = np.random.default_rng(seed)
    stack = np.empty((n_slices,) + femur.shape, np.uint8)
    for z in range(n_slices):
        shifted = np.roll(femur, z % 40 - 20, axis=1).astype(np.float32)
        stack[z] = np.clip(shifted * rng.gamma(20.0, 1 / 20.0, femur.shape), 0, 255)
    return stack


def volume_per_slice(n_slices, workers):
    from usannotator.jobs.job import Progress
    from usannotator_plugins.confidence.volume import confidence_volume

    stack = synthetic_volume(n_slices)
    _, wall, cpu = timed(lambda: confidence_volume(Progress(), stack, gamma=0.06, use_cache=False,
                                                   workers=workers))
    return wall / n_slices, cpu / n_slices


def peak_memory(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="alternating runs per image (default 3)")
    p.add_argument("--slices", type=int, default=200, help="slices of the test volume (default 200)")
    p.add_argument("--workers", type=int, default=1, help="slices solved side by side (default 1)")
    args = p.parse_args(argv)
    try:
        import monai  # noqa: F401
    except ImportError:
        print("MONAI is needed as the peer: pip install --no-deps monai", file=sys.stderr)
        return 2

    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; BLAS threads "
          f"{os.environ['OPENBLAS_NUM_THREADS']}; times are medians of {args.repeats} alternating runs")
    print(f"\n{'image':<16}{'ours first':>16}{'ours':>16}{'MONAI':>16}{'ratio':>14}"
          f"{'max err ours':>14}{'max err MONAI':>15}")
    print(f"{'':<16}{'wall / cpu s':>16}{'wall / cpu s':>16}{'wall / cpu s':>16}{'wall / cpu':>14}")
    rows = [compare_image(name, gamma, args.repeats) for name, gamma in REFERENCES.items()]
    for r in rows:
        print(f"{r['name']:<16}{r['first'][0]:>7.3f} / {r['first'][1]:<6.3f}{r['ours'][0]:>7.3f} / "
              f"{r['ours'][1]:<6.3f}{r['monai'][0]:>7.2f} / {r['monai'][1]:<6.2f}"
              f"{r['monai'][0] / r['ours'][0]:>7.1f} / {r['monai'][1] / r['ours'][1]:<5.1f}"
              f"{r['err_ours']:>14.1e}{r['err_monai']:>15.1e}")

    femur = rows[1]
    per_wall, per_cpu = volume_per_slice(args.slices, args.workers)
    print(f"\nvolume {args.slices} x 512 x 476, {args.workers} worker(s): {per_wall:.3f} s wall, "
          f"{per_cpu:.3f} s cpu per slice; MONAI per image {femur['monai'][0]:.2f} s wall, "
          f"{femur['monai'][1]:.2f} s cpu: ratio {femur['monai'][0] / per_wall:.1f} (wall), "
          f"{femur['monai'][1] / per_cpu:.1f} (cpu)")

    from usannotator_plugins.confidence.algorithm import confidence_map

    image = sitk.GetArrayFromImage(sitk.ReadImage(str(DATA / "confidence_maps" / "femur_input.png")))
    from usannotator_plugins.confidence.algorithm import _grid_for

    _grid_for.cache_clear()           # count the analysis and the solver's workspace too
    ours_mb = peak_memory(lambda: confidence_map(image, gamma=0.06))
    monai_mb = peak_memory(lambda: monai_transform(0.06)(image[None].astype(np.float64)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of one 512 x 476 map (tracemalloc): ours {ours_mb:.0f} MiB, MONAI {monai_mb:.0f} MiB"
          f" (SuperLU's own buffers are not traced); process peak RSS {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
