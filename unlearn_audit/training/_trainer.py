"""``Trainer``: the one optimisation step of the package, used by ``fit`` and by every unlearning method."""

from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .._device import autocast, use_channels_last
from ._loop import make_optimizer, make_scheduler, trainable_parameters
from ._recipe import TrainRecipe

__all__ = ["Trainer", "group_dro_loss"]


class Trainer:
    """Optimizer, LR schedule and forward pass of one training run, on ``device``.

    Constructing it moves ``model`` to ``device`` in train mode (channels_last memory format on CUDA and CPU for conv
    nets when ``recipe.channels_last``), optionally wraps the forward in ``torch.compile`` (``recipe.compile``),
    and builds the recipe's optimizer (fused kernels when every parameter is on CUDA) and per-step schedule.
    Nothing in ``__call__`` / ``step`` / ``train_step`` reads a value back to the host, so a loop of steps never
    waits for the device.

    Args:
        model: the network being trained (modified in place).
        recipe: optimizer, schedule, gradient clipping, ``amp`` (bf16 autocast on CUDA), ``channels_last`` and
            ``compile``; ``epochs`` sets the schedule's length.
        device: compute device.
        steps_per_epoch: optimizer steps in one epoch (for the schedule; at least 1).
        parameters: the parameters to optimise (default: every parameter with ``requires_grad``).
    """

    def __init__(self, model: nn.Module, recipe: TrainRecipe, *, device: torch.device, steps_per_epoch: int,
                 parameters: Iterable[nn.Parameter] | None = None) -> None:
        if not isinstance(recipe, TrainRecipe):
            raise TypeError(f"recipe: expected a TrainRecipe, got {type(recipe).__name__}")
        self.model, self.recipe, self.device = model, recipe, device
        self.channels_last = use_channels_last(model, device, enabled=recipe.channels_last)
        model.to(device).train()
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.params = list(parameters) if parameters is not None else trainable_parameters(model)
        self.optimizer = make_optimizer(self.params, recipe)
        self.scheduler = make_scheduler(self.optimizer, recipe, max(1, int(steps_per_epoch)))
        self._forward: Callable[[torch.Tensor], torch.Tensor] = (
            torch.compile(model) if recipe.compile else model)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Float32 logits of the model being trained (bf16 autocast on CUDA when ``recipe.amp``)."""
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, enabled=self.recipe.amp):
            return self._forward(x).float()

    def step(self, loss: torch.Tensor, *, grad_mask: dict[nn.Parameter, torch.Tensor] | None = None) -> None:
        """Backward of ``loss``, optional gradient masking (SalUn), gradient clipping, optimizer and schedule step."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_mask is not None:
            for p, m in grad_mask.items():
                if p.grad is not None:
                    p.grad.mul_(m)
        if self.recipe.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.recipe.grad_clip)
        self.optimizer.step()
        self.scheduler.step()

    def train_step(self, x: torch.Tensor, y: torch.Tensor, *, groups: torch.Tensor | None = None,
                   q: torch.Tensor | None = None, n_attrs: int | None = None) -> torch.Tensor | None:
        """One ERM step (mean cross-entropy of the batch), or with ``groups`` one GroupDRO step.

        Returns:
            the updated GroupDRO group weights ``q`` (initialised uniform over the ``n_classes * n_attrs`` groups
            when ``None``, ``n_classes`` being the logits' width), or ``None`` for ERM.
        """
        logits = self(x)
        losses = F.cross_entropy(logits, y, reduction="none")
        if groups is None:
            self.step(losses.mean())
            return None
        if q is None:
            n_groups = logits.shape[1] * int(n_attrs or 1)
            q = torch.full((n_groups,), 1.0 / n_groups, device=losses.device)
        loss, q = group_dro_loss(losses, groups, q, self.recipe.group_dro_step)
        self.step(loss)
        return q


def group_dro_loss(losses: torch.Tensor, groups: torch.Tensor, q: torch.Tensor,
                   step: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One online GroupDRO step (Sagawa et al. 2020): per-group mean losses ``L_g`` of the batch, the
    exponentiated-gradient update ``q_g <- q_g * exp(step * L_g)`` (groups present in the batch), renormalised,
    and the loss ``sum_g q_g L_g``."""
    n_groups = q.numel()
    sums = torch.zeros(n_groups, device=losses.device, dtype=losses.dtype).index_add_(0, groups, losses)
    counts = torch.bincount(groups, minlength=n_groups).to(losses.dtype)
    group_loss = sums / counts.clamp_min(1)
    present = counts > 0
    q = q * torch.exp(step * group_loss.detach() * present)
    q = q / q.sum()
    return (q * group_loss).sum(), q
