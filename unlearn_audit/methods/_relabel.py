"""Relabelling family: ``rl`` (random labels) and ``salun`` (saliency-masked RL, Fan et al. 2024)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..data import cat_inputs
from ..training import batch_indices
from ._context import UnlearnContext
from ._optim import OptimParams, Trainer, weighted_ce
from ._registry import register_method

__all__ = ["RlParams", "SalunParams", "rl", "salun", "random_labels", "saliency_mask"]

LabelMode = Literal["fixed", "per_batch"]
Order = Literal["sequential", "mixed"]


@dataclass(frozen=True, kw_only=True)
class RlParams(OptimParams):
    """Hyper-parameters of ``rl``.

    Attributes:
        labels: ``"fixed"`` (default): one label per forget sample, drawn once uniformly from the classes
            ``!= y`` (seeded by ``ctx.seed``); ``"per_batch"``: fresh uniform labels over all classes at every batch
            (may equal ``y``; the CIFAR-10 code of Fan et al.).
        order: ``"sequential"`` (default; Fan et al.'s CIFAR-10 loop, used by De Min et al.): each epoch one pass
            over the relabelled ``D_f`` then one over ``D_r``; ``"mixed"``: ``D_f`` and ``D_r`` concatenated and
            shuffled together (their CIFAR-100 loop; with ``labels="fixed"`` this reproduces it).

    Paper defaults (Fan et al. 2024, SALUN README, CIFAR-10): 10 epochs, SGD lr 0.013, momentum 0.9, weight decay
    5e-4, batch 256. Small-data defaults here: 5 epochs, lr 0.01, batch 32.
    """

    epochs: int = 5
    lr: float = 0.01
    batch_size: int = 32
    labels: LabelMode = "fixed"
    order: Order = "sequential"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.labels not in ("fixed", "per_batch"):
            raise ValueError(f"{type(self).__name__}.labels: expected 'fixed' or 'per_batch', got {self.labels!r}")
        if self.order not in ("sequential", "mixed"):
            raise ValueError(f"{type(self).__name__}.order: expected 'sequential' or 'mixed', got {self.order!r}")


@dataclass(frozen=True, kw_only=True)
class SalunParams(RlParams):
    """Hyper-parameters of ``salun``: RL's plus the mask.

    Attributes:
        rho: fraction of all scalar parameters kept trainable (exactly ``floor(rho * P)``), in ``(0, 1]``.
        salun_strict: ``True`` (default, current SALUN code): after every step restore the masked-out
            weights to ``theta_o`` and zero their optimiser state, so weight decay and momentum cannot move them;
            ``False`` reproduces De Min et al. (gradients masked only).

    Paper defaults (SALUN README, CIFAR-10): rho 0.5, 10 epochs, lr 0.013, batch 256; small-data defaults as
    ``RlParams`` with rho 0.5.
    """

    rho: float = 0.5
    salun_strict: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.rho, (int, float)) or isinstance(self.rho, bool) or not 0.0 < float(self.rho) <= 1.0:
            raise ValueError(f"SalunParams.rho: expected a fraction in (0, 1], got {self.rho!r}")


def random_labels(y: torch.Tensor, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A label uniformly drawn from the ``n_classes - 1`` classes different from each ``y_i`` (one tensor op)."""
    if n_classes < 2:
        raise ValueError(f"n_classes: random labels different from y need at least 2 classes, got {n_classes}")
    shift = torch.randint(1, n_classes, (len(y),), generator=generator).to(y.device)
    return (y + shift) % n_classes


def saliency_mask(model: nn.Module, forget_x: torch.Tensor, forget_y: torch.Tensor, *, rho: float,
                  batch_size: int) -> dict[nn.Parameter, torch.Tensor]:
    """SalUn's weight-saliency mask.

    ``g = sum_batches grad_theta[-CE(f(x_f), y_f)]`` (eval mode, mean CE per batch), ``score = |g|``; the mask is 1
    on the global top ``floor(rho * P)`` scores over all ``P`` scalar trainable parameters (ties broken by
    ``torch.topk``), 0 elsewhere. The model's parameters, buffers, gradients and train/eval mode are left as they
    were.

    Returns:
        a float mask per trainable parameter (same shape).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    total = sum(p.numel() for p in params)
    keep = math.floor(Fraction(repr(float(rho))) * total)
    was_training = model.training
    model.eval()
    acc = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    try:
        for start in range(0, len(forget_x), batch_size):
            loss = -F.cross_entropy(model(forget_x[start:start + batch_size]).float(),
                                    forget_y[start:start + batch_size])
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for a, g in zip(acc, grads):
                if g is not None:
                    a.add_(g.float())
    finally:
        model.train(was_training)
    flat = torch.cat([a.abs().flatten() for a in acc])
    mask_flat = torch.zeros_like(flat)
    if keep >= total:
        mask_flat.fill_(1.0)
    elif keep > 0:
        mask_flat[torch.topk(flat, keep, sorted=False).indices] = 1.0
    masks, offset = {}, 0
    for p in params:
        masks[p] = mask_flat[offset:offset + p.numel()].view_as(p).to(p.dtype)
        offset += p.numel()
    return masks


def _relabel_train(model: nn.Module, ctx: UnlearnContext, params: RlParams, *,
                   mask: dict[nn.Parameter, torch.Tensor] | None = None, strict: bool = False) -> nn.Module:
    """The RL loop (optionally gradient-masked, and with masked weights restored when ``strict``)."""
    forget, retain = ctx.forget, ctx.retain
    n_classes = ctx.n_classes
    bs = params.batch_size
    gen_r, gen_f, gen_l = ctx.generator(1), ctx.generator(2), ctx.generator(3)
    fixed = random_labels(forget.y, n_classes, gen_l) if params.labels == "fixed" else None
    steps = math.ceil(len(forget) / bs) + math.ceil(len(retain) / bs)
    trainer = Trainer(model, params.recipe(), device=ctx.device, steps_per_epoch=steps)
    frozen: dict[nn.Parameter, tuple[torch.Tensor, torch.Tensor]] = {}
    if mask is not None and strict:
        frozen = {p: (m == 0, p.detach().clone()) for p, m in mask.items() if bool((m == 0).any())}

    def step(loss: torch.Tensor) -> None:
        trainer.step(loss, grad_mask=mask)
        if not frozen:
            return
        with torch.no_grad():
            for p, (off, theta_o) in frozen.items():
                p.copy_(torch.where(off, theta_o, p))
                for key, buf in trainer.optimizer.state.get(p, {}).items():
                    if key != "step" and isinstance(buf, torch.Tensor) and buf.shape == p.shape:
                        buf.masked_fill_(off, 0.0)

    def fresh_labels(n: int) -> torch.Tensor:
        return torch.randint(0, n_classes, (n,), generator=gen_l).to(ctx.device)

    if params.order == "mixed":
        x_all = cat_inputs([forget.x, retain.x])
        y_all = torch.cat([fixed if fixed is not None else forget.y, retain.y])
        is_f = torch.cat([torch.ones(len(forget), dtype=torch.bool), torch.zeros(len(retain), dtype=torch.bool)])
        is_f = is_f.to(ctx.device)
        weights = None
        if ctx.retain_weights is not None:
            rw = ctx.retain_weights.double().cpu()
            weights = torch.cat([torch.ones(len(forget), dtype=torch.float64), rw * len(rw) / rw.sum()])
    for epoch in range(params.epochs):
        if params.order == "sequential":
            for idx in batch_indices(len(forget), bs, generator=gen_f):
                idx = idx.to(ctx.device)
                y = fixed[idx] if fixed is not None else fresh_labels(len(idx))
                step(weighted_ce(trainer(forget.x[idx]), y))
            for idx in batch_indices(len(retain), bs, generator=gen_r, weights=ctx.retain_weights):
                idx = idx.to(ctx.device)
                step(weighted_ce(trainer(retain.x[idx]), retain.y[idx]))
        else:
            for idx in batch_indices(len(x_all), bs, generator=gen_r, weights=weights):
                idx = idx.to(ctx.device)
                y = y_all[idx]
                if fixed is None:
                    y = torch.where(is_f[idx], fresh_labels(len(idx)), y)
                step(weighted_ce(trainer(x_all[idx]), y))
        ctx.report_progress((epoch + 1) / params.epochs)
    return model.eval()


@register_method("rl", family="relabel", paper="Golatkar et al. 2020; Fan et al. 2024 (RL)",
                 needs=frozenset({"forget", "retain"}), supports_retain_weights=True,
                 cost="epochs passes over D_f and D_r", params=RlParams(),
                 description="train on D_f with random wrong labels and on D_r with the true ones")
def rl(model: nn.Module, ctx: UnlearnContext, params: RlParams) -> nn.Module:
    """Random labels: ``min_theta sum_{i in D_f} CE(f_theta(x_i), y~_i) + sum_{j in D_r} CE(f_theta(x_j), y_j)``,
    ``y~_i`` uniform over the classes ``!= y_i`` (fixed per sample) or resampled per batch (``labels=``), one pass
    over each set per epoch (``order="sequential"``) or both shuffled together (``"mixed"``). REWEIGHT samples
    the retain batches."""
    torch.manual_seed(ctx.seed)
    return _relabel_train(model, ctx, params)


@register_method("salun", family="relabel", paper="Fan et al. 2024 (SalUn)", needs=frozenset({"forget", "retain"}),
                 supports_retain_weights=True, cost="1 gradient pass over D_f + epochs passes over D_f and D_r",
                 params=SalunParams(),
                 description="RL restricted to the weights most salient for the forget loss (top rho by |grad|)")
def salun(model: nn.Module, ctx: UnlearnContext, params: SalunParams) -> nn.Module:
    """Saliency unlearning: the RL objective minimised over the salient weights only,

    ``m = 1[|grad_theta sum_b -CE(f_theta_o(x_f), y_f)| in global top floor(rho * P)]``, each step
    ``theta <- theta - lr * (m * grad)`` (SGD with momentum / weight decay); with ``salun_strict`` the weights with
    ``m = 0`` are reset to ``theta_o`` and their momentum zeroed after every step. With ``rho = 1`` this
    is exactly ``rl``.
    """
    torch.manual_seed(ctx.seed)
    forget = ctx.forget
    mask = saliency_mask(model.to(ctx.device), forget.x, forget.y, rho=params.rho, batch_size=params.batch_size)
    ones = sum(int(m.sum()) for m in mask.values())
    total = sum(m.numel() for m in mask.values())
    ctx.log["mask_ones"] = ones
    ctx.log["mask_fraction"] = ones / max(1, total)
    return _relabel_train(model, ctx, params, mask=mask, strict=params.salun_strict)
