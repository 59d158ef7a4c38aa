"""What an audit ran on: package versions, device, threads (recorded in every report and in cache keys)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

import torch

__all__ = ["collect_environment", "package_versions"]

_PACKAGES = ("unlearn-audit", "torch", "torchvision", "numpy", "scikit-learn", "safetensors")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that determine an audit's numbers (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out["unlearn-audit"] is None:  # running from a source tree that is not installed
        from .. import __version__

        out["unlearn-audit"] = __version__
    out["torch"] = torch.__version__
    return out


def collect_environment(device: torch.device) -> dict[str, Any]:
    """Versions, platform, device (with the GPU name when CUDA) and torch's thread count."""
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(),
        "device": str(device),
        "device_type": device.type,
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        env["device_name"] = torch.cuda.get_device_name(idx)
        env["cuda"] = torch.version.cuda
    else:
        env["device_name"] = platform.processor() or platform.machine()
    return env
