"""The command line: `usannotator [FILE] [--demo] [--screenshot OUT]` opens the GUI; subcommands
(info, demo, metrics, and each plugin's) run headless. Bad input: one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import sys

from usannotator import __version__
from usannotator.core.errors import UserError

EXIT_BAD_INPUT = 2


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="usannotator", description="Open the usannotator window. "
                                "Subcommands: run 'usannotator help' to list them.")
    p.add_argument("file", nargs="?", help="a volume, or a session (.usa.json), to open")
    p.add_argument("--labels", help="a label file to open with the volume")
    p.add_argument("--demo", action="store_true", help="open the bundled demo phantom with its key slices")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window, save it as PNG and exit")
    p.add_argument("--plugins-report", metavar="OUT.json", help="write each plugin's state as JSON (with --screenshot)")
    p.add_argument("--version", action="version", version=f"usannotator {__version__}")
    return p


def build_parser(records=None) -> argparse.ArgumentParser:
    """The subcommand parser: host commands and every loaded plugin's commands."""
    from usannotator.plugins import discover

    p = argparse.ArgumentParser(prog="usannotator")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    _add_host_commands(sub)
    for record in records if records is not None else discover():
        if not record.ok:
            continue
        try:
            record.plugin.add_commands(sub)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the other commands
            record.fail("failed to start", exc)
    return p


def _add_host_commands(sub) -> None:
    info = sub.add_parser("info", help="size, spacing, origin, direction, dtype, range, label values and counts")
    info.add_argument("file")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(func=cmd_info)

    demo = sub.add_parser("demo", help="write a demo phantom: image, ground-truth labels, sparse key-slice labels")
    demo.add_argument("out_dir")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--every", type=int, default=10, help="key slice every K slices (default 10)")
    demo.add_argument("--size", choices=("small", "demo"), default="demo", help="phantom size")
    demo.set_defaults(func=cmd_demo)

    metrics = sub.add_parser("metrics", help="per label and mean: Dice, IoU, volume ml, volume error %%, HD95, ASD")
    metrics.add_argument("reference")
    metrics.add_argument("prediction")
    metrics.add_argument("--json", action="store_true", help="print JSON instead of a table")
    metrics.set_defaults(func=cmd_metrics)

    plugins = sub.add_parser("plugins", help="list plugins and whether they loaded")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(func=cmd_plugins)


def cmd_info(args) -> int:
    from usannotator.io import describe_file

    info = describe_file(args.file)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>12}: {value}")
    return 0


def cmd_demo(args) -> int:
    from usannotator.phantom import write_demo

    paths = write_demo(args.out_dir, seed=args.seed, every=args.every, size=args.size)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def cmd_metrics(args) -> int:
    from usannotator.io import read_labels
    from usannotator.metrics import METRIC_NAMES, label_metrics

    ref, ref_geometry, _ = read_labels(args.reference)
    pred, pred_geometry, _ = read_labels(args.prediction)
    if pred.shape != ref.shape:
        raise UserError(f"has shape {pred.shape} but the reference {args.reference} has {ref.shape}", args.prediction)
    if not ref_geometry.matches(pred_geometry):
        raise UserError(f"geometry differs from the reference: {ref_geometry.describe_mismatch(pred_geometry)}",
                        args.prediction)
    if not ref.any():
        raise UserError("the reference holds no label (all voxels are 0)", args.reference)
    result = label_metrics(ref, pred, ref_geometry.spacing_zyx)
    if args.json:
        print(json.dumps({str(k): v for k, v in result.items()}, indent=2))
        return 0
    print(f"{'label':>6} " + " ".join(f"{n:>19}" for n in METRIC_NAMES))
    for label, m in result.items():
        print(f"{label!s:>6} " + " ".join(f"{m[n]:>19.4f}" for n in METRIC_NAMES))
    return 0


def cmd_plugins(args) -> int:
    from usannotator.plugins import discover

    records = discover()
    build_parser(records)  # also records plugins whose commands fail to register
    rows = [{"name": r.name, "state": r.state, "source": r.source, "error": r.error} for r in records]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']:<12} {row['state']:<16} {row['error']}")
    return 0


def _is_subcommand(argv, parser) -> bool:
    if not argv or argv[0].startswith("-"):
        return False
    choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    return argv[0] in choices or argv[0] == "help"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if _is_subcommand(argv, parser):
            if argv[0] == "help":
                parser.print_help()
                return 0
            args = parser.parse_args(argv)
            return int(args.func(args) or 0)
        args = _gui_parser().parse_args(argv)
        from usannotator.gui.app import run_gui

        return run_gui(args)
    except UserError as exc:
        print(f"usannotator: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        print("usannotator: error: this command needs torch, which is not installed "
              "(models are not part of this installation)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a folder that cannot be created, a full disk...: say which file, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"usannotator: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("usannotator: error: not enough memory for this input", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("usannotator: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
