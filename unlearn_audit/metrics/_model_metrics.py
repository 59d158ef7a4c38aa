"""``ModelMetrics``: every metric of one model, with the reason for each one that does not apply."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._fairness_gap import FairnessGap

__all__ = ["ModelMetrics"]


@dataclass
class ModelMetrics:
    """Metric values of one model (percent where the papers use percent).

    Attributes:
        values: metric key (see ``METRIC_INFO``) -> value.
        not_applicable: metric key -> why it could not be computed (never a silent 0 or NaN).
        group_acc: test accuracy (%) per group, keyed ``"y=<y>,a=<a>"``.
        group_counts: test samples per group.
        fairness_gap: per-layer fairness-gap, or ``None``.
        adversarial: ``{"fgsm": {eps: acc}, "pgd": {eps: acc}}`` on the test split (eps formatted ``%.6g``).
        mia: details of each MIA protocol.
        config: the ``MetricConfig`` used, as a dict.
    """

    values: dict[str, float] = field(default_factory=dict)
    not_applicable: dict[str, str] = field(default_factory=dict)
    group_acc: dict[str, float] = field(default_factory=dict)
    group_counts: dict[str, int] = field(default_factory=dict)
    fairness_gap: FairnessGap | None = None
    adversarial: dict[str, dict[str, float]] = field(default_factory=dict)
    mia: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def set(self, key: str, value: float, *, reason_if_nan: str) -> None:
        """Store ``value`` under ``key``, or mark ``key`` not applicable with the reason when it is NaN."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            self.not_applicable[key] = reason_if_nan
            self.values.pop(key, None)
        else:
            self.values[key] = float(value)
            self.not_applicable.pop(key, None)

    def __getitem__(self, key: str) -> float:
        if key in self.values:
            return self.values[key]
        if key in self.not_applicable:
            raise KeyError(f"{key} is not applicable: {self.not_applicable[key]}")
        raise KeyError(f"{key} was not computed (not requested by the metric config)")

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def to_dict(self) -> dict[str, Any]:
        return {"values": dict(self.values), "not_applicable": dict(self.not_applicable),
                "group_acc": dict(self.group_acc), "group_counts": dict(self.group_counts),
                "fairness_gap": self.fairness_gap.to_dict() if self.fairness_gap else None,
                "adversarial": {k: dict(v) for k, v in self.adversarial.items()}, "mia": dict(self.mia),
                "config": dict(self.config)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelMetrics":
        fg = d.get("fairness_gap")
        return cls(values={k: float(v) for k, v in d.get("values", {}).items() if v is not None},
                   not_applicable=dict(d.get("not_applicable", {})), group_acc=dict(d.get("group_acc", {})),
                   group_counts={k: int(v) for k, v in d.get("group_counts", {}).items()},
                   fairness_gap=FairnessGap.from_dict(fg) if fg else None,
                   adversarial={k: dict(v) for k, v in d.get("adversarial", {}).items()}, mia=dict(d.get("mia", {})),
                   config=dict(d.get("config", {})))
