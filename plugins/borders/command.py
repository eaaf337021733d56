"""`usannotator borders IMAGE LABELS -o OUT_DIR [--prediction P] ...`

Writes OUT_DIR/distinct.nii.gz and completed.nii.gz (reference border voxels of each kind carrying
their muscle's label, in the image geometry) and split.json (parameters, threshold, shares); with a
prediction also metrics.json and metrics.csv; with --activation LABEL the two activation maps.
Everything is computed before anything is written, and the files are written into a hidden folder
inside OUT_DIR then moved into place, so a failure leaves no new file behind.

Nothing heavy is imported at module level: the command line builds every plugin's parser at start-up.
"""

from __future__ import annotations

import sys

from usannotator_plugins.borders.parameters import SplitParameters

DEFAULTS = SplitParameters()


def add_borders_command(subparsers) -> None:
    p = subparsers.add_parser("borders", help="distinct vs completed borders; per-kind metrics of a prediction",
                              description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("image", help="the ultrasound volume")
    p.add_argument("labels", help="the reference label map (same geometry)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the results")
    p.add_argument("--prediction", metavar="P", help="a predicted label map to score on each kind of border")
    p.add_argument("--tolerance", type=float, default=1.0, metavar="MM",
                   help="a reference border voxel is recovered when the predicted border is this close (default 1.0)")
    _add_split_options(p)
    _add_activation_options(p)
    p.set_defaults(func=run_borders)


def _add_split_options(p) -> None:
    g = p.add_argument_group("split", "how visible (distinct) border is told from completed border")
    g.add_argument("--mode", choices=("2d", "3d"), default="2d", help="per sweep slice (default) or in 3D")
    g.add_argument("--sigma", type=float, default=None, metavar="PX",
                   help=f"Gaussian smoothing before Sobel, pixels (default {DEFAULTS.sigma_px})")
    g.add_argument("--edge-tolerance", type=int, default=None, metavar="PX",
                   help=f"look for an edge within this radius of a border voxel (default {DEFAULTS.tol_px})")
    g.add_argument("--percentile", type=float, default=None, metavar="P",
                   help="edge strength percentile over the volume above which a border is distinct "
                        f"(default {DEFAULTS.edge_percentile:g})")
    g.add_argument("--otsu", action="store_true", help="threshold edge strength with Otsu instead")
    g.add_argument("--fov", metavar="MASK", help="field-of-view mask: the threshold ignores voxels outside it")
    g.add_argument("--axis", type=int, choices=(0, 1, 2), default=0,
                   help="numpy axis along the sweep (default 0, the last image axis)")


def _add_activation_options(p) -> None:
    g = p.add_argument_group("activation maps", "Seg-Grad-CAM of a segmentation model on each kind of border")
    g.add_argument("--activation", type=int, metavar="LABEL", help="compute the maps for this muscle label")
    g.add_argument("--model", help="segmenter name (default: the first available)")
    g.add_argument("--layer", help="layer name (default: the segmenter's first, its penultimate decoder stage)")
    g.add_argument("--target", choices=("muscle", "background"), default="muscle",
                   help="the logit differentiated: the muscle's (default) or background (the authors' choice)")
    g.add_argument("--weights", choices=("global", "per-pixel"), default="global",
                   help="channel weights averaged over the slice (Seg-Grad-CAM, default) or per pixel (HiResCAM)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def run_borders(args) -> int:
    from usannotator_plugins.borders import outputs

    inputs = outputs.read_inputs(args)
    files, warnings = outputs.compute(args, inputs)
    outputs.write_all(args.output, files)
    for line in warnings:
        print(f"usannotator: warning: {line}", file=sys.stderr)
    for name in files:
        print(f"{name}: {args.output}/{name}")
    return 0
