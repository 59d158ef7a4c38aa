"""White-box L-infinity attacks in pixel space: FGSM and PGD, and accuracy under attack.

Models take pixel-space inputs and normalize inside ``forward``, so the attacks perturb raw pixels and clamp to
the data's valid range (images ``[0, 1]``; tabular data: no clamp, ``eps`` in standardized feature units).
"""

from __future__ import annotations

from typing import Any, Literal, Union

import torch
import torch.nn.functional as F
from torch import nn

from .._device import autocast, resolve_device, use_channels_last
from ..data._images import gathered_batches
from ._passes import frozen_state, model_device

__all__ = ["fgsm", "pgd", "adversarial_accuracy", "adversarial_correct"]

ValueRange = Union[tuple[float, float], None, Literal["auto"]]


def _range(value_range: ValueRange, x: torch.Tensor) -> tuple[float, float] | None:
    if isinstance(value_range, str):
        if value_range != "auto":
            raise ValueError(f"value_range: expected (lo, hi), None or 'auto', got {value_range!r}")
        return (0.0, 1.0) if x.ndim == 4 else None
    return value_range


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool) -> torch.Tensor:
    """``grad_x sum_i CE(f(x_i), y_i)`` (logits cast to float32 before the loss; parameters' ``.grad`` untouched)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        with autocast(x.device, enabled=amp):
            out = model(x)
        loss = F.cross_entropy(out.float(), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, rng: tuple[float, float] | None) -> torch.Tensor:
    x_adv = torch.minimum(torch.maximum(x_adv, x - eps), x + eps)
    return x_adv.clamp(*rng) if rng is not None else x_adv


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, value_range: ValueRange = "auto",
         amp: bool = True) -> torch.Tensor:
    """FGSM (Goodfellow et al. 2015): ``x_adv = clip(x + eps * sign(grad_x CE(f(x), y)))``.

    ``clip`` keeps ``x_adv`` in ``value_range``: ``"auto"`` = ``[0, 1]`` for 4-d image batches, no clamp otherwise
    (tabular). The gradient is taken in eval mode (the model's modes are restored afterwards) and never
    accumulates into parameters' ``.grad``. ``amp``: bf16 autocast on CUDA (no-op on CPU).
    """
    rng = _range(value_range, x)
    with frozen_state(model):
        g = _input_grad(model, x, y, amp)
    return _project(x + eps * g.sign(), x, eps, rng).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 10,
        step_size: float | None = None, random_start: bool = True, seed: int = 0, value_range: ValueRange = "auto",
        amp: bool = True) -> torch.Tensor:
    """L-infinity PGD (Madry et al. 2018): start at ``x + U(-eps, eps)`` (seeded CPU generator, so the start is
    the same on every device; ``random_start=False`` starts at ``x``), then ``steps`` times
    ``x_adv <- Proj(x_adv + step_size * sign(grad_x CE(f(x_adv), y)))`` where ``Proj`` clips to the eps-ball
    around ``x`` and to ``value_range``. ``step_size`` defaults to ``2.5 * eps / steps``. Eval mode, modes
    restored, parameters' ``.grad`` untouched."""
    if steps < 1:
        raise ValueError(f"steps: expected >= 1, got {steps!r}")
    rng = _range(value_range, x)
    step = 2.5 * eps / steps if step_size is None else step_size
    x_adv = x.detach().clone()
    if random_start:
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        noise = torch.rand(x.shape, generator=gen, dtype=torch.float32).to(x.device, x.dtype)
        x_adv = _project(x + (2 * noise - 1) * eps, x, eps, rng)
    with frozen_state(model):
        for _ in range(steps):
            x_adv = _project(x_adv + step * _input_grad(model, x_adv, y, amp).sign(), x, eps, rng)
    return x_adv.detach()


def attack_subset(n: int, max_samples: int | None, seed: int) -> torch.Tensor | None:
    """Indices of a seeded uniform subset of ``max_samples`` out of ``n`` (sorted), or ``None`` to attack all."""
    if max_samples is None or max_samples >= n:
        return None
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(n, generator=gen)[:max_samples].sort().values


def adversarial_accuracy(model: nn.Module, dataset: Any, *, attack: Literal["fgsm", "pgd"] = "fgsm",
                         eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                         random_start: bool = True, batch_size: int = 512, max_samples: int | None = None,
                         seed: int = 0, device: str | torch.device | None = None, amp: bool = True) -> float:
    """Accuracy (%) of ``model`` on ``dataset`` (a ``GroupDataset``) under ``attack`` at budget ``eps``:
    ``100 * mean(adversarial_correct(...))`` (see there); ``nan`` when empty."""
    correct = adversarial_correct(model, dataset, attack=attack, eps=eps, steps=steps, step_size=step_size,
                                  random_start=random_start, batch_size=batch_size, max_samples=max_samples,
                                  seed=seed, device=device, amp=amp)
    return 100.0 * float(correct.double().mean()) if correct.numel() else float("nan")


def adversarial_correct(model: nn.Module, dataset: Any, *, attack: Literal["fgsm", "pgd"] = "fgsm",
                        eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                        random_start: bool = True, batch_size: int = 512, max_samples: int | None = None,
                        seed: int = 0, device: str | torch.device | None = None, amp: bool = True) -> torch.Tensor:
    """Per sample (CPU bool tensor): whether ``model`` still classifies it correctly under ``attack`` at ``eps``.

    Clamp range from ``dataset.value_range`` (images ``[0, 1]``, tabular none). ``max_samples`` attacks a seeded
    uniform subset (``attack_subset``; the result then has that many entries, in the subset's order). PGD's random
    start of the batch starting at sample ``i`` is seeded with ``seed + i``. One attack pass in eval mode (bf16
    autocast and channels_last on CUDA); results stay on the device until one copy at the end. The model's state
    (modes, device, BN statistics, ``.grad``) is unchanged.
    """
    if attack not in ("fgsm", "pgd"):
        raise ValueError(f"attack: expected 'fgsm' or 'pgd', got {attack!r}")
    if not eps > 0:
        raise ValueError(f"eps: expected > 0, got {eps!r}")
    sub = attack_subset(len(dataset), max_samples, seed)
    ds = dataset.subset(sub) if sub is not None else dataset
    n = len(ds)
    if n == 0:
        return torch.zeros(0, dtype=torch.bool)
    dev = model_device(model) if device is None else resolve_device(device)
    cl = use_channels_last(model, dev)
    rng = ds.value_range
    hits = []
    with frozen_state(model, dev):
        spans = [slice(i, i + batch_size) for i in range(0, n, batch_size)]
        for span, x in zip(spans, gathered_batches(ds.x, spans)):
            i = span.start
            x = x.to(dev, non_blocking=True)
            y = ds.y[span].to(dev, non_blocking=True)
            if cl and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            if attack == "fgsm":
                x_adv = fgsm(model, x, y, eps=eps, value_range=rng, amp=amp)
            else:
                x_adv = pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, random_start=random_start,
                            seed=seed + i, value_range=rng, amp=amp)
            with torch.no_grad(), autocast(dev, enabled=amp):
                hits.append(model(x_adv).argmax(1) == y)
    return torch.cat(hits).cpu()
