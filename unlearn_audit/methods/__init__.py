"""Unlearning methods behind one protocol: ``method(model, ctx) -> model``.

``METHODS`` maps names to registered methods (``"scrub+reweight"`` composes REWEIGHT sampling);
``get_method(name, **hyperparams)`` returns one; ``register_method(name)`` adds a user method;
``as_method(fn)`` adapts a ``fn(net, retain_loader, forget_loader, val_loader)`` function.
"""

from ._adapters import as_method, loaders_for
from ._context import UnlearnContext, frozen_copy
from ._optim import OptimParams, Trainer, batches, logits_of, weighted_ce
from ._registry import METHODS, Method, MethodInfo, UnlearningMethod, get_method, method_names, register_method

__all__ = ["METHODS", "Method", "MethodInfo", "OptimParams", "Trainer", "UnlearnContext", "UnlearningMethod",
           "as_method", "batches", "frozen_copy", "get_method", "loaders_for", "logits_of", "method_names",
           "register_method", "weighted_ce"]
