"""Device resolution, autocast and thread configuration shared by training, metrics and methods."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

__all__ = ["resolve_device", "autocast", "configure_threads", "use_channels_last"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a user device string into a ``torch.device``.

    ``"auto"`` picks CUDA when available, else CPU.

    Raises:
        ValueError: the string names no device torch knows, or names CUDA on a machine without it.
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device: expected a str or torch.device, got {type(device).__name__}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device: {device!r} is not a device torch knows ({exc})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was asked for but CUDA is not available on this machine")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device: {device!r} was asked for but MPS is not available on this machine")
    if resolved.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"device: {device!r} is not supported (use 'auto', 'cpu', 'cuda' or 'cuda:N')")
    return resolved


@contextlib.contextmanager
def autocast(device: torch.device, *, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA (when ``enabled``); a no-op on CPU so CPU results stay exact and reproducible."""
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def use_channels_last(model: torch.nn.Module, device: torch.device, *, enabled: bool = True) -> bool:
    """Whether to use channels_last memory format: the model has 2-d convolutions, on CUDA or CPU (not MPS).

    On CPU, oneDNN runs conv nets in channels_last markedly faster (measured on 2 cores, torch 2.14: one epoch of
    the demo's ``SmallConvNet`` 1.07 s -> 0.57 s, ``resnet18_small`` training steps 11% and inference 35% faster;
    ``benchmarks/train_speed.py``). Results stay deterministic for a fixed thread count; evaluation feeds
    channels_last inputs whatever the weights' format, so a model loaded from the cache scores the same."""
    if not enabled or device.type not in ("cuda", "cpu"):
        return False
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def configure_threads() -> int:
    """Set torch's intra-op threads sensibly and return the number used.

    One thread per worker under pytest-xdist (``PYTEST_XDIST_WORKER`` set) to avoid oversubscription; otherwise
    all cores this process may use. ``UNLEARN_AUDIT_THREADS`` overrides both.
    """
    override = os.environ.get("UNLEARN_AUDIT_THREADS")
    if override:
        n = int(override)
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        n = 1
    else:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS
            n = os.cpu_count() or 1
    n = max(1, n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
