"""Input normalization as a module, so that models take pixel-space inputs and attacks stay in pixel space."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["Normalize"]


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel (images) or per feature (tabular); identity when both are ``None``."""

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        self.enabled = mean is not None or std is not None
        self.register_buffer("mean", torch.tensor(list(mean) if mean is not None else [0.0]), persistent=False)
        self.register_buffer("std", torch.tensor(list(std) if std is not None else [1.0]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return (x - self.mean.view(shape)) / self.std.view(shape)
