"""Unlearning methods behind one protocol: ``method(model, ctx) -> model``.

``METHODS`` maps names to registered methods (``"scrub+reweight"`` composes REWEIGHT sampling);
``get_method(name, **hyperparams)`` returns one; ``register_method(name)`` adds a user method;
``as_method(fn)`` adapts a ``fn(net, retain_loader, forget_loader, val_loader)`` function.
"""

from ._adapters import as_method, loaders_for
from ._context import UnlearnContext, frozen_copy
from ._optim import OptimParams, Trainer, batches, logits_of, weighted_ce
from ._registry import METHODS, Method, MethodInfo, UnlearningMethod, get_method, method_names, register_method
from ._soft_qp import SoftWeights, hard_weights, kkt_solve, soft_weights, soft_weights_from_embeddings

__all__ = ["METHODS", "Method", "MethodInfo", "OptimParams", "SoftWeights", "Trainer", "UnlearnContext",
           "UnlearningMethod", "as_method", "batches", "frozen_copy", "get_method", "hard_weights", "kkt_solve",
           "loaders_for", "logits_of", "method_names", "register_method", "soft_weights",
           "soft_weights_from_embeddings", "weighted_ce"]


def __getattr__(name: str):  # PEP 562: helpers of built-in methods, imported on first use
    if name == "last_k_layers":   # the last k Conv/Linear layers of a model (EU-k / CF-k), for user methods
        from ._finetune import last_k_layers

        return last_k_layers
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
