"""``fit``: train a model on a ``GroupDataset`` (ERM, REWEIGHT sampling or GroupDRO)."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Callable

import torch
from torch import nn

from .._device import configure_threads, resolve_device
from .._step_progress import current_reporter
from ..data import GroupDataset
from ..data._images import gathered_batches
from ._loop import augment_batch, batch_indices
from ._recipe import TrainRecipe
from ._trainer import Trainer

__all__ = ["fit", "progress_bar", "seed_everything"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (model init, dropout) and return a CPU generator for data order."""
    torch.manual_seed(int(seed))
    return torch.Generator().manual_seed(int(seed))


@contextlib.contextmanager
def progress_bar(description: str, total: int, *, enabled: bool = True):
    """``advance(n=1)`` per epoch: inside an audit step it reports ``epoch i/total`` to the audit's display
    (whatever ``enabled`` says: the audit's display owns the terminal); otherwise a rich progress bar when
    attached to a terminal (and ``enabled``), else a no-op."""
    reporter = current_reporter()
    if reporter is not None:
        done = [0]

        def advance(n: int = 1) -> None:
            done[0] += n
            reporter(done[0] / max(total, 1), f"epoch {done[0]}/{total}")

        yield advance
        return
    if not (enabled and sys.stderr.isatty() and not os.environ.get("PYTEST_XDIST_WORKER")):
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(task, n)


def check_sampling_weights(weights: Any, n: int, *, name: str = "sample_weights",
                           per: str = "training sample") -> torch.Tensor:
    """Validate sampling weights (one per sample, finite, >= 0, not all zero); returns them as float64 on CPU.

    Raises:
        ValueError: naming ``name``: a wrong count, or a NaN / inf / negative / all-zero weight.
    """
    w = torch.as_tensor(weights, dtype=torch.float64).flatten().cpu()
    if w.numel() != n:
        raise ValueError(f"{name}: expected {n} weights (one per {per}), got {w.numel()}")
    if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"{name}: must be finite, >= 0 and not all zero")
    return w


def fit(model: nn.Module, dataset: GroupDataset | torch.utils.data.Dataset, recipe: TrainRecipe, *,
        sample_weights: Any = None, group_dro: bool = False, seed: int = 0, device: str | torch.device = "auto",
        progress: bool = True, on_batch: Callable[[torch.Tensor], None] | None = None) -> nn.Module:
    """Train ``model`` in place on ``dataset`` with ``recipe`` and return it (left on ``device``, eval mode).

    Objective per batch B: ERM ``mean_{i in B} CE_i``; with ``sample_weights`` the batches are drawn with
    replacement with ``P(i) proportional to w_i`` (REWEIGHT, De Min et al. 2025); with ``group_dro`` the online GroupDRO
    objective of Sagawa et al. (2020): group weights ``q_g <- q_g * exp(eta * L_g)``, renormalised, and loss
    ``sum_g q_g L_g`` with ``L_g`` the mean CE of group ``g`` in the batch (``eta = recipe.group_dro_step``).

    A ``GroupDataset`` takes the fast path (data on the device, batches gathered by index; an image store's
    batches stream from its memory map through a prefetch thread unless the store sits on the device); any
    other map-style dataset yielding ``(x, y, a)`` takes a ``DataLoader`` path, which draws the same index
    batches for a seed (so on CPU both paths train to the same weights); GroupDRO there needs the dataset to
    expose ``n_attrs``.

    Args:
        model: the network; modified in place.
        dataset: training data.
        recipe: optimizer, schedule, batch size, etc.
        sample_weights: optional per-sample sampling weights (>= 0).
        group_dro: use GroupDRO instead of ERM.
        seed: seeds model-side randomness and the data order (CPU results are reproducible).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        progress: show a rich progress bar when attached to a terminal.
        on_batch: called with each batch's indices (for tests and audits of what data a step sees).

    Raises:
        TypeError: ``recipe`` is not a ``TrainRecipe`` or ``model`` not a module.
        ValueError: bad ``sample_weights`` or device; ``group_dro`` combined with ``sample_weights``.
    """
    if not isinstance(recipe, TrainRecipe):
        raise TypeError(f"recipe: expected a TrainRecipe, got {type(recipe).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if group_dro and sample_weights is not None:
        raise ValueError("group_dro: cannot be combined with sample_weights (GroupDRO sets its own group weights)")
    dev = resolve_device(device)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        configure_threads()
    if not isinstance(dataset, GroupDataset):
        return _fit_dataloader(model, dataset, recipe, sample_weights=sample_weights, group_dro=group_dro,
                               seed=seed, device=dev, progress=progress, on_batch=on_batch)
    if len(dataset) == 0:
        raise ValueError("dataset: is empty")
    weights = check_sampling_weights(sample_weights, len(dataset)) if sample_weights is not None else None
    gen = seed_everything(seed)
    data = dataset.to(dev)
    trainer = Trainer(model, recipe, device=dev, steps_per_epoch=-(-len(data) // recipe.batch_size))
    groups = data.groups() if group_dro else None
    q = torch.full((data.n_groups,), 1.0 / data.n_groups, device=dev)
    with progress_bar(f"fit {type(model).__name__}", recipe.epochs, enabled=progress) as advance:
        for _ in range(recipe.epochs):
            batches = list(batch_indices(len(data), recipe.batch_size, generator=gen, weights=weights))
            for idx, xb in zip(batches, gathered_batches(data.x, batches)):
                if on_batch is not None:
                    on_batch(idx)
                idx_d = idx.to(dev, non_blocking=True)
                x = augment_batch(xb, recipe.augment, gen)
                q_new = trainer.train_step(x, data.y[idx_d], groups=groups[idx_d] if group_dro else None, q=q)
                q = q if q_new is None else q_new
            advance()
    return model.eval()


def _fit_dataloader(model: nn.Module, dataset: Any, recipe: TrainRecipe, *, sample_weights: Any, group_dro: bool,
                    seed: int, device: torch.device, progress: bool,
                    on_batch: Callable[[torch.Tensor], None] | None) -> nn.Module:
    """Streaming path for datasets that do not fit in memory: a ``DataLoader`` over ``(x, y, a)`` items.

    The batches are the index batches of the fast path (same generator, same draws), fed to the ``DataLoader``
    as its ``batch_sampler``, so both paths see the same data order for a seed and ``on_batch`` works here too.
    """
    from torch.utils.data import DataLoader

    n = len(dataset)
    if n == 0:
        raise ValueError("dataset: is empty")
    weights = check_sampling_weights(sample_weights, n) if sample_weights is not None else None
    n_attrs = getattr(dataset, "n_attrs", None)
    if group_dro and not (isinstance(n_attrs, int) and n_attrs >= 1):
        raise ValueError(f"group_dro: the DataLoader path needs the dataset to expose an int attribute n_attrs "
                         f"(number of attribute values), {type(dataset).__name__} has n_attrs={n_attrs!r}")
    gen = seed_everything(seed)
    trainer = Trainer(model, recipe, device=device, steps_per_epoch=-(-n // recipe.batch_size))
    q: torch.Tensor | None = None
    with progress_bar(f"fit {type(model).__name__}", recipe.epochs, enabled=progress) as advance:
        for _ in range(recipe.epochs):
            batches = list(batch_indices(n, recipe.batch_size, generator=gen, weights=weights))
            for idx, (x, y, a) in zip(batches, DataLoader(dataset, batch_sampler=batches)):
                if on_batch is not None:
                    on_batch(idx)
                groups = None
                if group_dro:
                    a = torch.as_tensor(a).long()
                    lo, hi = int(a.min()), int(a.max())  # checked on the host copy: no device sync
                    if lo < 0 or hi >= n_attrs:
                        raise ValueError(f"dataset: attribute values must lie in 0..{n_attrs - 1} (n_attrs={n_attrs}), "
                                         f"got a batch with range [{lo}, {hi}]")
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True).long()
                if not x.is_floating_point() or x.dtype == torch.float64:
                    x = x.float()
                x = augment_batch(x, recipe.augment, gen)
                if group_dro:
                    groups = a.to(device, non_blocking=True) + y * n_attrs
                q = trainer.train_step(x, y, groups=groups, q=q, n_attrs=n_attrs)
            advance()
    return model.eval()
