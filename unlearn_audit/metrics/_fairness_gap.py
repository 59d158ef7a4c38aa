"""Fairness-gap over normalization layers (Tran & Woo 2025), from streaming per-class statistics."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import torch
from torch import nn

from ._info import NotApplicableError

__all__ = ["FairnessGap", "FairnessGapChange", "NormStatsCollector", "fairness_gap", "fairness_gap_change",
           "norm_layers"]

Statistic = Literal["var", "std"]

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d,
              nn.InstanceNorm2d, nn.InstanceNorm3d)


def norm_layers(model: nn.Module, pattern: str | None = None) -> list[tuple[str, nn.Module]]:
    """Normalization layers (BatchNorm1d/2d/3d, LayerNorm, GroupNorm, InstanceNorm) in model order, optionally
    filtered by a regex searched in their qualified names."""
    rx = re.compile(pattern) if pattern else None
    return [(n, m) for n, m in model.named_modules() if isinstance(m, NORM_TYPES) and (rx is None or rx.search(n))]


@dataclass
class FairnessGap:
    """Per-layer fairness-gap ``eps^l = max_c sigma_c^l - min_c sigma_c^l`` in model order, and summaries.

    Attributes:
        layer_names: qualified names of the hooked normalization layers.
        values: ``eps^l`` per layer.
        statistic: ``"var"`` or ``"std"``; split: the split the statistics came from.
        mean, max: ``mean_l eps^l`` and ``max_l eps^l`` (computed when not given).
        class_sigma: ``sigma_c^l`` per layer and class (``None`` for a skipped class).
        class_counts: samples per class in the split.
        skipped_classes: classes with fewer than 2 samples, left out of every ``eps^l``.
    """

    layer_names: list[str]
    values: list[float]
    statistic: str = "var"
    split: str = "retain"
    mean: float | None = None
    max: float | None = None
    class_sigma: list[list[float | None]] = field(default_factory=list)
    class_counts: list[int] = field(default_factory=list)
    skipped_classes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.layer_names) != len(self.values) or not self.values:
            raise ValueError("FairnessGap: expected one value per layer and at least one layer")
        if self.mean is None:
            self.mean = sum(self.values) / len(self.values)
        if self.max is None:
            self.max = max(self.values)  # the builtin: class attributes are not in a method's scope

    def to_dict(self) -> dict[str, Any]:
        return {"layer_names": list(self.layer_names), "values": list(self.values), "statistic": self.statistic,
                "split": self.split, "mean": self.mean, "max": self.max,
                "class_sigma": [list(r) for r in self.class_sigma], "class_counts": list(self.class_counts),
                "skipped_classes": list(self.skipped_classes)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FairnessGap":
        return cls(layer_names=list(d["layer_names"]), values=[float(v) for v in d["values"]],
                   statistic=d.get("statistic", "var"), split=d.get("split", "retain"), mean=d.get("mean"),
                   max=d.get("max"),
                   class_sigma=[[None if v is None else float(v) for v in r] for r in d.get("class_sigma", [])],
                   class_counts=[int(v) for v in d.get("class_counts", [])],
                   skipped_classes=[int(v) for v in d.get("skipped_classes", [])])


@dataclass
class FairnessGapChange:
    """Preservation of the fairness-gap (Tran & Woo's Conjecture 1), per layer:
    ``delta = eps^l(theta) - eps^l(theta_o)``, ``relative = |delta| / eps^l(theta_o)`` (``None`` when
    ``eps^l(theta_o) = 0``), and ``mean_relative`` = mean of the defined relative changes."""

    layer_names: list[str]
    delta: list[float]
    relative: list[float | None]
    mean_relative: float | None = None

    def __post_init__(self) -> None:
        if self.mean_relative is None:
            rel = [r for r in self.relative if r is not None]
            self.mean_relative = sum(rel) / len(rel) if rel else None

    def to_dict(self) -> dict[str, Any]:
        return {"layer_names": list(self.layer_names), "delta": list(self.delta), "relative": list(self.relative),
                "mean_relative": self.mean_relative}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FairnessGapChange":
        return cls(layer_names=list(d["layer_names"]), delta=[float(v) for v in d["delta"]],
                   relative=[None if v is None else float(v) for v in d["relative"]],
                   mean_relative=d.get("mean_relative"))


def fairness_gap_change(current: FairnessGap | Mapping[str, Any],
                        original: FairnessGap | Mapping[str, Any]) -> FairnessGapChange:
    """Per-layer change of ``current``'s fairness-gap against the ``original`` model's (Tran & Woo 2025's preservation).

    Raises:
        ValueError: the two gaps cover different layers, or were measured with different statistics.
    """
    cur = current if isinstance(current, FairnessGap) else FairnessGap.from_dict(current)
    org = original if isinstance(original, FairnessGap) else FairnessGap.from_dict(original)
    if cur.layer_names != org.layer_names:
        raise ValueError(f"fairness_gap_change: the gaps cover different layers ({cur.layer_names} vs "
                         f"{org.layer_names})")
    if cur.statistic != org.statistic:
        raise ValueError(f"fairness_gap_change: statistics differ ({cur.statistic!r} vs {org.statistic!r})")
    delta = [c - o for c, o in zip(cur.values, org.values)]
    rel = [abs(d) / o if o > 0 else None for d, o in zip(delta, org.values)]
    return FairnessGapChange(layer_names=list(cur.layer_names), delta=delta, relative=rel)


class NormStatsCollector:
    """Forward hooks streaming, per normalization layer and class, the sample and element counts and the float64
    sum and sum of squares of every feature of the layer's **output** -- never storing activations.

    A feature is a channel (dim 1) for BatchNorm/GroupNorm/InstanceNorm outputs, reduced over samples and spatial
    positions; the last-dim unit for LayerNorm, reduced over samples and tokens. Numerics: each feature is first
    shifted by a per-feature reference (its mean over the first batch, so that ``E[d^2] - E[d]^2`` does not cancel
    catastrophically when a feature's mean is large), the per-sample partial sums over positions/tokens are taken
    in float32 (the activations' own precision), and every accumulation across samples is float64. The pass sets
    ``labels`` before each forward; hooks do nothing while it is ``None``. Use as a context manager (hooks are
    removed on exit).
    """

    def __init__(self, model: nn.Module, n_classes: int, *, layers: str | None = None) -> None:
        self.layers = norm_layers(model, layers)
        self.n_classes = n_classes
        self.labels: torch.Tensor | None = None
        self.stats: dict[str, list[torch.Tensor]] = {}
        self._handles: list[Any] = []
        self._buf: torch.Tensor | None = None
        self.unmatched: set[str] = set()

    def _scratch(self, like: torch.Tensor) -> torch.Tensor:
        n = like.numel()
        if self._buf is None or self._buf.numel() < n or self._buf.device != like.device:
            self._buf = torch.empty(n, dtype=torch.float32, device=like.device)
        return self._buf[:n].view(like.shape)

    def __enter__(self) -> "NormStatsCollector":
        for name, module in self.layers:
            self._handles.append(module.register_forward_hook(self._hook(name, isinstance(module, nn.LayerNorm))))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._buf = None

    def _hook(self, name: str, last_dim: bool):
        def hook(module: nn.Module, inputs: Any, out: torch.Tensor) -> None:
            y = self.labels
            if y is None:
                return
            o = out.detach()
            n = len(y)
            if o.shape[0] != n and not (last_dim and o.ndim >= 2 and o.shape[0] % n == 0):
                self.unmatched.add(name)  # batch dim is not the sample dim: cannot attribute rows to classes
                return
            if last_dim:  # (N, tokens, D), also from a flattened (N * tokens, D): reduce over dim 1
                o, red, view = o.reshape(n, -1, o.shape[-1]), 1, (1, 1, -1)
            else:  # (N, C, positions): reduce over dim 2
                o, red, view = o.reshape(n, o.shape[1], -1), 2, (1, -1, 1)
            st = self.stats.get(name)
            if st is None:
                shift = o.double().mean(dim=(0, red)).float()
                zk = torch.zeros(self.n_classes, dtype=torch.float64, device=o.device)
                zf = torch.zeros(self.n_classes, shift.numel(), dtype=torch.float64, device=o.device)
                st = self.stats[name] = [zk, zk.clone(), zf, zf.clone(), shift]
            samples, elems, acc1, acc2, shift = st
            # into a reused float32 scratch buffer (bf16 outputs promote): a fresh activation-sized allocation per
            # layer and batch costs more than the arithmetic on CPU (page faults); squared in place for the same reason
            d = torch.sub(o, shift.view(view), out=self._scratch(o))
            s1 = d.sum(red)
            s2 = d.square_().sum(red)
            ones = torch.ones(n, dtype=torch.float64, device=o.device)
            samples.index_add_(0, y, ones)
            elems.index_add_(0, y, ones * o.shape[red])
            acc1.index_add_(0, y, s1.double())
            acc2.index_add_(0, y, s2.double())

        return hook

    def result(self, *, statistic: Statistic = "var", split: str = "retain", min_count: int = 2) -> FairnessGap:
        """``sigma_c^l`` = mean over features of the class's per-feature variance (population form
        ``E[d^2] - E[d]^2`` of the shifted features, in float64; ``"std"`` takes each feature's square root first);
        ``eps^l = max_c sigma_c^l - min_c sigma_c^l`` over the classes with at least ``min_count`` samples (the
        others are skipped with a warning).

        Raises:
            NotApplicableError: no normalization layer (matching the filter) ran, or fewer than two classes have
                enough samples.
        """
        if statistic not in ("var", "std"):
            raise ValueError(f"statistic: expected 'var' or 'std', got {statistic!r}")
        ran = [(n, self.stats[n]) for n, _ in self.layers if n in self.stats and n not in self.unmatched]
        if self.unmatched:
            warnings.warn(f"fairness_gap: layers {sorted(self.unmatched)} are skipped: the first dimension of their "
                          f"output is not the sample dimension", stacklevel=2)
        if not ran:
            raise NotApplicableError("the model has no normalization layer" if not self.layers else
                                     "no normalization layer ran in the forward pass")
        counts = ran[0][1][0]
        usable = counts >= min_count
        skipped = (~usable).nonzero().flatten().tolist()
        if int(usable.sum()) < 2:
            raise NotApplicableError(f"fewer than two classes have >= {min_count} samples in the {split} split")
        if skipped:
            warnings.warn(f"fairness_gap: classes {skipped} have fewer than {min_count} samples in the {split} "
                          f"split and are skipped", stacklevel=2)
        names, values, sigmas = [], [], []
        for name, (_, elems, s1, s2, _shift) in ran:
            m1 = s1 / elems.clamp_min(1)[:, None]
            var = (s2 / elems.clamp_min(1)[:, None] - m1 * m1).clamp_min(0.0)
            sigma = (var.sqrt() if statistic == "std" else var).mean(1).cpu()
            valid = sigma[usable.cpu()]
            names.append(name)
            values.append(float(valid.max() - valid.min()))
            sigmas.append([float(s) if ok else None for s, ok in zip(sigma.tolist(), usable.tolist())])
        return FairnessGap(layer_names=names, values=values, statistic=statistic, split=split, class_sigma=sigmas,
                           class_counts=[int(c) for c in counts.tolist()], skipped_classes=skipped)


def fairness_gap(model: nn.Module, dataset: Any, *, split_name: str | None = None, statistic: Statistic = "var",
                 layers: str | None = None, batch_size: int = 512, device: str | torch.device | None = None,
                 ) -> FairnessGap:
    """Fairness-gap of ``model`` on ``dataset`` (a ``GroupDataset``, project definition).

    For every normalization layer ``l`` (output hooked, eval mode, model order; ``layers`` = regex filter on names)
    and class ``c`` with at least 2 samples: ``sigma_c^l = mean_features Var[o_f | y = c]`` (conv: a feature is a
    channel, variance over samples x positions; LayerNorm: a last-dim unit, over samples x tokens; 1-d: over
    samples), and ``eps^l = max_c sigma_c^l - min_c sigma_c^l``. Statistics stream (count, sum and sum of
    squares per class and feature, accumulated in float64 over mean-shifted features; see ``NormStatsCollector``).
    ``statistic="std"`` uses per-feature standard deviations. The paper's split is the retain set; ``split_name``
    only labels the result. Same pass as ``evaluate`` (bf16 autocast on CUDA), so the numbers agree. The model's
    state is left unchanged.

    Raises:
        NotApplicableError: the model has no normalization layer (matching ``layers``), or fewer than two classes
            have >= 2 samples -- the metric does not apply; the message says why.
    """
    from .._device import resolve_device, use_channels_last
    from ._passes import forward_split, frozen_state, model_device

    dev = model_device(model) if device is None else resolve_device(device)
    collector = NormStatsCollector(model, dataset.n_classes, layers=layers)
    if not collector.layers:
        raise NotApplicableError("the model has no normalization layer" + (f" matching {layers!r}" if layers else ""))
    with frozen_state(model, dev), collector:
        forward_split(model, dataset, device=dev, batch_size=batch_size, collector=collector,
                      channels_last=use_channels_last(model, dev))
    return collector.result(statistic=statistic, split=split_name or "retain")
