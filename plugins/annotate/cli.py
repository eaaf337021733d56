"""`usannotator annotate ...`: the annotation tools without the window, through the same edit path.

  annotate import-sparse IMAGE SPARSE -o SESSION   sparse labels -> a session whose key slices are
                                                   the slices holding each label
  annotate stats IMAGE LABELS [--json]             voxels, ml, key slices, extent per label
  annotate paint IMAGE [--labels IN] -o OUT ...    one tool gesture (brush, erase, polygon, fill,
                                                   fill-holes) on one slice

LABELS / IN / OUT are label files, or sessions (.usa.json), which keep the key slices; a label file
follows the convention that a slice is a key slice of L when it holds L.
"""

from __future__ import annotations

import json

from usannotator.core.edits import LockedLabelError, OverwriteRule
from usannotator.core.errors import UserError

TOOLS = ("brush", "erase", "polygon", "fill", "fill-holes")
RULES = {rule.value: rule for rule in OverwriteRule}


def add_commands(subparsers) -> None:
    annotate = subparsers.add_parser("annotate", help="sparse 2D annotation: import key slices, statistics, scripted painting")
    sub = annotate.add_subparsers(dest="annotate_command", metavar="ACTION", required=True)

    imp = sub.add_parser("import-sparse", help="sparse labels -> session with their slices as key slices")
    imp.add_argument("image")
    imp.add_argument("sparse", help="label file holding annotations on key slices only")
    imp.add_argument("-o", "--output", required=True, help="session to write (NAME.usa.json)")
    _sweep_axis_option(imp)
    imp.add_argument("--json", action="store_true", help="print the key slices as JSON")
    imp.set_defaults(func=cmd_import_sparse)

    stats = sub.add_parser("stats", help="per label: voxels, volume in ml, key slices, extent along the sweep")
    stats.add_argument("image")
    stats.add_argument("labels", help="label file or session (.usa.json)")
    _sweep_axis_option(stats)
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(func=cmd_stats)

    paint = sub.add_parser("paint", help="apply one tool gesture on one slice, as in the window")
    paint.add_argument("image")
    paint.add_argument("--labels", help="label file or session to start from (default: no labels)")
    paint.add_argument("-o", "--output", required=True, help="label file or session (.usa.json) to write")
    paint.add_argument("--tool", choices=TOOLS, default="brush")
    paint.add_argument("--label", help="label name or value (not needed to erase every label)")
    paint.add_argument("--view", type=int, choices=(0, 1, 2), help="numpy axis across the slice (default: the sweep axis)")
    paint.add_argument("--slice", type=int, required=True, help="slice index along --view")
    paint.add_argument("--points", nargs="+", default=[], metavar="ROW,COL",
                       help="stroke points, polygon vertices or the fill seed, as row,col of the slice")
    paint.add_argument("--radius", type=float, default=3.0, help="brush/eraser radius in voxels (default 3)")
    paint.add_argument("--sphere", action="store_true", help="3D brush: a sphere instead of a disk")
    paint.add_argument("--rule", choices=list(RULES), default="everything", help="what the tool may paint over")
    paint.add_argument("--bounded-by", choices=("label", "any"), default="label",
                       help="fill: region enclosed by the label (default) or by any other value")
    _sweep_axis_option(paint)
    paint.set_defaults(func=cmd_paint)


def _sweep_axis_option(parser) -> None:
    parser.add_argument("--axis", type=int, choices=(0, 1, 2), default=0,
                        help="numpy axis of the sweep (default 0)")


# ----- commands -----

def cmd_import_sparse(args) -> int:
    from usannotator.io import save_session

    doc = open_document(args.image, args.sparse, args.axis)
    if not doc.labels.any():
        raise UserError("holds no label (all voxels are 0): there is no key slice to import", args.sparse)
    save_session(args.output, doc)
    keys = {doc.label_table[v].name if v in doc.label_table else str(v): doc.key_slices(v).tolist()
            for v in doc.provenance.labels()}
    if args.json:
        print(json.dumps(keys, indent=2))
    else:
        for name, slices in keys.items():
            print(f"{name}: {len(slices)} key slices ({_ranges(slices)})")
        print(f"session: {args.output}")
    return 0


def cmd_stats(args) -> int:
    from usannotator_plugins.annotate.stats import label_statistics

    rows = [s.to_dict() for s in label_statistics(open_document(args.image, args.labels, args.axis))]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'label':>5} {'name':<12} {'voxels':>12} {'ml':>10} {'key slices':>10} {'first':>6} {'last':>6} {'extent mm':>10}")
    for r in rows:
        first, last = ("-", "-") if r["first_slice"] is None else (r["first_slice"], r["last_slice"])
        print(f"{r['value']:>5} {r['name']:<12} {r['voxels']:>12} {r['volume_ml']:>10.3f} {r['key_slices']:>10} "
              f"{first:>6} {last:>6} {r['extent_mm']:>10.2f}")
    return 0


def cmd_paint(args) -> int:
    doc = open_document(args.image, args.labels, args.axis)
    edit = _gesture(doc, args)
    try:
        change = doc.apply_edit(edit) if edit is not None else None
    except LockedLabelError as exc:
        raise UserError(f"nothing painted: {exc}") from exc
    save_document(doc, args.output)
    if change is None:
        print("nothing changed (the gesture is outside the image or everything under it is protected)")
    else:
        print(f"{change.description}: {int((change.before != change.after).sum())} voxels changed")
    return 0


def _gesture(doc, args):
    from usannotator_plugins.annotate import tools

    where = tools.ViewSlice(doc.sweep_axis if args.view is None else args.view, args.slice)
    points = [_point(p) for p in args.points]
    label = _label_value(doc, args.label)
    rule = RULES[args.rule]
    if args.tool in ("brush", "erase", "polygon", "fill") and not points:
        raise UserError(f"--tool {args.tool} needs --points")
    try:
        if args.tool == "brush":
            return tools.brush(doc, where, points, args.radius, label, sphere=args.sphere, rule=rule)
        if args.tool == "erase":
            return tools.erase(doc, where, points, args.radius, label=label, sphere=args.sphere, rule=rule)
        if args.tool == "polygon":
            return tools.polygon_fill(doc, where, points, label, rule=rule)
        if args.tool == "fill":
            return tools.flood_fill(doc, where, points[0], label, bounded_by=args.bounded_by, rule=rule)
        return tools.fill_holes(doc, where, label, rule=rule)
    except LockedLabelError as exc:
        raise UserError(str(exc)) from exc
    except ValueError as exc:  # a slice outside the image
        raise UserError(str(exc)) from exc


# ----- files -----

def open_document(image, labels, sweep_axis: int = 0):
    """A Document of IMAGE with LABELS: a session keeps its provenance; a label file's key slices
    are the slices holding each label; None gives empty labels."""
    from usannotator.core.document import Document
    from usannotator.core.labels import LabelTable
    from usannotator.core.provenance import Provenance
    from usannotator.io import open_session, read_labels, read_volume
    from usannotator.io.files import extension

    if labels is not None and extension(labels) == ".usa.json":
        return open_session(labels)[0]
    volume = read_volume(image, sweep_axis)
    if labels is None:
        return Document(volume)
    array, _, table = read_labels(labels, like=volume)
    return Document(volume, array, table or LabelTable(), Provenance.from_sparse_labels(array, sweep_axis))


def save_document(doc, path) -> None:
    from usannotator.io import save_session, write_labels
    from usannotator.io.files import extension

    if extension(path) == ".usa.json":
        save_session(path, doc)
    else:
        write_labels(path, doc.labels, doc.volume.geometry, doc.label_table)


def _label_value(doc, text):
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    for label in doc.label_table:
        if label.name.lower() == text.lower():
            return label.value
    names = ", ".join(l.name for l in doc.label_table)
    raise UserError(f"no label is called {text!r} (labels: {names})")


def _point(text: str) -> tuple:
    try:
        row, col = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"a point is written ROW,COL (e.g. 120,85.5), not {text!r}") from None
    return row, col


def _ranges(slices) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    parts, start = [], None
    for i, z in enumerate(slices):
        if start is None:
            start = z
        if i + 1 == len(slices) or slices[i + 1] != z + 1:
            parts.append(f"{start}" if start == z else f"{start}-{z}")
            start = None
    return ", ".join(parts)
