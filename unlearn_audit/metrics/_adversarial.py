"""White-box L-infinity attacks in pixel space (spec A8): FGSM and PGD, and accuracy under attack."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["fgsm", "pgd", "adversarial_accuracy"]


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x).float(), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float,
             value_range: tuple[float, float] | None) -> torch.Tensor:
    x_adv = torch.max(torch.min(x_adv, x + eps), x - eps)
    return x_adv.clamp(*value_range) if value_range is not None else x_adv


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
         value_range: tuple[float, float] | None = (0.0, 1.0)) -> torch.Tensor:
    """One-step FGSM: ``x_adv = clip(x + eps * sign(grad_x CE(f(x), y)))``, clipped to ``value_range`` (images:
    ``[0, 1]`` pixel space; ``None`` for tabular data). The model should be in eval mode; its parameters'
    gradients are left untouched."""
    return _project(x + eps * _input_grad(model, x, y).sign(), x, eps, value_range).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 10,
        step_size: float | None = None, random_start: bool = True, seed: int = 0,
        value_range: tuple[float, float] | None = (0.0, 1.0)) -> torch.Tensor:
    """L-infinity PGD (Madry et al.): from a uniform random start in the eps-ball (seeded), ``steps`` signed
    gradient steps of size ``step_size`` (default ``2.5 * eps / steps``), each projected onto the eps-ball and
    ``value_range``."""
    step = 2.5 * eps / steps if step_size is None else step_size
    x_adv = x.clone()
    if random_start:
        gen = torch.Generator(device="cpu").manual_seed(seed)
        noise = (torch.rand(x.shape, generator=gen) * 2 - 1).to(x.device, x.dtype) * eps
        x_adv = _project(x + noise, x, eps, value_range)
    for _ in range(steps):
        x_adv = _project(x_adv + step * _input_grad(model, x_adv, y).sign(), x, eps, value_range)
    return x_adv.detach()


def adversarial_accuracy(model: nn.Module, dataset: Any, *, attack: Literal["fgsm", "pgd"] = "fgsm",
                         eps: float = 8 / 255, steps: int = 10, step_size: float | None = None,
                         batch_size: int = 512, max_samples: int | None = None, seed: int = 0) -> float:
    """Accuracy (%) of ``model`` on ``dataset`` (a ``GroupDataset``) under ``attack`` at budget ``eps``; the clamp
    range comes from ``dataset.value_range``. Evaluated in eval mode; the model's mode is restored."""
    was_training = model.training
    model.eval()
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    n = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    try:
        for i in range(0, n, batch_size):
            x = dataset.x[i:min(i + batch_size, n)].to(dev)
            y = dataset.y[i:min(i + batch_size, n)].to(dev)
            if attack == "fgsm":
                x_adv = fgsm(model, x, y, eps=eps, value_range=dataset.value_range)
            elif attack == "pgd":
                x_adv = pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, seed=seed + i,
                            value_range=dataset.value_range)
            else:
                raise ValueError(f"attack: expected 'fgsm' or 'pgd', got {attack!r}")
            with torch.no_grad():
                correct += (model(x_adv).argmax(1) == y).sum()
    finally:
        model.train(was_training)
    return 100.0 * float(correct) / n if n else float("nan")
