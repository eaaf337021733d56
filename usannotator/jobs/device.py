"""Which torch device model jobs use: CUDA when present, else MPS, else the CPU."""

from __future__ import annotations


def choose_device(requested: str = "auto") -> str:
    """Resolve 'auto' | 'cpu' | 'cuda' | 'mps' to a device torch can use, or raise ValueError."""
    import torch  # imported here so the window opens without loading torch

    requested = (requested or "auto").lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available (use --device cpu or auto)")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("MPS was requested but is not available on this machine")
    if requested not in ("cpu", "mps") and not requested.startswith("cuda"):
        raise ValueError(f"unknown device {requested!r}: use auto, cpu, cuda or mps")
    return requested


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a device out-of-memory error, after which the job is retried on the CPU."""
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "out of memory" in str(exc).lower()
