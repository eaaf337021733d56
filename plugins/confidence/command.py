"""`usannotator confidence INPUT -o OUT [--alpha A --beta B --gamma G --sink all|mid|min]`

INPUT is a PNG frame, a PLUS sequence (one map per frame) or a volume (one map per slice along the
sweep). OUT follows its extension: .npy float64 in the input's array shape; .nii.gz, .nii, .nrrd,
.mha float32 with the input's geometry; .png 8-bit (0..255 for 0..1), a single frame only.
Only argparse is imported at start-up: the command line builds every plugin's parser.
"""

from __future__ import annotations

import sys

OUTPUT_EXTENSIONS = (".npy", ".nii.gz", ".nii", ".nrrd", ".mha", ".png")


def add_confidence_command(subparsers) -> None:
    from usannotator_plugins.confidence.algorithm import DEFAULTS

    p = subparsers.add_parser("confidence", help="ultrasound confidence maps (random walks, Karamalis 2012)",
                              description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("input", help="a PNG frame, a PLUS sequence (.igs.mha) or a volume")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help=", ".join(OUTPUT_EXTENSIONS))
    p.add_argument("--alpha", type=float, default=DEFAULTS["alpha"],
                   help="depth attenuation (default %(default)s)")
    p.add_argument("--beta", type=float, default=DEFAULTS["beta"],
                   help="sensitivity of the edge weights to intensity differences (default %(default)s)")
    p.add_argument("--gamma", type=float, default=DEFAULTS["gamma"],
                   help="penalty on leaving the scan line, horizontal and diagonal steps (default %(default)s)")
    p.add_argument("--sink", choices=("all", "mid", "min"), default=DEFAULTS["sink"],
                   help="the bottom row (all, default), its middle pixel (mid) or its darkest pixels (min)")
    p.add_argument("--axis", type=int, choices=(0, 1, 2), default=0,
                   help="numpy axis of the sweep in a volume (default 0)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="slices computed at the same time, in worker processes (default: one per core, "
                        "at most 8; each needs ~0.5 GB for 512 x 512)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the map cache")
    p.set_defaults(func=run_confidence)


def run_confidence(args) -> int:
    from usannotator.core.errors import UserError
    from usannotator.io import read_volume, write_image
    from usannotator.io.files import extension
    from usannotator.io.reading import FRAME_EXTENSIONS

    out_ext = extension(args.output)
    if out_ext not in OUTPUT_EXTENSIONS:
        raise UserError(f"cannot write a confidence map as '{out_ext}'; use {', '.join(OUTPUT_EXTENSIONS)}",
                        args.output)
    volume = read_volume(args.input, sweep_axis=args.axis)
    is_frame = extension(args.input) in FRAME_EXTENSIONS
    _check_input(volume, args.input)
    if out_ext == ".png" and not is_frame and volume.n_slices > 1:
        raise UserError(f"a PNG holds one frame, but {args.input} has {volume.n_slices} slices; "
                        "use .npy, .nii.gz, .nrrd or .mha", args.output)
    for note in volume.metadata.get("notes", []):
        print(f"usannotator: note: {args.input}: {note}", file=sys.stderr)
    _warn_if_fan_shaped(volume, args.input, is_frame)
    maps = _compute(args, volume, is_frame)
    write_image(args.output, maps, volume.geometry)
    print(f"confidence map: {args.output}")
    return 0


def _check_input(volume, path) -> None:
    import numpy as np

    from usannotator.core.errors import UserError

    array = volume.array
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise UserError(f"holds {array.dtype} values; a grey image is needed", path)
    if not np.isfinite(array).all():
        raise UserError("contains NaN or infinite values; a confidence map needs finite intensities", path)
    rows = array.shape[volume.depth_axis]
    if rows < 2:
        raise UserError(f"is {rows} pixel deep; a confidence map needs at least 2 rows "
                        "(the transducer row and a bottom row)", path)


def _warn_if_fan_shaped(volume, path, is_frame: bool) -> None:
    from usannotator_plugins.confidence.algorithm import looks_fan_shaped

    if not (is_frame or "tracking" in volume.metadata) or volume.sweep_axis != 0:
        return      # compounded volumes have irregular borders for other reasons
    if looks_fan_shaped(volume.array[0]):
        print(f"usannotator: warning: {path}: the frame looks fan-shaped (convex probe); confidence "
              "maps assume parallel vertical scan lines and are only right before scan conversion",
              file=sys.stderr)


def _compute(args, volume, is_frame: bool):
    from usannotator.jobs.job import Job, run_inline
    from usannotator_plugins.confidence.algorithm import confidence_map
    from usannotator_plugins.confidence.volume import confidence_volume, default_workers

    params = {"alpha": args.alpha, "beta": args.beta, "gamma": args.gamma, "sink": args.sink}
    try:
        if is_frame:
            return confidence_map(volume.array[0], **params)
        job = Job("Confidence map", confidence_volume,
                  kwargs={"volume": volume, "use_cache": not args.no_cache,
                          "workers": args.workers or default_workers(), **params})
        return run_inline(job, show_progress=True)
    except ValueError as exc:      # parameter and input checks of the algorithm
        from usannotator.core.errors import UserError

        raise UserError(str(exc), args.input) from exc
