"""Per-sample outcomes (``ModelMetrics.samples``) to and from the tensors a cache entry stores (safetensors)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["samples_to_tensors", "samples_from_tensors"]


def samples_to_tensors(samples: Mapping[str, Any]) -> dict[str, torch.Tensor] | None:
    """numpy arrays -> contiguous CPU tensors (bool as uint8, which safetensors stores compactly); ``None`` if empty."""
    out = {}
    for k, v in samples.items():
        a = np.ascontiguousarray(v)
        if a.dtype == np.bool_:
            a = a.astype(np.uint8)
        out[k] = torch.from_numpy(a.copy())
    return out or None


def samples_from_tensors(state: Mapping[str, torch.Tensor] | None) -> dict[str, np.ndarray] | None:
    """Inverse of ``samples_to_tensors`` (0/1 outcomes come back as uint8, which the bootstrap reads as numbers)."""
    if not state:
        return None
    return {k: v.detach().cpu().numpy() for k, v in state.items()}
