"""``as_method``: adapt a ``fn(net, retain_loader, forget_loader, val_loader) -> net`` function (NeurIPS'23
machine-unlearning challenge style) to the method protocol."""

from __future__ import annotations

import inspect
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ._context import UnlearnContext
from ._registry import Method, MethodInfo

__all__ = ["as_method", "loaders_for"]


def loaders_for(ctx: UnlearnContext, *, batch_size: int = 64) -> tuple[DataLoader, DataLoader, DataLoader | None]:
    """Shuffled retain / forget loaders and an ordered val loader of ``(x, y)`` batches (seeded by ``ctx.seed``)."""

    def loader(ds, shuffle: bool, salt: int) -> DataLoader:
        return DataLoader(TensorDataset(ds.x, ds.y), batch_size=batch_size, shuffle=shuffle,
                          generator=ctx.generator(salt) if shuffle else None)

    val = loader(ctx.val, False, 0) if ctx.val is not None else None
    return loader(ctx.retain, True, 1), loader(ctx.forget, True, 2), val


def as_method(fn: Callable[..., nn.Module], *, name: str | None = None, batch_size: int = 64) -> Method:
    """Wrap ``fn`` as a method: ``fn(model, ctx)`` is used as is; ``fn(net, retain_loader, forget_loader,
    val_loader)`` receives seeded ``DataLoader`` s of ``(x, y)`` built from the context (``val_loader`` is
    ``None`` when the audit has no validation split).

    Raises:
        TypeError: ``fn`` is not callable or takes neither 2 nor 4 positional arguments.
    """
    if isinstance(fn, Method):
        return fn
    if not callable(fn):
        raise TypeError(f"unlearn_fn: expected a callable, got {type(fn).__name__}")
    try:
        n_args = len([p for p in inspect.signature(fn).parameters.values()
                      if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY,
                                                                             p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):
        n_args = 2
    label = name or getattr(fn, "__name__", type(fn).__name__)
    if n_args == 2:
        impl = fn
    elif n_args == 4:
        def impl(model: nn.Module, ctx: UnlearnContext) -> nn.Module:
            retain, forget, val = loaders_for(ctx, batch_size=batch_size)
            torch.manual_seed(ctx.seed)
            return fn(model, retain, forget, val)
    else:
        raise TypeError(f"unlearn_fn {label!r}: expected fn(model, ctx) or fn(net, retain_loader, forget_loader, "
                        f"val_loader), got {n_args} required positional arguments")
    info = MethodInfo(name=label, family="user", needs=frozenset({"forget", "retain"}),
                      description=(inspect.getdoc(fn) or "user-provided unlearning function").split("\n")[0])
    return Method(info=info, fn=impl)
