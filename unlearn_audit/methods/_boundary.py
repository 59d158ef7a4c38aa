"""Boundary unlearning (Chen et al., CVPR 2023): ``boundary_shrink`` and ``boundary_expand``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data import GroupDataset
from ._context import UnlearnContext
from ._optim import OptimParams, Trainer, batches, weighted_ce
from ._registry import register_method

__all__ = ["BoundaryShrinkParams", "BoundaryExpandParams", "boundary_shrink", "boundary_expand", "fgsm_neighbours"]


@dataclass(frozen=True, kw_only=True)
class BoundaryShrinkParams(OptimParams):
    """Hyper-parameters of ``boundary_shrink``.

    Attributes:
        bound: L-infinity radius of the FGSM step, in the data's input space (pixel space ``[0, 1]`` for images).
        quantize: round adversarial images to the 1/255 grid (images only; tabular inputs are never rounded).

    Paper defaults (official code): bound 0.1, SGD lr 1e-5, momentum 0.9, 10 epochs over ``D_f``
    (class-wise forgetting of thousands of samples). Small-data defaults here: bound 0.1, 10 epochs, batch 16,
    lr 1e-3 (a few dozen forget samples give only a few dozen steps).
    """

    bound: float = 0.1
    quantize: bool = True
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.bound, (int, float)) or isinstance(self.bound, bool) or not self.bound > 0:
            raise ValueError(f"BoundaryShrinkParams.bound: expected a number > 0, got {self.bound!r}")


@dataclass(frozen=True, kw_only=True)
class BoundaryExpandParams(OptimParams):
    """Hyper-parameters of ``boundary_expand``.

    Paper defaults (official code): SGD lr 1e-5, momentum 0.9, 10 epochs over ``D_f``. Small-data
    defaults here: 10 epochs, batch 16, lr 1e-3.
    """

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 16


@torch.no_grad()
def _quantize(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x * 255.0) / 255.0


def fgsm_neighbours(original: nn.Module, forget: GroupDataset, *, bound: float, quantize: bool = True,
                    batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """FGSM "nearest but incorrect" labels of the forget samples against the frozen ``original``.

    ``x_adv = Q(clip(x + bound * sign(grad_x CE(f_o(x), y))))`` in the data's input space (the model normalises
    internally, so for images this is pixel space): ``clip`` to ``forget.value_range`` (``[0, 1]`` for images, no
    clip for tabular data), ``Q`` rounds images to the 1/255 grid when ``quantize``. The neighbour label is
    ``argmax f_o(x_adv)``. ``original`` is only read (its parameter gradients are never populated).

    Returns:
        ``(x_adv, y_neighbour)``.
    """
    rng = forget.value_range
    xs, ys = [], []
    for start in range(0, len(forget), batch_size):
        x = forget.x[start:start + batch_size].detach().clone().requires_grad_(True)
        loss = F.cross_entropy(original(x).float(), forget.y[start:start + batch_size])
        (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            x_adv = x + bound * grad.sign()
            if rng is not None:
                x_adv = x_adv.clamp(*rng)
            if quantize and forget.is_image:
                x_adv = _quantize(x_adv)
            xs.append(x_adv)
            ys.append(original(x_adv).argmax(1))
    return torch.cat(xs), torch.cat(ys)


@register_method("boundary_shrink", family="boundary", paper="Chen et al. 2023 (Boundary Shrink)",
                 needs=frozenset({"forget"}), cost="1 FGSM pass over D_f + epochs passes over D_f",
                 params=BoundaryShrinkParams(),
                 description="relabel each forget sample with the original's prediction on its FGSM neighbour")
def boundary_shrink(model: nn.Module, ctx: UnlearnContext, params: BoundaryShrinkParams) -> nn.Module:
    """Boundary shrink: ``min_theta sum_{i in D_f} CE(f_theta(x_i), y_nb_i)``, ``y_nb_i = argmax f_o(x_adv_i)``
    with ``x_adv_i`` the FGSM point of ``x_i`` against the frozen original (``fgsm_neighbours``).

    The original is frozen, so the neighbours are computed once. When the attack fails (``y_nb_i = y_i``) the
    step reinforces ``y_i``; the attack-success rate ``mean(y_nb != y)`` is logged in
    ``ctx.log["attack_success_rate"]``.
    """
    torch.manual_seed(ctx.seed)
    forget = ctx.forget
    _, y_nb = fgsm_neighbours(ctx.original, forget, bound=float(params.bound), quantize=params.quantize)
    ctx.log["attack_success_rate"] = float((y_nb != forget.y).float().mean())
    relabelled = GroupDataset(forget.x, y_nb, forget.a, n_classes=forget.n_classes, n_attrs=forget.n_attrs,
                              _validated=True)
    return _train_on(model, ctx, params, relabelled)


def _train_on(model: nn.Module, ctx: UnlearnContext, params: OptimParams, ds: GroupDataset) -> nn.Module:
    gen = ctx.generator(2)
    trainer = Trainer(model, params.recipe(), device=ctx.device,
                      steps_per_epoch=math.ceil(len(ds) / params.batch_size))
    for epoch in range(params.epochs):
        for _, x, y in batches(ds, params.batch_size, gen):
            trainer.step(weighted_ce(trainer(x), y))
        ctx.report_progress((epoch + 1) / params.epochs)
    return model.eval()


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, module)


@register_method("boundary_expand", family="boundary", paper="Chen et al. 2023 (Boundary Expanding)",
                 needs=frozenset({"forget"}), cost="epochs passes over D_f", params=BoundaryExpandParams(),
                 description="train D_f into an extra output neuron, then drop the neuron")
def boundary_expand(model: nn.Module, ctx: UnlearnContext, params: BoundaryExpandParams) -> nn.Module:
    """Boundary expanding: widen the head ``W in R^{C x d}`` to ``[W; w_new] in R^{(C+1) x d}``, then
    ``min_theta sum_{i in D_f} CE(f_theta(x_i), C)`` (every parameter trains), then drop row ``C``.

    The head is the model's final ``nn.Linear`` (``unlearn_audit.models.find_head``); after training its first
    ``C`` rows are copied back into the original head module, which is put back in place, so the returned model
    has the original architecture. The new row is initialised by ``nn.Linear``'s default (seeded by
    ``ctx.seed``).

    Raises:
        ValueError: the model has no ``nn.Linear`` head, or replacing it does not change the model's output.
    """
    from ..models import find_head

    torch.manual_seed(ctx.seed)
    model.to(ctx.device)
    try:
        name, head = find_head(model)
    except ValueError as exc:
        raise ValueError(f"method 'boundary_expand': {exc}") from None
    n_out = head.out_features
    wide = nn.Linear(head.in_features, n_out + 1, bias=head.bias is not None).to(head.weight.device,
                                                                                  head.weight.dtype)
    with torch.no_grad():
        wide.weight[:n_out].copy_(head.weight)
        if head.bias is not None:
            wide.bias[:n_out].copy_(head.bias)
    forget = ctx.forget
    _set_submodule(model, name, wide)
    try:
        with torch.no_grad():
            was = model.training
            out_dim = model.eval()(forget.x[:1]).shape[-1]
            model.train(was)
        if out_dim != n_out + 1:
            raise ValueError(f"method 'boundary_expand': widening the head {name!r} did not change the model's "
                             f"output ({out_dim} outputs, expected {n_out + 1}); the model must call its head "
                             f"module through the attribute find_head returns")
        target = GroupDataset(forget.x, torch.full_like(forget.y, n_out), forget.a, n_classes=n_out + 1,
                              n_attrs=forget.n_attrs, _validated=True)
        _train_on(model, ctx, params, target)
        with torch.no_grad():
            head.weight.copy_(wide.weight[:n_out])
            if head.bias is not None:
                head.bias.copy_(wide.bias[:n_out])
    finally:
        _set_submodule(model, name, head)
    return model.eval()
