"""Shared optimisation machinery of the method suite: hyper-parameters and batches (the training step is
``training.Trainer``, the one ``fit`` uses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..data import GroupDataset
from ..training import TrainRecipe, Trainer, batch_indices

__all__ = ["OptimParams", "Trainer", "batches", "logits_of", "weighted_ce"]


@dataclass(frozen=True, kw_only=True)
class OptimParams:
    """Optimiser hyper-parameters shared by every gradient-based method (validated through ``TrainRecipe``)."""

    epochs: int = 5
    lr: float = 0.01
    batch_size: int = 64
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "constant"
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        self.recipe()  # validates every field with TrainRecipe's messages

    def recipe(self) -> TrainRecipe:
        """The ``TrainRecipe`` of these hyper-parameters (bf16 autocast and channels_last on CUDA, as ``fit``)."""
        return TrainRecipe(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, optimizer=self.optimizer,
                           momentum=self.momentum, weight_decay=self.weight_decay, schedule=self.schedule,
                           grad_clip=self.grad_clip)


def batches(ds: GroupDataset, batch_size: int, generator: torch.Generator, *, weights: torch.Tensor | None = None,
            shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(idx, x, y)`` mini-batches of an on-device dataset for one epoch; ``weights`` samples with replacement."""
    for idx in batch_indices(len(ds), batch_size, generator=generator, shuffle=shuffle, weights=weights):
        idx = idx.to(ds.device)
        yield idx, ds.x[idx], ds.y[idx]


def weighted_ce(logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """``mean_i w_i * CE_i`` (plain mean CE when ``weights`` is ``None``), computed in float32."""
    losses = F.cross_entropy(logits.float(), y, reduction="none")
    return losses.mean() if weights is None else (weights * losses).mean()


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor, *, device: torch.device, batch_size: int = 1024) -> torch.Tensor:
    """Eval-mode float32 logits of a frozen model (teacher / original) in batches."""
    outs = [model(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0, device=device)
