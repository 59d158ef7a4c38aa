"""``ModelMetrics``: every metric of one model, with the reason for each one that does not apply."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from .._json import json_safe
from ._fairness_gap import FairnessGap
from ._info import METRIC_INFO

__all__ = ["ModelMetrics", "SAMPLE_KEYS"]

#: The per-sample outcomes ``evaluate`` keeps (``ModelMetrics.samples``): ``<split>.correct`` (bool, argmax ==
#: label) for retain / forget / test / val, ``test.pred`` (int64), ``forget.loss`` / ``test.loss`` (float32
#: cross-entropy), ``forget.mia_nonmember`` (bool: the default attacker calls the sample non-member),
#: ``forget.mia_score`` / ``test.mia_score`` (float64 member probability), ``attack.index`` (int64 test indices
#: attacked; absent = the whole test split) and ``fgsm.correct`` / ``pgd.correct`` (bool, under attack at ``eps``).
SAMPLE_KEYS = ("retain.correct", "forget.correct", "test.correct", "val.correct", "test.pred", "forget.loss",
               "test.loss", "forget.mia_nonmember", "forget.mia_score", "test.mia_score", "attack.index",
               "fgsm.correct", "pgd.correct")


@dataclass
class ModelMetrics:
    """Metric values of one model (percent where the papers use percent; see ``METRIC_INFO``).

    A metric key is in exactly one of ``values`` (computed) and ``not_applicable`` (could not be computed, with the
    human reason -- never a silent 0 or NaN), or absent when the ``MetricConfig`` did not ask for it.

    Attributes:
        values: metric key -> finite float.
        not_applicable: metric key -> why it does not apply.
        group_acc: test accuracy (%) per group present in the test split, keyed ``"y=<y>,a=<a>"``.
        group_counts: test samples per group (every group, zeros included).
        fairness_gap: per-layer fairness-gap, or ``None`` when not applicable.
        adversarial: ``{"fgsm": {eps: acc}, "pgd": {eps: acc}}``, test accuracy (%) per budget
            (keys ``f"{eps:.6g}"``).
        mia: details per MIA protocol (``"efficacy"``, ``"grmu"``, ``"svc"``, ``"loss_threshold"``).
        config: the ``MetricConfig`` used, as ``MetricConfig.to_dict()``.
        notes: remarks on the run (groups without test samples, attacked subset size, ...).
        samples: the per-sample outcomes every metric is derived from (numpy arrays, keys in ``SAMPLE_KEYS``),
            which the audit's bootstrap resamples; cached with the metrics, not part of ``to_dict``.
    """

    values: dict[str, float] = field(default_factory=dict)
    not_applicable: dict[str, str] = field(default_factory=dict)
    group_acc: dict[str, float] = field(default_factory=dict)
    group_counts: dict[str, int] = field(default_factory=dict)
    fairness_gap: FairnessGap | None = None
    adversarial: dict[str, dict[str, float]] = field(default_factory=dict)
    mia: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def set(self, key: str, value: float | None, *, reason_if_nan: str) -> None:
        """Store ``value`` under ``key``, or mark ``key`` not applicable with the reason when it is NaN/None."""
        if key not in METRIC_INFO:
            raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRIC_INFO)}")
        if value is None or not math.isfinite(float(value)):
            self.mark_not_applicable(key, reason_if_nan)
        else:
            self.values[key] = float(value)
            self.not_applicable.pop(key, None)

    def mark_not_applicable(self, key: str, reason: str) -> None:
        """Record that ``key`` does not apply, and why."""
        self.values.pop(key, None)
        self.not_applicable[key] = reason

    def __getitem__(self, key: str) -> float:
        """The value of ``key``.

        Raises:
            KeyError: the metric is not applicable (the message gives the reason), was not requested, or is unknown.
        """
        if key in self.values:
            return self.values[key]
        if key in self.not_applicable:
            raise KeyError(f"{key} is not applicable: {self.not_applicable[key]}")
        if key not in METRIC_INFO:
            raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRIC_INFO)}")
        raise KeyError(f"{key} was not computed (not requested by the metric config)")

    def get(self, key: str, default: Any = None) -> Any:
        """``values.get(key, default)``."""
        return self.values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def keys(self):
        return self.values.keys()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN -> ``None``); ``ModelMetrics.from_dict(m.to_dict()) == m`` for engine output."""
        return json_safe({"values": self.values, "not_applicable": self.not_applicable, "group_acc": self.group_acc,
                          "group_counts": self.group_counts,
                          "fairness_gap": self.fairness_gap.to_dict() if self.fairness_gap else None,
                          "adversarial": self.adversarial, "mia": self.mia, "config": self.config,
                          "notes": self.notes})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelMetrics":
        """Inverse of ``to_dict``."""
        fg = d.get("fairness_gap")
        return cls(values={k: float(v) for k, v in d.get("values", {}).items() if v is not None},
                   not_applicable={k: str(v) for k, v in d.get("not_applicable", {}).items()},
                   group_acc={k: float(v) for k, v in d.get("group_acc", {}).items()},
                   group_counts={k: int(v) for k, v in d.get("group_counts", {}).items()},
                   fairness_gap=FairnessGap.from_dict(fg) if fg else None,
                   adversarial={k: {e: float(a) for e, a in v.items()} for k, v in d.get("adversarial", {}).items()},
                   mia=dict(d.get("mia", {})), config=dict(d.get("config", {})), notes=list(d.get("notes", [])))
