"""Influence-function unlearning on the last layer (Koh & Liang 2017; Qiao et al. 2026's IF): one Newton step."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._context import UnlearnContext
from ._influence_math import newton_update_
from ._registry import register_method

__all__ = ["InfluenceParams", "influence"]


@dataclass(frozen=True, kw_only=True)
class InfluenceParams:
    """Hyper-parameters of ``influence``.

    Attributes:
        l2: L2 coefficient ``lambda`` of the summed head objective ``sum_i CE_i + lambda/2 ||theta||^2``; ``None`` =
            ``1e-3 * |D_tr|`` (weight decay 1e-3 on the mean loss, Qiao et al. 2026's head optimiser).
        mode: ``"influence"`` (the first-order IF step, exact in Qiao et al. 2026's repo) or ``"newton"``
            (Hessian of the reweighted objective).
        dense_max: largest head (parameters) solved with a dense Cholesky; larger heads use conjugate gradients.
    """

    l2: float | None = None
    mode: str = "influence"
    dense_max: int = 2048

    def __post_init__(self) -> None:
        if self.mode not in ("influence", "newton"):
            raise ValueError(f"influence.mode: expected 'influence' or 'newton', got {self.mode!r}")
        if self.l2 is not None and not self.l2 > 0:
            raise ValueError(f"influence.l2: expected None or > 0, got {self.l2!r}")


@register_method("influence", family="influence", paper="Koh & Liang 2017; Qiao et al. 2026 (IF)",
                 needs=frozenset({"forget", "retain"}), supports_sample_weights=True, params=InfluenceParams(),
                 cost="1 embedding pass over D_tr + one d x d solve (d = head size)",
                 description="one Newton step on the last layer removing D_f (exact head Hessian; CG when large)")
def influence(model: nn.Module, ctx: UnlearnContext, params: InfluenceParams) -> nn.Module:
    """Remove ``D_f`` from the last layer with one influence / Newton step.

    With per-sample weights ``epsilon`` (``-1`` on ``D_f`` and 0 elsewhere for the hard scheme, or the soft weights
    of ``ctx.sample_weights``), the head ``theta`` of the objective ``sum_i (1 + epsilon_i) CE_i + lambda/2
    ||theta||^2`` moves by ``theta' = theta - H^{-1} sum_i epsilon_i g_i`` with ``g_i`` the per-sample head gradient
    and ``H`` the exact head Hessian on ``D_tr``. Only the head changes; the body is untouched.
    """
    eps = ctx.sample_weights
    if eps is None:
        eps = torch.zeros(len(ctx.data.train), dtype=torch.float64)
        eps[ctx.data.forget_idx] = -1.0
    model = model.to(ctx.device)
    head = newton_update_(model, ctx.train, eps.to(torch.float64), l2=params.l2, mode=params.mode,  # type: ignore[arg-type]
                          dense_max=params.dense_max)
    ctx.log["head_params"] = int(head.n_params)
    return model.eval()
