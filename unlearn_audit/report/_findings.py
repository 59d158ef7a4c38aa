"""``Finding``: the outcome of one threshold check on one model (data only; checks live in ``audit``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

__all__ = ["Status", "Finding"]


class Status(str, Enum):
    """Outcome of a check. ``SKIP`` = not applicable (the metric could not be computed; ``why`` says why)."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One check applied to one model.

    Attributes:
        check: the check's compact form, e.g. ``"eo:abs<=5"``.
        metric: metric key (``METRIC_INFO``), e.g. ``"EO"``.
        model: the audited model's name (mean over seeds when several).
        status: PASS / WARN / FAIL / SKIP.
        value: the quantity compared with the bound (e.g. the absolute delta), or ``None``.
        bound: the bound it was compared with (after noise widening), or ``None``.
        reference: what it was compared against (``"retrain"``, ``"original"``, ...), or ``None`` for absolute checks.
        reference_value: the reference model's metric value, or ``None``.
        model_value: the model's metric value, or ``None``.
        why: one human sentence explaining the outcome.
    """

    check: str
    metric: str
    model: str
    status: Status
    value: float | None = None
    bound: float | None = None
    reference: str | None = None
    reference_value: float | None = None
    model_value: float | None = None
    why: str = ""

    @property
    def margin(self) -> float | None:
        """``bound - value`` (positive = inside the bound) when both exist."""
        if self.value is None or self.bound is None:
            return None
        return self.bound - self.value

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        return cls(**{**d, "status": Status(d["status"])})
