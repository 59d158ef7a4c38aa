"""``Finding``: the outcome of one threshold check on one model (data only; checks live in ``audit``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any, Literal

__all__ = ["Status", "Finding", "INCONCLUSIVE_POLICIES", "gate_status", "check_policy"]


class Status(str, Enum):
    """Outcome of a check.

    - ``PASS``: the whole confidence interval of the checked quantity is inside the bound (compliance shown);
    - ``FAIL``: the whole interval is outside (a violation shown), or the model failed to run;
    - ``INCONCLUSIVE``: the interval straddles the bound: the data cannot tell (``Finding.decide`` says what would);
    - ``WARN``: shown inside the bound, but within the check's ``warn_margin`` of it;
    - ``SKIP``: not applicable (the metric could not be computed; ``why`` says why).
    """

    PASS = "PASS"
    WARN = "WARN"
    INCONCLUSIVE = "INCONCLUSIVE"
    FAIL = "FAIL"
    SKIP = "SKIP"


#: How an INCONCLUSIVE finding gates (``--unlearn-inconclusive``): as a WARN (default), a FAIL, or a PASS.
INCONCLUSIVE_POLICIES = ("warn", "fail", "pass")


def check_policy(policy: Any, *, source: str = "inconclusive") -> str:
    """``policy`` lower-cased if it is one of ``INCONCLUSIVE_POLICIES``, else a ``ValueError`` naming ``source``."""
    text = policy.strip().lower() if isinstance(policy, str) else policy
    if text not in INCONCLUSIVE_POLICIES:
        raise ValueError(f"{source}: expected one of {', '.join(INCONCLUSIVE_POLICIES)} (how an INCONCLUSIVE check "
                         f"gates), got {policy!r}")
    return text


def gate_status(status: Status, policy: str = "warn") -> Status:
    """The status a finding gates with: INCONCLUSIVE becomes WARN / FAIL / PASS by ``policy``; others unchanged."""
    if status is not Status.INCONCLUSIVE:
        return status
    return {"warn": Status.WARN, "fail": Status.FAIL, "pass": Status.PASS}[check_policy(policy)]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One check applied to one model.

    Attributes:
        check: the check's compact form, e.g. ``"eo:abs<=5"``.
        metric: metric key (``METRIC_INFO``), e.g. ``"EO"``.
        model: the audited model's name (mean over seeds when several).
        status: PASS / WARN / INCONCLUSIVE / FAIL / SKIP.
        value: the point estimate of the checked quantity (e.g. ``|ΔEO|``), or ``None``.
        bound: the bound it is compared with, or ``None``.
        lo, hi: the confidence interval of the checked quantity at ``level``, or ``None``.
        level: the interval's confidence level (0.95 = 95%).
        direction: ``"at_most"`` (the claim is ``value <= bound``) or ``"at_least"`` (``value >= bound``).
        reference: what it was compared against (``"retrain"``, ``"original"``, ...), or ``None`` for absolute checks.
        reference_value: the reference model's metric value (mean over its seeds), or ``None``.
        model_value: the model's metric value (mean over its seeds), or ``None``.
        why: one human sentence explaining the outcome.
        decide: for INCONCLUSIVE, what would decide it (more samples / seeds); else ``""``.
        interval: how the interval was computed (variance components, degrees of freedom), for the report.
    """

    check: str
    metric: str
    model: str
    status: Status
    value: float | None = None
    bound: float | None = None
    lo: float | None = None
    hi: float | None = None
    level: float | None = None
    direction: Literal["at_most", "at_least"] = "at_most"
    reference: str | None = None
    reference_value: float | None = None
    model_value: float | None = None
    why: str = ""
    decide: str = ""
    interval: dict[str, Any] | None = None

    @property
    def margin(self) -> float | None:
        """Distance of the point estimate from the bound, positive = inside (``bound - value`` for ``at_most``,
        ``value - bound`` for ``at_least``)."""
        if self.value is None or self.bound is None:
            return None
        return self.bound - self.value if self.direction == "at_most" else self.value - self.bound

    @property
    def half_width(self) -> float | None:
        """Half the width of the interval, or ``None``."""
        if self.lo is None or self.hi is None:
            return None
        return (self.hi - self.lo) / 2.0

    def gate(self, policy: str = "warn") -> Status:
        """The status this finding gates CI with (see ``gate_status``)."""
        return gate_status(self.status, policy)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in known}, "status": Status(d["status"])})
