"""Fine-tuning family: ``ft`` (fine-tune on ``D_r``), ``cf_k`` and ``eu_k`` (Goel et al.).

All three minimise a (weighted) cross-entropy on the retain set; they differ in which parameters move and where
they start from. ``retain_epochs`` is the shared loop, reused by ``l1_sparse``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from ._context import UnlearnContext
from ._optim import OptimParams, Trainer, batches, weighted_ce
from ._registry import register_method

__all__ = ["FtParams", "CfkParams", "EukParams", "ft", "cf_k", "eu_k", "last_k_layers", "retain_epochs"]

_LAYER_TYPES = (nn.modules.conv._ConvNd, nn.Linear)
_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


@dataclass(frozen=True, kw_only=True)
class FtParams(OptimParams):
    """Hyper-parameters of ``ft``.

    Paper defaults (Jia et al. 2023, SPARSE README): SGD lr 0.01, momentum 0.9, weight decay 5e-4,
    10 epochs, batch 256 (after a 182-epoch training). Defaults here: lr 0.05 and the training recipe's epochs and
    batch size (``epochs=None``, ``batch_size=None``: a few hundred retain samples give too few steps at batch 256 /
    lr 0.01 to forget anything, a fixed small batch costs thousands of steps on a large retain set, and 10 epochs
    after a 4-epoch training cost 2.5 retrains; measured on the demo over 3 seeds, 4 epochs also forgot
    more: UA 17.3 vs 12.2 at 10 epochs, the retrain's 35.1).
    """

    epochs: int | None = None
    lr: float = 0.05
    batch_size: int | None = None


@dataclass(frozen=True, kw_only=True)
class CfkParams(FtParams):
    """Hyper-parameters of ``cf_k``: ``k``, the number of trailing Conv/Linear layers that are trained.

    Paper defaults (Goel et al., ``scripts/unlearn.sh``): k in {1, 3, 5, 7}, 30 epochs, lr grid 0.005-0.1,
    weight decay 5e-4. Defaults: k = 3, 10 epochs, lr 0.05, the recipe's batch size.
    """

    epochs: int | None = 10
    k: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_k(self.k)


@dataclass(frozen=True, kw_only=True)
class EukParams(CfkParams):
    """Hyper-parameters of ``eu_k``.

    With ``from_recipe=True`` (default, as in Goel et al.: EU-k trains as long as the original training) the
    optimiser settings are those of ``ctx.recipe`` (epochs, lr, batch size, optimiser, momentum, weight decay,
    schedule, gradient clipping) and the optimiser fields of these params are ignored; set ``from_recipe=False``
    to use them. Paper defaults: k in {1, 3, 5, 7}, epochs = original training epochs, weight decay 5e-4.
    """

    from_recipe: bool = True


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k: expected a positive int (number of trailing Conv/Linear layers), got {k!r}")


def last_k_layers(model: nn.Module, k: int) -> tuple[list[tuple[str, nn.Module]], list[tuple[str, nn.Module]]]:
    """The last ``k`` Conv/Linear layers of ``model`` and the normalisation layers met on the way.

    Modules are walked from the output backwards: the classifier head (``find_head``) first, then every other
    module in reverse registration order (which is reverse forward order for sequential architectures). Each
    ``nn.Conv*d`` / ``nn.Linear`` counts as a layer; BatchNorm (and LayerNorm / GroupNorm / InstanceNorm) modules
    met before the ``k``-th layer are returned too. With ``k`` larger than the number of layers every layer is
    returned.

    Returns:
        ``(layers, norms)``: ``(name, module)`` pairs in walk order (output first).

    Raises:
        ValueError: ``k`` < 1 or the model has no Conv/Linear layer.
    """
    from ..models import find_head

    _check_k(k)
    modules = [(n, m) for n, m in model.named_modules() if isinstance(m, _LAYER_TYPES + _NORM_TYPES)]
    try:
        _, head = find_head(model)
    except ValueError:
        head = None
    walk = [(n, m) for n, m in modules if m is head] + [(n, m) for n, m in reversed(modules) if m is not head]
    layers: list[tuple[str, nn.Module]] = []
    norms: list[tuple[str, nn.Module]] = []
    for name, module in walk:
        if isinstance(module, _LAYER_TYPES):
            layers.append((name, module))
            if len(layers) == k:
                break
        else:
            norms.append((name, module))
    if not layers:
        raise ValueError(f"model: {type(model).__name__} has no Conv/Linear layer; cf_k / eu_k need one")
    return layers, norms


@contextmanager
def _only_trainable(model: nn.Module, modules: list[nn.Module]) -> Iterator[list[nn.Parameter]]:
    """Freeze every parameter outside ``modules`` (and put frozen normalisation layers in eval mode so their running
    statistics stay put); yields the trainable parameters; restores the ``requires_grad`` flags afterwards."""
    keep = {id(p) for m in modules for p in m.parameters()}
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p in model.parameters():
            if id(p) not in keep:
                p.requires_grad_(False)
        yield [p for p in model.parameters() if p.requires_grad]
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _freeze_norm_stats(model: nn.Module, trainable: list[nn.Module]) -> None:
    keep = {id(m) for m in trainable}
    for m in model.modules():
        if isinstance(m, _NORM_TYPES) and id(m) not in keep:
            m.eval()


def retain_epochs(model: nn.Module, ctx: UnlearnContext, params: OptimParams, *,
                  parameters: list[nn.Parameter] | None = None,
                  penalty: Callable[[int], Callable[[], torch.Tensor] | None] | None = None,
                  frozen_norms_of: list[nn.Module] | None = None, salt: int = 1) -> nn.Module:
    """Minimise ``mean_{i in B} w_i CE(f(x_i), y_i) [+ penalty(epoch)()]`` over retain batches ``B``.

    The retain set and the loss weights ``w_i`` come from ``ctx.weighted_sets()`` (``w = None`` without soft
    weights, so the hard scheme reduces exactly to plain fine-tuning); with ``ctx.retain_weights`` (REWEIGHT) the
    batches are drawn with replacement proportionally to them.

    Args:
        model: trained in place and returned in eval mode.
        ctx: the context.
        params: optimiser hyper-parameters.
        parameters: parameters to optimise (default: every parameter with ``requires_grad``).
        penalty: ``penalty(epoch)`` returns a callable adding a regulariser to each step's loss, or ``None``.
        frozen_norms_of: when given, normalisation layers not among these modules are kept in eval mode.
        salt: stream of ``ctx.generator`` for the batch order.
    """
    retain, loss_w, _, _ = ctx.weighted_sets()
    if len(retain) == 0:
        raise ValueError("retain set: is empty; nothing to fine-tune on")
    gen = ctx.generator(salt)
    sampling = ctx.retain_weights
    trainer = Trainer(model, params.recipe(), device=ctx.device,
                      steps_per_epoch=math.ceil(len(retain) / params.batch_size),
                      parameters=parameters)
    if frozen_norms_of is not None:
        _freeze_norm_stats(model, frozen_norms_of)
    for epoch in range(params.epochs):
        extra = penalty(epoch) if penalty is not None else None
        for idx, x, y in batches(retain, params.batch_size, gen, weights=sampling):
            loss = weighted_ce(trainer(x), y, None if loss_w is None else loss_w[idx])
            if extra is not None:
                loss = loss + extra()
            trainer.step(loss)
        ctx.report_progress((epoch + 1) / params.epochs)
    return model.eval()


@register_method("ft", family="finetune", paper="Warnecke et al. 2023; Jia et al. 2023 (FT); Tran & Woo 2025 (CF)",
                 needs=frozenset({"retain"}), supports_retain_weights=True, supports_sample_weights=True,
                 cost="epochs passes over D_r", params=FtParams(),
                 description="fine-tune every parameter on the retain set (catastrophic forgetting of D_f)")
def ft(model: nn.Module, ctx: UnlearnContext, params: FtParams) -> nn.Module:
    """Fine-tune on the retain set: ``min_theta sum_{i in D_r} w_i CE(f_theta(x_i), y_i)``, ``w_i = 1``.

    With soft weights ``epsilon`` the sum runs over every train sample with ``w_i = 1 + epsilon_i > 0``; with
    REWEIGHT the retain batches are sampled with ``P(i) ~ N_train(g_i) / N_retain(g_i)``.
    """
    torch.manual_seed(ctx.seed)
    return retain_epochs(model, ctx, params)


def _last_k(model: nn.Module, ctx: UnlearnContext, name: str, k: int) -> tuple[list[nn.Module], list[nn.Module]]:
    try:
        layers, norms = last_k_layers(model, k)
    except ValueError as exc:
        raise ValueError(f"method {name!r}: {exc}") from None
    ctx.log["trainable_layers"] = [n for n, _ in layers]
    ctx.log["trainable_norms"] = [n for n, _ in norms]
    ctx.log["k_effective"] = len(layers)
    return [m for _, m in layers], [m for _, m in norms]


@register_method("cf_k", family="finetune", paper="Goel et al. 2023 (CF-k)", needs=frozenset({"retain"}),
                 supports_retain_weights=True, supports_sample_weights=True,
                 cost="epochs passes over D_r (backward through the last k layers only)", params=CfkParams(),
                 description="fine-tune only the last k Conv/Linear layers (and BN met on the way) on D_r")
def cf_k(model: nn.Module, ctx: UnlearnContext, params: CfkParams) -> nn.Module:
    """Catastrophic forgetting of the last k layers: ``min_{theta_K} sum_{i in D_r} w_i CE(f_theta(x_i), y_i)``.

    ``theta_K`` are the parameters of the last ``k`` Conv/Linear layers and of the normalisation layers met on the
    way from the output (``last_k_layers``); everything else is frozen (frozen BN layers keep their running
    statistics). Soft weights / REWEIGHT as in ``ft``.
    """
    torch.manual_seed(ctx.seed)
    layers, norms = _last_k(model, ctx, "cf_k", params.k)
    with _only_trainable(model, layers + norms) as trainable:
        return retain_epochs(model, ctx, params, parameters=trainable, frozen_norms_of=norms)


@register_method("eu_k", family="finetune", paper="Goel et al. 2023 (EU-k)", needs=frozenset({"retain"}),
                 supports_retain_weights=True, supports_sample_weights=True,
                 cost="one training on D_r (recipe epochs), backward through the last k layers only",
                 params=EukParams(),
                 description="re-initialise the last k Conv/Linear layers and train them on D_r from scratch "
                             "(an exact-unlearning-like baseline: the re-trained layers never saw D_f)")
def eu_k(model: nn.Module, ctx: UnlearnContext, params: EukParams) -> nn.Module:
    """Exact unlearning of the last k layers: re-initialise ``theta_K`` then
    ``min_{theta_K} sum_{i in D_r} w_i CE(f_theta(x_i), y_i)``.

    ``theta_K`` as in ``cf_k``; the Conv/Linear layers are reset with their ``reset_parameters()`` (seeded by
    ``ctx.seed``), the normalisation layers met on the way are trained but not reset (Goel et al.). The frozen
    early layers still carry information about ``D_f``, so this is a gold-standard-like baseline, not a
    reference. Optimiser settings from ``ctx.recipe`` unless ``from_recipe=False``.
    """
    torch.manual_seed(ctx.seed)
    layers, norms = _last_k(model, ctx, "eu_k", params.k)
    for layer in layers:
        layer.reset_parameters()
    optim = params
    if params.from_recipe:
        r = ctx.recipe
        optim = OptimParams(epochs=r.epochs, lr=r.lr, batch_size=r.batch_size, optimizer=r.optimizer,
                            momentum=r.momentum, weight_decay=r.weight_decay, schedule=r.schedule,
                            grad_clip=r.grad_clip)
    with _only_trainable(model, layers + norms) as trainable:
        return retain_epochs(model, ctx, optim, parameters=trainable, frozen_norms_of=norms)
