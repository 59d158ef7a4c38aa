"""``l1_sparse``: fine-tuning on ``D_r`` with a decaying L1 penalty (Jia et al. 2023)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ._context import UnlearnContext
from ._finetune import retain_epochs
from ._optim import OptimParams
from ._registry import register_method

__all__ = ["L1SparseParams", "l1_schedule", "l1_sparse"]


@dataclass(frozen=True, kw_only=True)
class L1SparseParams(OptimParams):
    """Hyper-parameters of ``l1_sparse``.

    Attributes:
        alpha: initial L1 strength ``alpha``.
        no_l1_epochs: trailing epochs without the penalty (``E' = epochs - no_l1_epochs``).

    Paper defaults (SPARSE README): SGD lr 0.01, momentum 0.9, weight decay 5e-4, 10 epochs, batch 256, alpha
    user-set; De Min et al. use alpha = 5e-4. Small-data defaults here: alpha 5e-4, 10 epochs,
    lr 0.05, the recipe's batch size (as ``ft``).
    """

    alpha: float = 5e-4
    no_l1_epochs: int = 0
    epochs: int = 10
    lr: float = 0.05
    batch_size: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.alpha, (int, float)) or isinstance(self.alpha, bool) or self.alpha < 0:
            raise ValueError(f"L1SparseParams.alpha: expected a number >= 0, got {self.alpha!r}")
        n = self.no_l1_epochs
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < self.epochs:
            raise ValueError(f"L1SparseParams.no_l1_epochs: expected an int in [0, epochs={self.epochs}), got {n!r}")


def l1_schedule(alpha: float, epoch: int, epochs: int, no_l1_epochs: int = 0) -> float:
    """L1 strength of epoch ``t``: ``alpha_t = alpha * (1 - t / E')`` for ``t < E' = E - no_l1_epochs``, else 0.

    With ``no_l1_epochs = 0``: ``alpha_0 = alpha`` and ``alpha_{E-1} = alpha / E``.

    Raises:
        ValueError: ``epoch`` outside ``[0, epochs)`` or ``no_l1_epochs`` outside ``[0, epochs)``.
    """
    if not 0 <= no_l1_epochs < epochs:
        raise ValueError(f"no_l1_epochs: expected an int in [0, epochs={epochs}), got {no_l1_epochs!r}")
    if not 0 <= epoch < epochs:
        raise ValueError(f"epoch: expected an int in [0, epochs={epochs}), got {epoch!r}")
    active = epochs - no_l1_epochs
    return alpha * (1.0 - epoch / active) if epoch < active else 0.0


@register_method("l1_sparse", family="finetune", paper="Jia et al. 2023 (l1-sparse)", needs=frozenset({"retain"}),
                 supports_retain_weights=True, cost="epochs passes over D_r", params=L1SparseParams(),
                 description="fine-tune on D_r with an L1 penalty on all parameters, decaying linearly per epoch")
def l1_sparse(model: nn.Module, ctx: UnlearnContext, params: L1SparseParams) -> nn.Module:
    """Sparsity-aware fine-tuning: at epoch ``t``,
    ``min_theta mean_{i in B} CE(f_theta(x_i), y_i) + alpha_t * ||theta||_1``, ``alpha_t = l1_schedule(alpha, t,
    E, no_l1_epochs)``; the L1 norm covers every trainable parameter, BN and biases included.
    REWEIGHT samples the retain batches."""
    torch.manual_seed(ctx.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]

    def penalty(epoch: int) -> Callable[[], torch.Tensor] | None:
        a = l1_schedule(float(params.alpha), epoch, params.epochs, params.no_l1_epochs)
        if a == 0.0:
            return None
        return lambda: a * torch.stack([p.abs().sum() for p in trainable]).sum()

    ctx.log["l1_alphas"] = [l1_schedule(float(params.alpha), t, params.epochs, params.no_l1_epochs)
                            for t in range(params.epochs)]
    return retain_epochs(model, ctx, params, penalty=penalty)
