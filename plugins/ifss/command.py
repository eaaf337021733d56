"""`usannotator propagate` and `usannotator train`. Parsers are torch-free; the commands import
torch when they run."""

from __future__ import annotations

import os
import sys
import time

from usannotator.core.errors import UserError
from usannotator_plugins.ifss.config import SPEC_THRESHOLD, THRESHOLD

DEFAULT_ADAPT_STEPS = 0   # plugins/ifss/adapt.py: on demo phantoms 40 steps changed Dice by < 0.001 for ~10 s more


def _probability(text: str) -> float:
    import argparse

    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"a threshold must be in (0, 1], got {text}")
    return value


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("propagate", help="carry key-slice masks through the volume with IFSS-Net")
    p.add_argument("image", help="the ultrasound volume")
    p.add_argument("sparse", help="labels on key slices (a slice holding label L is a key slice of L)")
    p.add_argument("-o", "--output", required=True, help="label file to write")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--weights", help="IFSS-Net weights file (default: the shipped lite weights)")
    p.add_argument("--config", choices=("lite", "full"), default="lite",
                   help="the configuration the weights must be for (default lite; full needs --weights)")
    p.add_argument("--adapt", type=int, default=DEFAULT_ADAPT_STEPS, metavar="N",
                   help=f"first fine-tune N steps on this volume's key slices (default {DEFAULT_ADAPT_STEPS})")
    p.add_argument("--threshold", type=_probability, default=THRESHOLD, metavar="P",
                   help="blended probability from which a voxel is the muscle (default %(default)s; the "
                        f"spec's {SPEC_THRESHOLD}, see plugins/ifss/config.py)")
    p.add_argument("--labels", help="comma-separated label values to propagate (default: all with key slices)")
    p.add_argument("--extend-tails", action="store_true", help="also continue beyond the first and last key slices")
    p.add_argument("--axis", type=int, default=0, choices=(0, 1, 2), help="numpy axis of the sweep (default 0)")
    p.set_defaults(func=cmd_propagate)

    t = subparsers.add_parser("train", help="train IFSS-Net weights on phantoms and sparse-labelled volumes")
    t.add_argument("-o", "--output", required=True, help="weights file to write")
    t.add_argument("--config", choices=("lite", "full"), default="lite")
    t.add_argument("--seeds", default="1000-1199", help="phantom seeds for training, e.g. 1000-1199 or 3,5,8 "
                   "(never the benchmark's seeds); 'none' for user volumes only")
    t.add_argument("--size", choices=("small", "demo"), default="demo", help="phantom size")
    t.add_argument("--data", nargs=2, action="append", default=[], metavar=("IMAGE", "SPARSE"),
                   help="a user volume with key-slice labels (repeatable)")
    t.add_argument("--steps", type=int, default=3000, help="window updates (default 3000)")
    t.add_argument("--seed", type=int, default=0, help="random seed (weights, data order, augmentation)")
    t.add_argument("--minutes", type=float, help="stop at the first validation after this wall time")
    t.add_argument("--validate-every", type=int, default=500)
    t.add_argument("--validation-seeds", default="950")
    t.add_argument("--augment", choices=("strong", "mild"), default="strong", help="augmentation ranges")
    t.add_argument("--init", help="start from these weights (and their Tversky alpha, beta)")
    t.add_argument("--lr", type=float, default=1e-3, help="starting learning rate (lite: divided by 10 over "
                   "3000 steps, never below 1e-4; default 1e-3)")
    t.add_argument("--threads", type=int, help="torch CPU threads")
    t.add_argument("--log", help="also append the training log (JSON lines) to this file")
    t.set_defaults(func=cmd_train)


def parse_seeds(text: str) -> list:
    if text.strip().lower() == "none":
        return []
    seeds = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                lo, hi = part.rsplit("-", 1)
                seeds.extend(range(int(lo), int(hi) + 1))
            elif part.strip():
                seeds.append(int(part))
    except ValueError:
        raise UserError(f"seeds must look like 1000-1199 or 3,5,8, got {text!r}") from None
    return seeds


def _read_pair(image_path, sparse_path, axis: int):
    import numpy as np

    from usannotator.io import read_labels, read_volume

    volume = read_volume(image_path, sweep_axis=axis)
    labels, geometry, table = read_labels(sparse_path, like=volume)
    if not labels.any():
        raise UserError("holds no label: draw each muscle on a few key slices", sparse_path)
    image = np.moveaxis(volume.array, axis, 0)
    return volume, image, np.moveaxis(labels, axis, 0), geometry, table


def _calm_threads() -> None:
    """On shared CPUs, OpenMP threads that spin while waiting slow torch down ~10x (measured on
    the project's 2-core machines); passive waiting costs nothing when the cores are free.
    Takes effect only before torch is first imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cmd_propagate(args) -> int:
    _calm_threads()
    import numpy as np

    from usannotator.core import Provenance
    from usannotator.io import write_labels
    from usannotator.jobs import Progress
    from usannotator.jobs.job import stderr_bar
    from usannotator_plugins.ifss.propagate import Propagator, propagate

    volume, image, sparse, geometry, table = _read_pair(args.image, args.sparse, args.axis)
    prov = Provenance.from_sparse_labels(sparse)
    keys = {v: list(prov.key_slices(v)) for v in prov.labels()}
    wanted = _label_list(args.labels)
    progress = Progress(on_update=stderr_bar() if sys.stderr.isatty() else None)
    started = time.perf_counter()
    propagator = Propagator(args.weights, args.device, config_name=args.config, threshold=args.threshold)
    result = propagate(progress, image, sparse, keys, labels_to_run=wanted, propagator=propagator,
                       adapt_steps=args.adapt, extend_tails=args.extend_tails, preview=False)
    out = np.moveaxis(result.applied_to(sparse), 0, args.axis)
    write_labels(args.output, out, geometry, table)
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)
    print(f"propagated {len(result.recomputed_slices)} slices on {result.device} in "
          f"{time.perf_counter() - started:.1f} s ({result.windows_evaluated} windows): {args.output}")
    return 0


def _label_list(text):
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--labels must be comma-separated label values, got {text!r}") from None


def cmd_train(args) -> int:
    _calm_threads()
    from usannotator_plugins.ifss.train import TrainingSettings, train

    users = []
    for image_path, sparse_path in args.data:
        _, image, sparse, _, _ = _read_pair(image_path, sparse_path, 0)
        users.append((image, sparse, str(sparse_path)))
    seeds = parse_seeds(args.seeds)
    if not seeds and not users:
        raise UserError("nothing to train on: give phantom --seeds or --data IMAGE SPARSE")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    settings = TrainingSettings(config=args.config, seeds=seeds, size=args.size, steps=args.steps, seed=args.seed,
                                user_volumes=users, validation_seeds=parse_seeds(args.validation_seeds),
                                validate_every=args.validate_every, init=args.init, minutes=args.minutes, lr_start=args.lr,
                                augment=args.augment,
                                threads=args.threads, command="usannotator " + " ".join(sys.argv[1:]))
    log = _Tee(args.log) if args.log else sys.stderr
    summary = train(settings, args.output, log=log)
    print(f"trained {summary['steps_done']} steps; kept the weights of step {summary.get('best_step')} "
          f"(validation Dice {summary.get('validation_dice') or float('nan'):.4f}, alpha {summary.get('alpha', 0):.3f}, "
          f"beta {summary.get('beta', 0):.3f}): {args.output}")
    return 0


class _Tee:
    """The training log on stderr and in a file."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")

    def write(self, text):
        sys.stderr.write(text)
        self.file.write(text)

    def flush(self):
        sys.stderr.flush()
        self.file.flush()
