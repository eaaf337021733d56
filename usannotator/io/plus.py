"""PLUS toolkit sequence files (.igs.mha): tracked 2D frames whose header carries, per frame,
4x4 tracking transforms (`Seq_Frame0000_ProbeToTrackerTransform`, row-major), their statuses,
timestamps and other fields."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

FRAME_KEY = re.compile(r"^Seq_Frame(\d+)_(\w+)$")


def is_plus_sequence(header: dict) -> bool:
    return any(FRAME_KEY.match(key) for key in header)


def plus_metadata(header: dict, n_frames: int) -> dict:
    """Split a PLUS header into per-frame arrays and the remaining (whole-sequence) keys.

    tracking: {"ProbeToTracker": (n, 4, 4) array, ...}, NaN where a frame lacks a valid matrix.
    tracking_status: {"ProbeToTracker": ["OK", ...]}; timestamps: (n,) seconds (NaN if missing);
    frame_fields: other per-frame values as lists of strings; header: the rest; notes: what was off.
    """
    per_field = defaultdict(dict)
    rest = {}
    for key, value in header.items():
        match = FRAME_KEY.match(key)
        if match:
            per_field[match[2]][int(match[1])] = value
        else:
            rest[key] = value
    result = {"tracking": {}, "tracking_status": {}, "frame_fields": {}, "header": rest, "notes": []}
    for field, by_frame in sorted(per_field.items()):
        if field.endswith("TransformStatus"):
            result["tracking_status"][field[: -len("TransformStatus")]] = _per_frame(by_frame, n_frames)
        elif field.endswith("Transform"):
            name = field[: -len("Transform")]
            result["tracking"][name] = matrices = _matrices(by_frame, n_frames)
            missing = int(np.isnan(matrices[:, 0, 0]).sum())
            if missing:
                result["notes"].append(f"{name} tracking is missing or unreadable on {missing} of {n_frames} frames")
        elif field == "Timestamp":
            result["timestamps"] = np.array([_number(by_frame.get(i)) for i in range(n_frames)])
        else:
            result["frame_fields"][field] = _per_frame(by_frame, n_frames)
    return result


def _per_frame(by_frame: dict, n: int) -> list:
    return [by_frame.get(i) for i in range(n)]


def _matrices(by_frame: dict, n: int) -> np.ndarray:
    out = np.full((n, 4, 4), np.nan)
    for i in range(n):
        try:
            values = [float(v) for v in by_frame.get(i, "").split()]
        except ValueError:
            continue
        if len(values) == 16:
            out[i] = np.reshape(values, (4, 4))
    return out


def _number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")
