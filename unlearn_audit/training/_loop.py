"""Building blocks of the in-memory training loop, shared by ``fit`` and the unlearning methods."""

from __future__ import annotations

import math
from typing import Iterable, Iterator

import torch
from torch import nn

from ._recipe import TrainRecipe

__all__ = ["batch_indices", "make_optimizer", "make_scheduler", "augment_batch", "trainable_parameters"]


def batch_indices(n: int, batch_size: int, *, generator: torch.Generator, shuffle: bool = True,
                  weights: torch.Tensor | None = None, num_samples: int | None = None,
                  drop_last: bool = False) -> Iterator[torch.Tensor]:
    """Index batches for one epoch over ``n`` samples, built with one tensor op (no per-sample Python work).

    With ``weights``, indices are drawn with replacement proportionally to them (``num_samples`` in total,
    default ``n``), the ``WeightedRandomSampler`` scheme of REWEIGHT (De Min et al. 2025).
    """
    if weights is not None:
        total = n if num_samples is None else num_samples
        order = torch.multinomial(weights.to(torch.float64).cpu(), total, replacement=True, generator=generator)
    elif shuffle:
        order = torch.randperm(n, generator=generator)
    else:
        order = torch.arange(n)
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        batch = order[start:start + batch_size]
        if len(batch):
            yield batch


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def make_optimizer(params: Iterable[nn.Parameter], recipe: TrainRecipe) -> torch.optim.Optimizer:
    """The optimizer a recipe names, with its lr, momentum and weight decay; the fused (one-kernel) implementation
    when every parameter is a floating-point CUDA tensor, the default one otherwise (CPU results unchanged)."""
    params = list(params)
    fused = {"fused": True} if params and all(p.is_cuda and p.is_floating_point() for p in params) else {}
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay,
                               **fused)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, **fused)
    return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay, **fused)


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: TrainRecipe,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step LR schedule of the recipe (warm-up, then cosine / constant / step); see ``TrainRecipe``."""
    total = max(1, recipe.epochs * steps_per_epoch)
    warm = recipe.warmup_epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        frac = (step - warm) / max(1, total - warm)
        if recipe.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))
        if recipe.schedule == "step":
            return 0.1 ** min(2, math.floor(3 * frac))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def augment_batch(x: torch.Tensor, kind: str | None, generator: torch.Generator) -> torch.Tensor:
    """Vectorised image augmentation of a batch: random horizontal flip, optionally a random shift of up to 2 pixels (one shift per batch, drawn per step)."""
    if kind is None or x.ndim != 4:
        return x
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    if kind == "crop_flip":
        pad = 2
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
        dx, dy = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=generator))
        x = padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
    return x
