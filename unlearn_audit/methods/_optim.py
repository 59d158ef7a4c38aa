"""Shared optimisation machinery of the method suite: hyper-parameters, batches and one training step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .._device import autocast, use_channels_last
from ..data import GroupDataset
from ..training import TrainRecipe, batch_indices, make_optimizer, make_scheduler

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


class Trainer:
    """Optimiser, LR schedule, autocast and channels_last for one method run.

    Args:
        model: the network being unlearned (put in train mode, moved to ``device``).
        params: optimiser hyper-parameters.
        device: compute device.
        steps_per_epoch: optimiser steps in one epoch (for the schedule).
        parameters: the parameters to optimise (default: every parameter with ``requires_grad``).
    """

    def __init__(self, model: nn.Module, params: OptimParams, *, device: torch.device, steps_per_epoch: int,
                 parameters: Iterable[nn.Parameter] | None = None, amp: bool = True) -> None:
        self.model = model.to(device).train()
        self.device = device
        self.amp = amp
        self.channels_last = use_channels_last(model, device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        params_list = list(parameters) if parameters is not None else [p for p in model.parameters() if p.requires_grad]
        recipe = params.recipe()
        self.grad_clip = params.grad_clip
        self.params = params_list
        self.optimizer = make_optimizer(params_list, recipe)
        self.scheduler = make_scheduler(self.optimizer, recipe, max(1, steps_per_epoch))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the model being trained (autocast on CUDA), float32."""
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, enabled=self.amp):
            return self.model(x).float()

    def step(self, loss: torch.Tensor, *, grad_mask: dict[nn.Parameter, torch.Tensor] | None = None) -> None:
        """Backward, optional gradient masking (SalUn), gradient clipping, optimiser and schedule step."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_mask is not None:
            for p, m in grad_mask.items():
                if p.grad is not None:
                    p.grad.mul_(m)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor, *, device: torch.device, batch_size: int = 1024) -> torch.Tensor:
    """Eval-mode float32 logits of a frozen model (teacher / original) in batches."""
    outs = [model(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0, device=device)
