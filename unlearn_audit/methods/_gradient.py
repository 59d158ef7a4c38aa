"""Gradient family: ``ga`` (gradient ascent on ``D_f``) and ``ga_ft`` (NegGrad+)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from ._context import UnlearnContext
from ._optim import OptimParams, Trainer, batches, weighted_ce
from ._registry import register_method

__all__ = ["GaParams", "GaFtParams", "ga", "ga_ft", "cycled_batches"]


@dataclass(frozen=True, kw_only=True)
class GaParams(OptimParams):
    """Hyper-parameters of ``ga``.

    Paper defaults (Jia et al. 2023, SPARSE ``unlearn/GA.py``): SGD lr 1e-4, momentum 0.9, 5 epochs,
    batch 256 (thousands of forget samples, so tens of steps). Small-data defaults here: 5 epochs, batch 16,
    lr 0.005 and a global gradient-norm clip of 5 (ascent is unbounded).
    """

    epochs: int = 5
    lr: float = 0.005
    batch_size: int = 16
    grad_clip: float | None = 5.0


@dataclass(frozen=True, kw_only=True)
class GaFtParams(OptimParams):
    """Hyper-parameters of ``ga_ft`` (NegGrad+): ``alpha`` weighs the retain loss against the forget ascent.

    Paper defaults (Kurmanji et al. 2023, SCRUB ``train_negrad``): alpha = 0.95, SGD lr 0.01, momentum 0.9,
    10 epochs; clip the gradient norm (unbounded ascent). Defaults here: the paper's alpha 0.95, lr 0.01 and 10
    epochs, with the recipe's batch size (``batch_size=None``; the forget batch has the same size unless
    ``forget_batch_size`` is set) and a gradient-norm clip of 5.
    """

    alpha: float = 0.95
    epochs: int = 10
    lr: float = 0.01
    batch_size: int | None = None
    forget_batch_size: int | None = None
    grad_clip: float | None = 5.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.alpha, (int, float)) or not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueError(f"GaFtParams.alpha: expected a number in [0, 1], got {self.alpha!r}")
        fb = self.forget_batch_size
        if fb is not None and (not isinstance(fb, int) or isinstance(fb, bool) or fb <= 0):
            raise ValueError(f"GaFtParams.forget_batch_size: expected a positive int or None, got {fb!r}")


def cycled_batches(n: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """``steps`` index batches over ``n`` samples, cycling through fresh permutations (``zip(retain, cycle(forget))``
    without a per-sample loop); every full permutation is consumed before the next one starts."""
    if n == 0 or steps == 0:
        return
    per_perm = math.ceil(n / batch_size)
    for start in range(0, steps, per_perm):
        order = torch.randperm(n, generator=generator)
        for j in range(min(per_perm, steps - start)):
            yield order[j * batch_size:(j + 1) * batch_size]


@register_method("ga", family="gradient", paper="Thudi et al. 2022; Jia et al. 2023 (GA)", needs=frozenset({"forget"}),
                 cost="epochs passes over D_f", params=GaParams(),
                 description="gradient ascent on the forget set (maximise its cross-entropy)")
def ga(model: nn.Module, ctx: UnlearnContext, params: GaParams) -> nn.Module:
    """Gradient ascent: ``min_theta -(1/|D_f|) sum_{i in D_f} CE(f_theta(x_i), y_i)`` (per batch mean), with
    gradient-norm clipping ``grad_clip``. Uses no retain data, so it does not take soft or REWEIGHT weights."""
    torch.manual_seed(ctx.seed)
    forget = ctx.forget
    gen = ctx.generator(2)
    trainer = Trainer(model, params.recipe(), device=ctx.device,
                      steps_per_epoch=math.ceil(len(forget) / params.batch_size))
    for epoch in range(params.epochs):
        for _, x, y in batches(forget, params.batch_size, gen):
            trainer.step(-weighted_ce(trainer(x), y))
        ctx.report_progress((epoch + 1) / params.epochs)
    return model.eval()


@register_method("ga_ft", family="gradient", paper="Kurmanji et al. 2023 (NegGrad+)",
                 needs=frozenset({"forget", "retain"}),
                 supports_retain_weights=True, supports_sample_weights=True,
                 cost="epochs passes over D_r, each paired with cycled D_f batches", params=GaFtParams(),
                 description="joint descent on D_r and ascent on D_f: alpha CE(D_r) - (1 - alpha) CE(D_f)")
def ga_ft(model: nn.Module, ctx: UnlearnContext, params: GaFtParams) -> nn.Module:
    """NegGrad+: per step, with a retain batch ``B_r`` and a forget batch ``B_f`` (the forget set cycled),

    ``L = alpha * mean_{i in B_r} w_i CE_i - (1 - alpha) * mean_{j in B_f} r_j CE_j``,

    ``w = r = 1`` without soft weights; with soft weights ``epsilon`` (Qiao et al. 2026)
    ``w_i = 1 + epsilon_i`` over the
    samples with ``w_i > 0`` and ``r_j = max(0, -epsilon_j)`` over those with ``r_j > 0`` (the hard scheme is the
    plain method). Gradient-norm clipping ``grad_clip`` bounds the ascent; REWEIGHT samples the retain batches.
    """
    torch.manual_seed(ctx.seed)
    retain, loss_w, forget, strength = ctx.weighted_sets()
    if len(retain) == 0:
        raise ValueError("method 'ga_ft': the retain set is empty")
    fbs = params.forget_batch_size or params.batch_size
    steps = math.ceil(len(retain) / params.batch_size)
    gen_r, gen_f = ctx.generator(1), ctx.generator(2)
    trainer = Trainer(model, params.recipe(), device=ctx.device, steps_per_epoch=steps)
    alpha = float(params.alpha)
    for epoch in range(params.epochs):
        forget_idx = cycled_batches(len(forget), fbs, steps, gen_f)
        for idx, x, y in batches(retain, params.batch_size, gen_r, weights=ctx.retain_weights):
            loss = alpha * weighted_ce(trainer(x), y, None if loss_w is None else loss_w[idx])
            fidx = next(forget_idx, None)
            if fidx is not None:
                fidx = fidx.to(forget.device)
                f_loss = weighted_ce(trainer(forget.x[fidx]), forget.y[fidx],
                                     None if strength is None else strength[fidx])
                loss = loss - (1.0 - alpha) * f_loss
            trainer.step(loss)
        ctx.report_progress((epoch + 1) / params.epochs)
    return model.eval()
