"""Distillation family: ``scrub`` (Kurmanji et al. 2023) and ``bad_teacher`` (Chundawat et al. 2023).

Both distil a student (the model being unlearned, initialised at ``theta_o``) from frozen eval-mode teachers
through the temperature-scaled KL divergence ``KL(softmax(t / T) || softmax(s / T))``. Teacher logits are
computed once per sample (no augmentation is applied during unlearning, so they are exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..data import cat_inputs, take_rows
from ..training import batch_indices
from ._context import UnlearnContext
from ._optim import OptimParams, Trainer, batches, logits_of
from ._registry import register_method

__all__ = ["ScrubParams", "BadTeacherParams", "SCRUB_PRESETS", "scrub", "bad_teacher", "kl_per_sample"]

#: Reference configurations of SCRUB, usable as ``get_method("scrub", **SCRUB_PRESETS[name])``.
#: ``"large_scale"``: Kurmanji et al.'s CIFAR configuration (its lr decays at epochs 3/5/9 never trigger in 3
#: epochs, hence constant); ``"grmu_celeba"``: De Min et al.'s CelebA configuration (forget batch = batch size).
SCRUB_PRESETS: dict[str, dict[str, object]] = {
    "large_scale": {"optimizer": "sgd", "lr": 5e-4, "momentum": 0.9, "weight_decay": 5e-4, "epochs": 3, "msteps": 2,
                    "alpha": 0.001, "gamma": 0.99, "temperature": 4.0, "batch_size": 128, "forget_batch_size": 32,
                    "schedule": "constant"},
    "grmu_celeba": {"optimizer": "sgd", "lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-4, "epochs": 10,
                    "msteps": 5, "alpha": 0.001, "gamma": 0.99, "temperature": 4.0, "batch_size": 128,
                    "forget_batch_size": 256, "schedule": "cosine"},
}


def kl_per_sample(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``KL(softmax(t / T) || softmax(s / T))`` per sample (float32, shape ``(B,)``; 0 log 0 = 0)."""
    log_s = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_t = F.log_softmax(teacher_logits.float() / temperature, dim=1)
    return F.kl_div(log_s, log_t, reduction="none", log_target=True).sum(dim=1)


def _ones_if_none(w: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
    """Unit weights when ``w`` is ``None``: the weighted and plain objectives then share one code path, so the hard
    soft-weight scheme (``w = 1``, ``r = 1``) reproduces the plain method bit for bit."""
    return torch.ones(n, device=device) if w is None else w.to(device, torch.float32)


def _check_positive_int(owner: str, field: str, value: object, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{owner}.{field}: expected a {'non-negative' if allow_zero else 'positive'} int, "
                         f"got {value!r}")


def _check_number(owner: str, field: str, value: object, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
            float(value) <= 0 if positive else float(value) < 0):
        raise ValueError(f"{owner}.{field}: expected a {'positive' if positive else 'non-negative'} finite number, "
                         f"got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ScrubParams(OptimParams):
    """Hyper-parameters of ``scrub``.

    Reference defaults: original large-scale SCRUB: SGD lr 5e-4, momentum 0.9, wd 5e-4, 3 epochs,
    2 max-steps, alpha 0.001, gamma 0.99, T 4, retain batch 128 / forget batch 32; small-scale SCRUB: Adam lr 5e-4,
    wd 0.1, 10 epochs, 3 max-steps, alpha 0.5, gamma 1, T 2. GRMU (group experiments, the basis of these defaults):
    alpha 0.001, gamma 0.99, T 4, retain batch 128, 10 epochs, 5 max-steps (7 on FairFace), SGD lr 1e-3 cosine,
    wd 1e-4 (CelebA) / 5e-3 (Waterbirds) / 5e-4 (FairFace).

    Small-data defaults here: GRMU's alpha, gamma, T, epochs, max-steps, optimiser, cosine schedule and wd 1e-4,
    with the recipe's retain batch (``batch_size=None``), forget batch 16 and lr 0.01 (a few hundred retain /
    tens of forget samples give too few steps at batch 128 / lr 1e-3 to move the model).

    Attributes:
        msteps: epochs (the first ones) that start with a max-step pass over ``D_f``.
        forget_batch_size: batch size of the max-steps.
        alpha: weight of the distillation KL in the min-steps.
        gamma: weight of the cross-entropy in the min-steps.
        temperature: distillation temperature ``T``.
    """

    epochs: int = 10
    lr: float = 0.01
    batch_size: int | None = None
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    msteps: int = 5
    forget_batch_size: int = 16
    alpha: float = 0.001
    gamma: float = 0.99
    temperature: float = 4.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive_int("ScrubParams", "msteps", self.msteps, allow_zero=True)
        _check_positive_int("ScrubParams", "forget_batch_size", self.forget_batch_size)
        _check_number("ScrubParams", "alpha", self.alpha)
        _check_number("ScrubParams", "gamma", self.gamma)
        _check_number("ScrubParams", "temperature", self.temperature, positive=True)


@register_method("scrub", family="distill", paper="Kurmanji et al. 2023 (SCRUB)",
                 needs=frozenset({"forget", "retain"}), supports_retain_weights=True, supports_sample_weights=True,
                 cost="msteps passes over D_f + epochs passes over D_r (one student forward + cached teacher logits)",
                 params=ScrubParams(),
                 description="max-steps push the student away from the original on D_f, min-steps keep it close "
                             "on D_r (teacher-student KL + CE)")
def scrub(model: nn.Module, ctx: UnlearnContext, params: ScrubParams) -> nn.Module:
    """SCRUB: alternate max-steps on ``D_f`` and min-steps on ``D_r`` against the frozen original (teacher).

    With ``KL_i = KL(softmax(t_i / T) || softmax(s_i / T))`` (teacher ``t = f_theta_o``, student ``s = f_theta``)
    and a batch ``B``, the distillation loss is "sum then divide by the batch", scaled by ``T^2``:
    ``KL_T = T^2 / |B| sum_{b in B} KL_b``. Epoch ``e = 0..epochs-1``:

    1. if ``e < msteps``: one pass over ``D_f`` (batches of ``forget_batch_size``) minimising
       ``-T^2 / |B| sum_b r_b KL_b`` (max-step: move away from the teacher on the forget set);
    2. one pass over ``D_r`` minimising ``1 / |B| sum_b w_b (gamma CE(s_b, y_b) + alpha T^2 KL_b)`` (min-step).

    ``r_b = w_b = 1`` for the hard method. With soft weights ``epsilon``: ``w_i = 1 + epsilon_i`` over the
    retain-like set and ``r_i = max(0, -epsilon_i)`` over the forget-like set (``ctx.weighted_sets()``); the hard
    scheme gives exactly ``D_r``, ``D_f`` and unit weights. With REWEIGHT (``scrub+reweight``) the min-step
    batches are drawn with replacement with ``P(i) ~ N_train(g_i) / N_retain(g_i)``. The student runs in train
    mode (BN batch statistics), the teacher in eval mode, as in the reference code. One optimiser serves both
    steps; the schedule runs over all steps.
    """
    torch.manual_seed(ctx.seed)
    retain, loss_w, forget, strength = ctx.weighted_sets()
    if len(retain) == 0:
        raise ValueError("method 'scrub': the retain set is empty; SCRUB's min-steps need retain samples")
    dev = ctx.device
    w = _ones_if_none(loss_w, len(retain), dev)
    r = _ones_if_none(strength, len(forget), dev)
    teacher_r = logits_of(ctx.original, retain.x, device=dev)
    teacher_f = logits_of(ctx.original, forget.x, device=dev) if len(forget) else None
    n_r = math.ceil(len(retain) / params.batch_size)
    n_f = math.ceil(len(forget) / params.forget_batch_size)
    msteps = min(params.msteps, params.epochs) if len(forget) else 0
    total = params.epochs * n_r + msteps * n_f
    trainer = Trainer(model, params.recipe(), device=dev, steps_per_epoch=math.ceil(total / params.epochs))
    gen_f, gen_r = ctx.generator(1), ctx.generator(2)
    t2 = params.temperature ** 2
    kl_max = []
    for epoch in range(params.epochs):
        if epoch < msteps:
            assert teacher_f is not None
            for idx, x, _ in batches(forget, params.forget_batch_size, gen_f):
                kl = kl_per_sample(trainer(x), teacher_f[idx], params.temperature)
                loss = -t2 * (r[idx] * kl).sum() / len(idx)
                trainer.step(loss)
                kl_max.append(loss.detach())
        for idx, x, y in batches(retain, params.batch_size, gen_r, weights=ctx.retain_weights):
            s = trainer(x)
            ce = F.cross_entropy(s, y, reduction="none")
            kl = kl_per_sample(s, teacher_r[idx], params.temperature)
            loss = (w[idx] * (params.gamma * ce + params.alpha * t2 * kl)).sum() / len(idx)
            trainer.step(loss)
        ctx.report_progress((epoch + 1) / params.epochs)
    if kl_max:
        ctx.log["scrub_last_max_step_kl"] = -float(kl_max[-1])
    return model.eval()


@dataclass(frozen=True, kw_only=True)
class BadTeacherParams(OptimParams):
    """Hyper-parameters of ``bad_teacher``.

    Reference defaults (BADT ``unlearn.py``): Adam lr 1e-4 (no weight decay), 1 epoch, batch 256,
    T = 1, 30% of ``D_r``, element-mean KL (``F.kl_div`` default reduction, i.e. divided by ``B * C``). GRMU uses
    all of ``D_r`` and a batch-mean KL with its generic optimiser.

    Small-data defaults here: BADT's Adam, T, retain fraction and KL reduction, with batch 32, lr 2e-3 and 10
    epochs (1 epoch at batch 256 is one or two steps on a few hundred samples; 10 epochs at batch 32 give about
    the number of steps BADT takes on CIFAR). Its forgetting depends on that step count (at batch 128 on the
    default ``colored_digits`` it over-forgets the forget set, UA 84 vs the retrain's 39), so it keeps batch 32
    rather than the recipe's (``batch_size=None`` opts in). Adam is invariant to a constant loss scale, so
    ``kl_reduction`` only matters with ``optimizer="sgd"`` (or through ``grad_clip``).

    Attributes:
        temperature: distillation temperature ``T``.
        retain_fraction: share of the retain set drawn (once, seeded) into the distillation set.
        kl_reduction: ``"mean"`` (divide the summed KL by ``B * C``, BADT), ``"batchmean"`` (by ``B``, GRMU) or
            ``"sum"``.
    """

    epochs: int = 10
    lr: float = 2e-3
    batch_size: int | None = 32
    optimizer: str = "adam"
    weight_decay: float = 0.0
    temperature: float = 1.0
    retain_fraction: float = 0.3
    kl_reduction: Literal["mean", "batchmean", "sum"] = "mean"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number("BadTeacherParams", "temperature", self.temperature, positive=True)
        rf = self.retain_fraction
        if isinstance(rf, bool) or not isinstance(rf, (int, float)) or not 0.0 <= float(rf) <= 1.0:
            raise ValueError(f"BadTeacherParams.retain_fraction: expected a number in [0, 1], got {rf!r}")
        if self.kl_reduction not in ("mean", "batchmean", "sum"):
            raise ValueError(f"BadTeacherParams.kl_reduction: expected 'mean', 'batchmean' or 'sum', got "
                             f"{self.kl_reduction!r}")


@register_method("bad_teacher", family="distill", paper="Chundawat et al. 2023 (Bad Teacher)",
                 needs=frozenset({"forget", "retain", "factory"}), supports_retain_weights=True,
                 supports_sample_weights=True,
                 cost="epochs passes over D_f + retain_fraction * D_r (teacher logits cached)",
                 params=BadTeacherParams(),
                 description="distil the incompetent (random) teacher on D_f and the original on part of D_r")
def bad_teacher(model: nn.Module, ctx: UnlearnContext, params: BadTeacherParams) -> nn.Module:
    """Bad Teacher: a student (``theta_o``) learns from a competent and an incompetent teacher at once.

    The competent teacher is the frozen original ``theta_o``; the incompetent one a randomly initialised network
    of the same architecture (``ctx.model_factory()`` under ``torch.manual_seed(ctx.seed)``, eval mode). The
    distillation set is ``D_f`` (flag 1) plus a seeded random ``retain_fraction`` of ``D_r`` (flag 0), shuffled
    together each epoch. Per sample ``i`` the target is ``softmax(t_bad(x_i) / T)`` if flagged 1 else
    ``softmax(t_good(x_i) / T)`` and ``KL_i = KL(target_i || softmax(s(x_i) / T))``; a batch ``B`` minimises

        ``L = sum_{b in B} c_b KL_b / Z``, ``Z = |B| * C`` (``"mean"``), ``|B|`` (``"batchmean"``) or 1 (``"sum"``),

    with ``c_b = 1`` for the hard method. Soft weights: ``c_i = r_i = max(0, -epsilon_i)`` on the
    forget-like set and ``c_i = w_i = 1 + epsilon_i`` on the retain-like set, so the objective is
    ``sum_i r_i KL(bad || s)_i + w_i KL(good || s)_i`` and the hard scheme is exactly the plain method. With
    REWEIGHT (``bad_teacher+reweight``) the retain part is drawn with replacement with
    ``P(i) ~ N_train(g_i) / N_retain(g_i)`` instead of uniformly without replacement.
    """
    torch.manual_seed(ctx.seed)
    assert ctx.model_factory is not None  # checked by Method.check_context
    bad = ctx.model_factory()
    if not isinstance(bad, nn.Module):
        raise TypeError(f"method 'bad_teacher': model_factory must return an nn.Module, got {type(bad).__name__}")
    bad = bad.to(ctx.device).eval()
    for p in bad.parameters():
        p.requires_grad_(False)
    dev = ctx.device
    retain, loss_w, forget, strength = ctx.weighted_sets()
    w = _ones_if_none(loss_w, len(retain), dev)
    r = _ones_if_none(strength, len(forget), dev)
    n_keep = int(round(params.retain_fraction * len(retain)))
    gen = ctx.generator(1)
    if ctx.retain_weights is not None and n_keep:
        keep = torch.multinomial(ctx.retain_weights.double().cpu(), n_keep, replacement=True, generator=gen)
    else:
        keep = torch.randperm(len(retain), generator=gen)[:n_keep]
    keep = keep.to(dev)
    if len(forget) + n_keep == 0:
        raise ValueError("method 'bad_teacher': nothing to distil (empty forget set and retain_fraction * |D_r| = 0)")
    x = cat_inputs([forget.x, take_rows(retain.x, keep)])
    target = torch.cat([logits_of(bad, forget.x, device=dev),
                        logits_of(ctx.original, take_rows(retain.x, keep), device=dev)])
    coef = torch.cat([r, w[keep]])
    ctx.log["bad_teacher_set"] = {"forget": len(forget), "retain": int(n_keep)}
    del bad
    n_classes = target.shape[1]
    trainer = Trainer(model, params.recipe(), device=dev, steps_per_epoch=math.ceil(len(x) / params.batch_size))
    gen_b = ctx.generator(2)
    for epoch in range(params.epochs):
        for idx in batch_indices(len(x), params.batch_size, generator=gen_b):
            idx = idx.to(dev)
            kl = kl_per_sample(trainer(x[idx]), target[idx], params.temperature)
            total = (coef[idx] * kl).sum()
            if params.kl_reduction == "mean":
                total = total / (len(idx) * n_classes)
            elif params.kl_reduction == "batchmean":
                total = total / len(idx)
            trainer.step(total)
        ctx.report_progress((epoch + 1) / params.epochs)
    return model.eval()
