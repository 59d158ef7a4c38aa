"""Soft-weighted (``sw_``) variants of methods (Qiao et al. 2026, Qiao et al. 2026).

``sw_<method>`` computes soft weights ``epsilon`` with ``soft_weights`` on the original model and runs
``<method>`` with ``ctx.sample_weights = epsilon``: a sample's loss weight is ``1 + epsilon_i`` and its forgetting
strength ``max(0, -epsilon_i)``, which reduces exactly to the hard method when ``epsilon`` is in ``{-1, 0}``.

Project decision (audits of erasure requests): the forget set must really be erased, so by default ``epsilon`` is
pinned to ``-1`` on ``D_f`` (``forget="pinned"``) and the QP chooses soft weights for the retain samples only, with
both constraints shifted by the forget set's predicted effect. ``forget="free"`` reproduces the paper's
fairness-driven setting, where the weights of all training samples are free. ``target="auto"`` uses demographic
parity for binary tasks and the robustness surrogate otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ._context import UnlearnContext
from ._registry import get_method, register_method
from ._soft_qp import soft_weights

__all__ = ["SoftParams", "SW_BASES"]

#: methods with an ``sw_`` variant (Qiao et al. 2026's nine minus NTK, which the suite does not ship).
SW_BASES = ("influence", "ga_ft", "ft", "cf_k", "eu_k", "scrub", "bad_teacher", "fisher")


@dataclass(frozen=True, kw_only=True)
class SoftParams:
    """Hyper-parameters of the soft-weight QP of ``sw_`` variants (the base method keeps its defaults).

    Attributes:
        target: ``"dp"``, ``"eop"``, ``"robust"`` or ``"auto"`` (dp for binary tasks, robust otherwise).
        lam: QP regulariser ``lambda``: ``"auto"`` (default; the reference code's automatic choice: the value of
            ``logspace(-3, 1, 50)`` whose weights best reach the task target, ``soft_weights_from_influences``) or a
            positive float. A fixed ``0.1`` (the reference code's value for the cases where ``lambda`` cancels) can
            leave every ``|epsilon|`` tiny on a large training set -- the model is then the original's, which the
            audit reports as a WARN. The log records the ``lambda`` used (``sw_soft_lambda``), the largest
            ``|epsilon|`` (``sw_soft_max_abs_epsilon``) and how many weights the box clipped (``sw_soft_clipped_count``,
            ``sw_soft_clipped_mass``).
        forget: ``"pinned"`` (``epsilon = -1`` on ``D_f``; default) or ``"free"`` (the paper's setting).
        eps_min, eps_max: box the weights are clipped to.
        box: ``"clip"`` (clip the closed form) or ``"exact"`` (solve the box-constrained QP).
    """

    target: str = "auto"
    lam: float | str = "auto"
    forget: str = "pinned"
    eps_min: float = -1.0
    eps_max: float = 1.0
    box: str = "clip"

    def __post_init__(self) -> None:
        if self.target not in ("dp", "eop", "robust", "auto"):
            raise ValueError(f"sw.target: expected 'dp', 'eop', 'robust' or 'auto', got {self.target!r}")
        if self.forget not in ("pinned", "free"):
            raise ValueError(f"sw.forget: expected 'pinned' or 'free', got {self.forget!r}")
        if self.box not in ("clip", "exact"):
            raise ValueError(f"sw.box: expected 'clip' or 'exact', got {self.box!r}")
        if isinstance(self.lam, bool) or not (self.lam == "auto" or (isinstance(self.lam, (int, float))
                                                                      and 0 < self.lam < float("inf"))):
            raise ValueError(f"sw.lam: expected 'auto' or a positive number, got {self.lam!r}")


def _make(base: str):
    def sw_method(model: nn.Module, ctx: UnlearnContext, params: SoftParams) -> nn.Module:
        target = params.target
        if target == "auto":
            target = "dp" if ctx.n_classes == 2 else "robust"
        if ctx.val is None:
            raise ValueError(f"method 'sw_{base}': needs a validation split (influences are measured on D_val)")
        sw = soft_weights(ctx.original, ctx.data, target=target, lam=params.lam,  # type: ignore[arg-type]
                          forget=params.forget, eps_min=params.eps_min, eps_max=params.eps_max,  # type: ignore[arg-type]
                          box=params.box, device=ctx.device, warn=False)  # type: ignore[arg-type]
        ctx.log.update({f"sw_{k}": v for k, v in sw.log().items()})
        eps = sw.epsilon.to(torch.float32)
        return get_method(base)(model, ctx.replace(sample_weights=eps, log=ctx.log))

    sw_method.__name__ = f"sw_{base}"
    return sw_method


def _register() -> None:
    for base in SW_BASES:
        info = get_method(base).info
        if not info.supports_sample_weights:  # pragma: no cover - guarded by tests
            raise RuntimeError(f"sw_{base}: base method does not support sample weights")
        register_method(f"sw_{base}", family="soft-weighted", paper=f"Qiao et al. 2026 (SW-{base})",
                        needs=frozenset(set(info.needs) | {"val"}), params=SoftParams(),
                        cost=f"soft-weight QP (1 embedding pass + head solve) + {info.cost or base}",
                        description=f"{base} with soft per-sample weights from the QP of Qiao et al. 2026",
                        replace=True)(_make(base))


_register()
