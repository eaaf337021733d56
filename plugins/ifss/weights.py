"""Weights files: a small state dict with the configuration and a format version embedded.

Loaded from local files only, with torch's weights-only unpickler (no code runs from a file).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from usannotator.core.errors import UserError
from usannotator_plugins.ifss.config import IFSSConfig, config_named

FORMAT = "usannotator.ifss-net"
FORMAT_VERSION = 1
RESOURCES_ENV = "USANNOTATOR_RESOURCES"


def resources_dir() -> Path:
    """The folder of shipped resources: $USANNOTATOR_RESOURCES, else the repository's resources/."""
    env = os.environ.get(RESOURCES_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "resources"


def shipped_weights(config_name: str = "lite") -> Path:
    return resources_dir() / "ifss" / f"ifss_{config_name}.pt"


def save_weights(path, model, loss=None, info: dict | None = None) -> Path:
    """Write aside, then rename: an interrupted save never leaves a broken weights file."""
    import torch

    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "tversky_omega": None if loss is None else loss.omega.detach().cpu().clone(),
        "info": plain(info or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def plain(info: dict) -> dict:
    """Only JSON types, so the weights-only unpickler reads the file back (e.g. torch.__version__
    is a str subclass it refuses)."""
    return json.loads(json.dumps(info, default=str))


def read_weights_file(path) -> dict:
    """The checked payload of a weights file, or a UserError naming the file and the problem."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError("weights file not found", path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise UserError(f"is not a readable IFSS-Net weights file ({type(exc).__name__})", path) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError("is not an IFSS-Net weights file of usannotator", path)
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UserError(f"has weights format version {version}; this usannotator reads up to {FORMAT_VERSION}", path)
    try:
        payload["config"] = IFSSConfig.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"has a damaged configuration ({exc})", path) from None
    return payload


def load_model(path, config_name: str | None = "lite", device: str = "cpu"):
    """(model in eval mode on device, payload). Refuses weights for another configuration."""
    from usannotator_plugins.ifss.model import IFSSNet

    payload = read_weights_file(path)
    config = payload["config"]
    if config_name is not None:
        expected = config_named(config_name)
        if config.name != expected.name:
            raise UserError(f"holds weights for the '{config.name}' IFSS-Net configuration, "
                            f"but the '{expected.name}' configuration was asked for", path)
        changed = config.differences(expected)
        if changed:
            raise UserError(f"was made for a different '{expected.name}' configuration "
                            f"(differs in {', '.join(changed)})", path)
    model = IFSSNet(config)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise UserError(f"does not fit the '{config.name}' network ({first})", path) from None
    model.eval().to(device)
    return model, payload


def weights_fingerprint(model) -> str:
    """A content hash of the weights: cached chains are only reused with the same weights."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
