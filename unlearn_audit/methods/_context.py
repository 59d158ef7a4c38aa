"""``UnlearnContext``: everything a method may use besides the model it modifies."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from ..data import AuditData, GroupDataset
from ..training import TrainRecipe, check_sampling_weights

__all__ = ["UnlearnContext", "frozen_copy"]


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with ``requires_grad=False`` everywhere (the teacher / ``ctx.original``)."""
    import copy

    clone = copy.deepcopy(model).eval()
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


@dataclass(frozen=True, kw_only=True, eq=False)
class UnlearnContext:
    """What an unlearning method gets besides the model: data, the frozen original, recipe, device, seed.

    Attributes:
        data: the full ``AuditData`` (train, test, val, forget indices).
        forget: ``D_f`` on ``device``.
        retain: ``D_r`` on ``device``.
        val: the validation split on ``device`` (or ``None``).
        original: frozen eval-mode copy of the original model ``theta_o`` (never modify it).
        recipe: the recipe the original was trained with (retraining methods reuse it).
        device: where to compute.
        seed: seeds every random choice of the method (CPU results are reproducible).
        model_factory: returns a fresh, untrained model of the same architecture (``None`` if the user gave none;
            methods that need it say so in their metadata).
        retain_weights: optional REWEIGHT sampling weight of every retain sample, set by ``+reweight``.
        sample_weights: optional soft weights ``epsilon`` of every *train* sample in train order (Qiao et al. 2026):
            a sample's loss weight is ``w_i = 1 + epsilon_i`` and its forgetting strength
            ``r_i = max(0, -epsilon_i)``; the hard scheme is ``epsilon = -1`` on ``D_f`` and 0 elsewhere.
        progress: optional callback ``progress(fraction_done)`` in ``[0, 1]``.
        log: a dict the method may fill with diagnostics (attack success rate, QP case, ...); reported as-is.
    """

    data: AuditData
    original: nn.Module
    recipe: TrainRecipe
    device: torch.device
    seed: int = 0
    model_factory: Callable[[], nn.Module] | None = None
    retain_weights: torch.Tensor | None = None
    sample_weights: torch.Tensor | None = None
    progress: Callable[[float], None] | None = None
    log: dict[str, Any] = field(default_factory=dict)
    forget: GroupDataset = field(init=False)
    retain: GroupDataset = field(init=False)
    val: GroupDataset | None = field(init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "forget", self.data.forget.to(self.device))
        set_(self, "retain", self.data.retain.to(self.device))
        set_(self, "val", self.data.val.to(self.device) if self.data.val is not None else None)
        if self.retain_weights is not None:
            check_sampling_weights(self.retain_weights, len(self.retain), name="retain_weights", per="retain sample")
        if self.sample_weights is not None and self.retain_weights is not None:
            raise ValueError("sample_weights: cannot be combined with retain_weights (REWEIGHT); choose one")
        if self.sample_weights is not None and len(self.sample_weights) != len(self.data.train):
            raise ValueError(f"sample_weights: expected {len(self.data.train)} soft weights (one per train sample), "
                             f"got {len(self.sample_weights)}")
        if self.sample_weights is not None and not bool(torch.isfinite(torch.as_tensor(self.sample_weights)).all()):
            raise ValueError("sample_weights: the soft weights epsilon must be finite (found NaN or inf)")

    @classmethod
    def build(cls, *, data: AuditData, original: nn.Module, recipe: TrainRecipe, device: torch.device | str = "cpu",
              seed: int = 0, **kwargs: Any) -> "UnlearnContext":
        """Build a context, taking a frozen eval-mode copy of ``original`` on ``device``."""
        from .._device import resolve_device

        dev = resolve_device(device)
        return cls(data=data, original=frozen_copy(original).to(dev), recipe=recipe, device=dev, seed=seed, **kwargs)

    def replace(self, **changes: Any) -> "UnlearnContext":
        """A copy with ``changes`` (the derived datasets are rebuilt)."""
        keep = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        keep.update(changes)
        return UnlearnContext(**keep)

    @property
    def train(self) -> GroupDataset:
        return self.data.train.to(self.device)

    @property
    def n_classes(self) -> int:
        return self.data.n_classes

    @property
    def n_attrs(self) -> int:
        return self.data.n_attrs

    @property
    def retain_epsilon(self) -> torch.Tensor | None:
        """Soft weights of the retain samples (retain order), or ``None``."""
        if self.sample_weights is None:
            return None
        return self.sample_weights[self.data.retain_idx].to(self.device)

    @property
    def forget_epsilon(self) -> torch.Tensor | None:
        """Soft weights of the forget samples (forget order), or ``None``."""
        if self.sample_weights is None:
            return None
        return self.sample_weights[self.data.forget_idx].to(self.device)

    def weighted_sets(self) -> tuple[GroupDataset, torch.Tensor | None, GroupDataset, torch.Tensor | None]:
        """``(retain_set, retain_loss_weights, forget_set, forget_strengths)`` for methods with soft-weight support.

        Without soft weights: ``(D_r, None, D_f, None)``. With soft weights ``epsilon``
        (Qiao et al. 2026): the retain-like
        set is every train sample with ``w_i = 1 + epsilon_i > 0`` (loss weight ``w_i``) and the forget-like set
        every train sample with ``r_i = max(0, -epsilon_i) > 0`` (strength ``r_i``), both in train order. For the
        hard scheme (``epsilon = -1`` on ``D_f``, 0 elsewhere) these are exactly ``D_r`` and ``D_f`` with unit
        weights, so a method reduces to its hard form.
        """
        if self.sample_weights is None:
            return self.retain, None, self.forget, None
        eps = self.sample_weights.to(self.device, torch.float32)
        w = (1.0 + eps).clamp_min(0.0)
        r = (-eps).clamp_min(0.0)
        keep = (w > 0).nonzero().flatten()
        drop = (r > 0).nonzero().flatten()
        train = self.train
        return train.subset(keep), w[keep], train.subset(drop), r[drop]

    def generator(self, salt: int = 0) -> torch.Generator:
        """A CPU generator seeded from ``seed`` (and ``salt`` for independent streams)."""
        return torch.Generator().manual_seed(int(self.seed) * 1_000_003 + salt)

    def report_progress(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(min(1.0, max(0.0, fraction)))
