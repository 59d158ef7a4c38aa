"""Locate a model's final linear layer and the features that enter it, for any ``nn.Module``."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["find_head", "head_and_embedding"]


def find_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """The classifier layer: ``model.head`` if it is an ``nn.Linear``, else the last ``nn.Linear`` registered.

    Raises:
        ValueError: the model has no ``nn.Linear`` layer.
    """
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear):
        return "head", head
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = (name, module)
    if last is None:
        raise ValueError(f"model: {type(model).__name__} has no nn.Linear layer; last-layer methods need one")
    return last


def head_and_embedding(model: nn.Module) -> tuple[nn.Linear, Callable[[torch.Tensor], torch.Tensor]]:
    """``(head, embed)`` where ``embed(x)`` returns the input of ``head`` for a batch ``x``.

    Uses ``model.embed`` when the model has it; otherwise a forward hook captures the head's input.
    """
    _, head = find_head(model)
    if callable(getattr(model, "embed", None)):
        return head, model.embed

    def embed(x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []
        handle = head.register_forward_hook(lambda m, inp, out: captured.append(inp[0]))
        try:
            model(x)
        finally:
            handle.remove()
        return captured[0]

    return head, embed
