"""Fairness-gap over normalization layers (Tran & Woo 2025; spec A7), from streaming per-class statistics."""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

__all__ = ["FairnessGap", "FairnessGapChange", "NormStatsCollector", "fairness_gap", "fairness_gap_change",
           "norm_layers"]

_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d,
               nn.InstanceNorm2d, nn.InstanceNorm3d)


def norm_layers(model: nn.Module, pattern: str | None = None) -> list[tuple[str, nn.Module]]:
    """Normalization layers in model order, optionally filtered by a regex on their qualified names."""
    rx = re.compile(pattern) if pattern else None
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _NORM_TYPES) and (rx is None or rx.search(n))]


@dataclass
class FairnessGap:
    """Per-layer fairness-gap ``eps^l = max_c sigma_c^l - min_c sigma_c^l`` (model order) and summaries."""

    layer_names: list[str]
    values: list[float]
    statistic: str = "var"
    split: str = "retain"
    class_sigma: list[list[float]] = field(default_factory=list)  # per layer, per class (nan: skipped class)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values) if self.values else float("nan")

    @property
    def max(self) -> float:
        return max(self.values) if self.values else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean": self.mean, "max": self.max}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FairnessGap":
        return cls(layer_names=list(d["layer_names"]), values=[float(v) for v in d["values"]],
                   statistic=d.get("statistic", "var"), split=d.get("split", "retain"),
                   class_sigma=[[float("nan") if v is None else float(v) for v in row]
                                for row in d.get("class_sigma", [])])


@dataclass
class FairnessGapChange:
    """Preservation (Conjecture 1): ``d_eps^l = eps^l(theta) - eps^l(theta_o)`` and ``|d_eps^l| / eps^l(theta_o)``."""

    layer_names: list[str]
    delta: list[float]
    relative: list[float]

    @property
    def mean_relative(self) -> float:
        vals = [v for v in self.relative if v == v]
        return sum(vals) / len(vals) if vals else float("nan")


def fairness_gap_change(current: FairnessGap, original: FairnessGap) -> FairnessGapChange:
    """Per-layer change of the fairness-gap against the original model's (layers matched by name).

    Raises:
        ValueError: the two gaps cover different layers.
    """
    if current.layer_names != original.layer_names:
        raise ValueError("fairness_gap_change: current and original cover different normalization layers")
    delta = [c - o for c, o in zip(current.values, original.values)]
    rel = [abs(d) / o if o > 0 else float("nan") for d, o in zip(delta, original.values)]
    return FairnessGapChange(layer_names=list(current.layer_names), delta=delta, relative=rel)


class NormStatsCollector:
    """Forward hooks accumulating, per normalization layer and class, the count, sum and sum of squares (float64)
    of every feature of the layer's output, without storing activations.

    A feature is a channel (dim 1) for BatchNorm/GroupNorm/InstanceNorm outputs, reduced over samples and
    spatial positions; the last dimension for LayerNorm, reduced over samples and tokens. Set ``labels`` to the
    batch's class labels before each forward.
    """

    def __init__(self, model: nn.Module, n_classes: int, *, layers: str | None = None) -> None:
        self.layers = norm_layers(model, layers)
        self.n_classes = n_classes
        self.labels: torch.Tensor | None = None
        self.stats: dict[str, list[torch.Tensor]] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> "NormStatsCollector":
        for name, module in self.layers:
            self._handles.append(module.register_forward_hook(self._hook(name, isinstance(module, nn.LayerNorm))))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _hook(self, name: str, last_dim: bool):
        def hook(module: nn.Module, inputs: Any, out: torch.Tensor) -> None:
            if self.labels is None:
                return
            o = out.detach().double()
            if last_dim:
                o = o.reshape(o.shape[0], -1, o.shape[-1])  # (N, tokens, D)
            else:
                o = o.reshape(o.shape[0], o.shape[1], -1).transpose(1, 2)  # (N, positions, C)
            per_sample_n = o.shape[1]
            s1 = o.sum(1)
            s2 = (o * o).sum(1)
            y = self.labels.to(o.device)
            if name not in self.stats:
                d = o.shape[-1]
                z = torch.zeros(self.n_classes, d, dtype=torch.float64, device=o.device)
                zc = torch.zeros(self.n_classes, dtype=torch.float64, device=o.device)
                self.stats[name] = [zc, zc.clone(), z, z.clone()]
            samples, cnt, acc1, acc2 = self.stats[name]
            ones = torch.ones(len(y), dtype=torch.float64, device=o.device)
            samples.index_add_(0, y, ones)
            cnt.index_add_(0, y, ones * per_sample_n)
            acc1.index_add_(0, y, s1)
            acc2.index_add_(0, y, s2)

        return hook

    def result(self, *, statistic: Literal["var", "std"] = "var", split: str = "retain",
               min_count: int = 2) -> FairnessGap | None:
        """Per layer: ``sigma_c = mean over features of the per-class variance`` (population form
        ``E[o^2] - E[o]^2``; ``"std"`` takes its square root per feature first); ``eps = max_c - min_c`` over
        classes with at least ``min_count`` samples. ``None`` if the model has no normalization layer."""
        if not self.layers:
            return None
        names, values, sigmas = [], [], []
        skipped: set[int] = set()
        for name, _ in self.layers:
            if name not in self.stats:
                continue
            samples, cnt, s1, s2 = self.stats[name]
            mean = s1 / cnt.clamp_min(1)[:, None]
            var = (s2 / cnt.clamp_min(1)[:, None] - mean * mean).clamp_min(0.0)
            per_feature = var.sqrt() if statistic == "std" else var
            usable = samples >= min_count
            sigma = torch.where(usable, per_feature.mean(1), torch.full_like(samples, float("nan")))
            names.append(name)
            sigmas.append(sigma.cpu().tolist())
            valid = sigma[usable]
            values.append(float(valid.max() - valid.min()) if valid.numel() >= 2 else float("nan"))
            skipped.update((~usable).nonzero().flatten().tolist())
        if skipped:
            warnings.warn(f"fairness_gap: classes {sorted(skipped)} have fewer than {min_count} samples in the "
                          f"{split} split and were skipped", stacklevel=2)
        return FairnessGap(layer_names=names, values=values, statistic=statistic, split=split, class_sigma=sigmas)


@torch.no_grad()
def fairness_gap(model: nn.Module, dataset: Any, *, split_name: str | None = None,
                 statistic: Literal["var", "std"] = "var", layers: str | None = None,
                 batch_size: int = 512) -> FairnessGap | None:
    """Fairness-gap of ``model`` on ``dataset`` (a ``GroupDataset``), spec A7.

    For every normalization layer ``l`` (in model order, eval mode, output hooked) and class ``c``:
    ``sigma_c^l`` = mean over features of the variance of the layer's output over the class's samples (and
    spatial positions / tokens); ``eps^l = max_c sigma_c^l - min_c sigma_c^l``. Returns ``None`` when the model
    has no normalization layer (the metric is not applicable). The model's mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with NormStatsCollector(model, dataset.n_classes, layers=layers) as col:
            for i in range(0, len(dataset), batch_size):
                col.labels = dataset.y[i:i + batch_size].to(dev)
                model(dataset.x[i:i + batch_size].to(dev))
    finally:
        model.train(was_training)
    return col.result(statistic=statistic, split=split_name or "retain")
