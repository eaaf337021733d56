"""Ultrasound confidence maps: how much of the signal reached each pixel (1 at the transducer, low in
acoustic shadows), by the random walk of Karamalis et al. (2012) as the authors' code does it.

Python API (Qt-free, torch-free; numpy, scipy and numba):
  algorithm.confidence_map(image, alpha=2.0, beta=90.0, gamma=0.05, sink="all", sink_mask=None,
                           mode="B") -> float64 (H, W)
  algorithm.ConfidenceSolver(shape, alpha, beta, gamma, sink)(image, sink_mask=None)
      many frames of one size: the grid's analysis is reused (kept per size for the process)
  volume.confidence_volume(progress, volume, alpha, beta, gamma, sink, sink_mask=None,
                           cache_dir=None, use_cache=True, workers=1) -> float32, the volume's shape
      a Job: one map per slice along the sweep (per frame of a PLUS sequence), `workers` slices at
      a time in worker processes (volume.default_workers()), Cancel between slices, a disk cache
      written only when every slice is done
  review.review_list(labels, confidence, threshold=0.1, min_share=0.5, sweep_axis=0)
      -> [SliceToReview(slice, label, share, border_pixels)], worst first
  algorithm.looks_fan_shaped(frame) -> bool (warn: the method assumes parallel scan lines)

Command line: usannotator confidence INPUT -o OUT [--alpha A --beta B --gamma G --sink all|mid|min]
              [--workers N]
GUI: the Confidence dock (gui.py), imported only by `activate`: the map as an overlay (View >
Confidence map, Shift+C), computed in the background slice by slice, and the review list.

The solver (grid_solver.GridCholesky) is a nested-dissection multifrontal Cholesky written for
the 8-neighbour pixel grid: LAPACK/BLAS for the large fronts, compiled loops (numba,
small_fronts.py) for the tens of thousands of small ones near the leaves.
"""

from __future__ import annotations

from usannotator.plugins.api import Plugin


class ConfidencePlugin(Plugin):
    name = "confidence"
    title = "Confidence map"
    description = ("Per-pixel confidence of ultrasound frames and volumes (low in acoustic shadows and "
                   "deep tissue), and the slices whose muscle borders run through low confidence.")

    def add_commands(self, subparsers) -> None:
        from usannotator_plugins.confidence.command import add_confidence_command

        add_confidence_command(subparsers)

    def activate(self, host) -> None:
        from usannotator_plugins.confidence.gui import activate

        self.dock = activate(host)

    def deactivate(self, host) -> None:
        from usannotator_plugins.confidence.gui import deactivate

        deactivate(host)


plugin = ConfidencePlugin()
