"""Shared optimisation machinery of the method suite: hyper-parameters and batches (the training step is
``training.Trainer``, the one ``fit`` uses)."""

from __future__ import annotations

import dataclasses
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
    """Optimiser hyper-parameters shared by every gradient-based method (validated through ``TrainRecipe``).

    ``batch_size=None`` means the batch size of the recipe the original was trained with (``ctx.recipe``): the
    method's batches then scale with the user's data and training as the paper defaults (batch 256 on CIFAR) do,
    instead of a fixed small batch that costs thousands of steps on a large retain set. ``Method`` resolves it
    (``for_recipe``) before the method runs. ``epochs=None`` likewise means the recipe's epochs: the method trains
    as long as the original did (the paper setups fine-tune for a third of their 30-epoch trainings or less; a fixed
    10 epochs after a 4-epoch training would cost 2.5 retrains).
    """

    epochs: int | None = 5
    lr: float = 0.01
    batch_size: int | None = 64
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "constant"
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        # validates with TrainRecipe's messages
        self._as_recipe(1 if self.batch_size is None else self.batch_size, 1 if self.epochs is None else self.epochs)

    def for_recipe(self, recipe: TrainRecipe | None) -> "OptimParams":
        """These parameters with ``batch_size=None`` / ``epochs=None`` replaced by ``recipe.batch_size`` /
        ``recipe.epochs`` (64 / 5 without a recipe)."""
        changes: dict[str, int] = {}
        if self.batch_size is None:
            changes["batch_size"] = recipe.batch_size if recipe is not None else 64
        if self.epochs is None:
            changes["epochs"] = recipe.epochs if recipe is not None else 5
        return dataclasses.replace(self, **changes) if changes else self

    def recipe(self) -> TrainRecipe:
        """The ``TrainRecipe`` of these hyper-parameters (bf16 autocast and channels_last on CUDA, as ``fit``).

        Raises:
            ValueError: ``batch_size`` is still ``None`` (call ``for_recipe`` first).
        """
        for name in ("batch_size", "epochs"):
            if getattr(self, name) is None:
                raise ValueError(f"{type(self).__name__}.{name}: None (the recipe's) must be resolved with "
                                 f"for_recipe(ctx.recipe) before training")
        assert self.batch_size is not None and self.epochs is not None
        return self._as_recipe(self.batch_size, self.epochs)

    def _as_recipe(self, batch_size: int, epochs: int) -> TrainRecipe:
        return TrainRecipe(epochs=epochs, lr=self.lr, batch_size=batch_size, optimizer=self.optimizer,
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
