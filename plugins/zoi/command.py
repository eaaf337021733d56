"""`usannotator interpolate IMAGE SPARSE -o OUT`: fill the gaps between key slices of a sparse label file."""

from __future__ import annotations

import sys

from usannotator.core.errors import UserError

from .algorithm import METHOD_TITLES, METHODS
from .zero_order import DEFAULT_SIGMA, DEFAULT_SOURCE_RULE, SMOOTH_AXES, SOURCE_RULES


def add_interpolate_command(subparsers) -> None:
    p = subparsers.add_parser(
        "interpolate", help="fill the slices between key slices of each label (ZOI, sdf or morphological)",
        description="Interpolate a sparse label file. A slice along the sweep is a key slice of label L "
                    "when it holds L; each label is filled from its first to its last key slice. Key "
                    "slices are kept bit for bit; muscles never overwrite each other's key slices.")
    p.add_argument("image", help="the ultrasound volume (geometry reference)")
    p.add_argument("sparse", help="label file holding the key slices")
    p.add_argument("-o", "--output", required=True, help="label file to write (format from the extension)")
    p.add_argument("--method", choices=METHODS, default="zoi",
                   help="; ".join(f"{m}: {t}" for m, t in METHOD_TITLES.items()) + " (default zoi)")
    p.add_argument("--source-rule", choices=SOURCE_RULES, default=DEFAULT_SOURCE_RULE,
                   help="ZOI: which key mask a gap slice copies: the nearer key (default) or, as the "
                        "thesis worded it, the smaller mask")
    p.add_argument("--smooth", choices=SMOOTH_AXES, default="3d",
                   help="ZOI: axes of the 7-tap Gaussian smoothing (default 3d)")
    p.add_argument("--sigma", type=float, default=DEFAULT_SIGMA,
                   help="ZOI: Gaussian sigma in voxels (default 1.4)")
    p.add_argument("--axis", type=int, choices=(0, 1, 2), default=0,
                   help="numpy axis of the sweep (default 0, the image's last axis)")
    p.add_argument("--lock", type=int, nargs="+", default=[], metavar="LABEL", help="labels never to change")
    p.set_defaults(func=run_interpolate)


def run_interpolate(args) -> int:
    from usannotator.core.provenance import Provenance
    from usannotator.io import read_labels, read_volume, write_labels
    from usannotator.jobs import Progress
    from usannotator.jobs.job import stderr_bar

    from .algorithm import interpolate

    volume = read_volume(args.image, sweep_axis=args.axis)
    if min(volume.shape) < 2:
        raise UserError(f"is a single 2D frame ({volume.shape}); interpolation needs a 3D volume", args.image)
    labels, geometry, table = read_labels(args.sparse, like=volume)
    provenance = Provenance.from_sparse_labels(labels, args.axis)
    key_slices = {label: provenance.key_slices(label) for label in provenance.labels()}
    if not key_slices:
        raise UserError("holds no label on any slice, so there is no key slice to interpolate from",
                        args.sparse)
    settings = {"source_rule": args.source_rule, "smooth_axes": args.smooth, "sigma": args.sigma} \
        if args.method == "zoi" else {}
    progress = Progress(on_update=stderr_bar() if sys.stderr.isatty() else None)
    result = interpolate(labels, key_slices, locked=set(args.lock), method=args.method, sweep_axis=args.axis,
                         spacing=geometry.spacing_zyx, progress=progress, **settings)
    write_labels(args.output, result.apply_to(labels, copy=False), geometry, table)
    for label, slices in result.slices_written.items():
        print(f"label {label}: {len(slices)} slices interpolated")
    print(f"wrote {args.output} ({args.method}{_describe(result.settings)})")
    return 0


def _describe(settings: dict) -> str:
    return "".join(f", {k} {v}" for k, v in settings.items())
