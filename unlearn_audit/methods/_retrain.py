"""Gold standards: retrain from scratch on ``D_r`` (plain, REWEIGHT, GroupDRO)."""

from __future__ import annotations

from torch import nn

from ..training import fit
from ._context import UnlearnContext
from ._registry import register_method

__all__ = ["retrain", "retrain_reweight", "retrain_groupdro"]

_NEEDS = frozenset({"retain", "factory"})


def _fresh(ctx: UnlearnContext) -> nn.Module:
    import torch

    torch.manual_seed(ctx.seed)
    assert ctx.model_factory is not None  # checked by Method.check_context
    return ctx.model_factory()


@register_method("retrain", family="reference", paper="exact unlearning", needs=_NEEDS, supports_retain_weights=True,
                 reference=True, cost="1 full training on D_r",
                 description="train a fresh model on the retain set with the original recipe")
def retrain(model: nn.Module, ctx: UnlearnContext) -> nn.Module:
    """Exact unlearning: a fresh model trained on ``D_r`` with the original recipe (ERM, or REWEIGHT sampling when
    ``ctx.retain_weights`` is set)."""
    return fit(_fresh(ctx), ctx.retain, ctx.recipe, sample_weights=ctx.retain_weights, seed=ctx.seed,
               device=ctx.device, progress=False)


@register_method("retrain_reweight", family="reference", paper="De Min et al. 2025 (REWEIGHT)", needs=_NEEDS,
                 reference=True, cost="1 full training on D_r",
                 description="retrain on D_r sampled with REWEIGHT weights N_train(g)/N_retain(g)")
def retrain_reweight(model: nn.Module, ctx: UnlearnContext) -> nn.Module:
    """REWEIGHT retrain: batches of ``D_r`` drawn with replacement with ``P(i) ∝ N_train(g_i) /
    N_retain(g_i)``, which restores the original group distribution."""
    weights = ctx.data.reweight_weights()
    return fit(_fresh(ctx), ctx.retain, ctx.recipe, sample_weights=weights, seed=ctx.seed, device=ctx.device,
               progress=False)


@register_method("retrain_groupdro", family="reference", paper="Sagawa et al. 2020 (GroupDRO)", needs=_NEEDS,
                 reference=True, cost="1 full training on D_r",
                 description="retrain on D_r with the online GroupDRO objective")
def retrain_groupdro(model: nn.Module, ctx: UnlearnContext) -> nn.Module:
    """GroupDRO retrain: minimise ``sum_g q_g L_g`` with exponentiated-gradient group weights on ``D_r``."""
    return fit(_fresh(ctx), ctx.retain, ctx.recipe, group_dro=True, seed=ctx.seed, device=ctx.device,
               progress=False)
