"""The passes every metric is derived from: a model-state guard and one no-grad forward pass per split."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .._device import autocast
from ..data._images import gathered_batches

if TYPE_CHECKING:  # pragma: no cover
    from ._fairness_gap import NormStatsCollector

__all__ = ["SplitOutputs", "forward_split", "frozen_state", "model_device"]


@dataclass
class SplitOutputs:
    """What one pass over a split yields, on CPU: float32 logits, per-sample CE losses (float32), labels,
    attributes."""

    logits: torch.Tensor
    losses: torch.Tensor
    y: torch.Tensor
    a: torch.Tensor

    @property
    def pred(self) -> torch.Tensor:
        """Argmax prediction (first index on ties, as ``torch.argmax``)."""
        return self.logits.argmax(1) if self.logits.numel() else torch.zeros(0, dtype=torch.int64)

    def __len__(self) -> int:
        return int(self.y.numel())


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter or buffer (CPU for a stateless model)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


@contextlib.contextmanager
def frozen_state(model: nn.Module, device: torch.device | None = None) -> Iterator[nn.Module]:
    """Evaluate ``model`` without changing its state: every module in eval mode inside the block, and on exit each
    module's own ``training`` flag restored (mixed modes, e.g. frozen BatchNorm inside a training model, survive)
    and the model moved back to its original device when ``device`` moved it."""
    modes = [(m, m.training) for m in model.modules()]
    home = model_device(model)
    moved = device is not None and device != home
    try:
        if moved:
            model.to(device)
        model.eval()
        yield model
    finally:
        for m, flag in modes:
            m.training = flag
        if moved:
            model.to(home)


@torch.no_grad()
def forward_split(model: nn.Module, ds: Any, *, device: torch.device, batch_size: int,
                  collector: "NormStatsCollector | None" = None, channels_last: bool = False,
                  amp: bool = True) -> SplitOutputs:
    """One no-grad pass over ``ds`` (a ``GroupDataset``): float32 logits and per-sample cross-entropy losses (bf16
    autocast on CUDA when ``amp``, losses always computed in float32), feeding the batch labels to ``collector``
    so its forward hooks stream the normalization statistics. Results stay on the device until one copy at the
    end (no per-batch host sync). The caller puts the model in eval mode (``frozen_state``)."""
    logits, losses = [], []
    spans = [slice(i, i + batch_size) for i in range(0, len(ds), batch_size)]
    for span, x in zip(spans, gathered_batches(ds.x, spans)):
        x = x.to(device, non_blocking=True)
        y = ds.y[span].to(device, non_blocking=True)
        if channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if collector is not None:
            collector.labels = y
        try:
            with autocast(device, enabled=amp):
                out = model(x)
        finally:
            if collector is not None:
                collector.labels = None
        if out.ndim != 2 or out.shape[1] != ds.n_classes:
            raise ValueError(f"model: returned logits of shape {tuple(out.shape)} on {_split_name(ds)}; expected "
                             f"(batch, {ds.n_classes}), one logit per class of the data")
        out = out.float()
        logits.append(out)
        losses.append(F.cross_entropy(out, y, reduction="none"))
    if logits:
        lg, ls = torch.cat(logits).cpu(), torch.cat(losses).cpu()
        bad = int((~torch.isfinite(lg).all(1)).sum())       # on the CPU copy: no extra device sync
        if bad:
            raise ValueError(f"model: returned NaN or inf logits for {bad} of {len(lg)} samples of "
                             f"{_split_name(ds)} (did training or unlearning diverge?)")
    else:
        lg, ls = torch.empty(0, ds.n_classes), torch.empty(0)
    return SplitOutputs(lg, ls, ds.y.cpu(), ds.a.cpu())


def _split_name(ds: Any) -> str:
    name = getattr(ds, "name", None)
    return f"split {name!r}" if name else "a split"
