"""The summary table as data: the one table model every renderer (terminal, HTML, Markdown checklist) draws.

``summary_rows`` gives one ``SummaryRow`` per audited model and one ``SummaryCell`` per metric column: the mean
(± std) over the seeds that ran, Δ vs the row's reference (``_compare.compare``, the one definition of a
difference) with its interval's half-width, and the worst finding on that model and metric. The formatting
helpers (``fmt_value``, ``fmt_delta``...) and the status marks live here too, so every output prints the same
numbers the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..metrics._info import METRIC_INFO
from ._compare import compare
from ._findings import Finding, Status

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport

__all__ = ["COLUMNS", "COMPACT_COLUMNS", "GAP_KEYS", "SummaryCell", "SummaryRow", "summary_rows", "metric_label",
           "metric_direction", "metric_description", "metric_unit", "metric_arrow", "fmt_value", "fmt_delta",
           "fmt_std", "fmt_number", "worst_status", "status_mark", "status_word", "seeds_of", "references_of",
           "verdict_line", "ROLE_ORDER", "ROLE_LABEL", "MARKS"]

#: metric columns of the summary table, in order (``avg gap`` follows them)
COLUMNS: tuple[str, ...] = ("RA", "UA", "TA", "MIA", "EO", "GA", "WG", "FG", "FGSM", "PGD")
#: the keys ``AuditReport.gap`` averages into Avg. Gap (De Min et al. 2025, Eq. 12)
GAP_KEYS: tuple[str, ...] = ("RA", "UA", "TA", "MIA", "EO", "GA")
#: the columns of the compact layout (narrow terminals): the Avg. Gap metrics and FGSM; the rest are in the HTML
COMPACT_COLUMNS: tuple[str, ...] = ("RA", "UA", "TA", "MIA", "EO", "GA", "FGSM")
ROLE_ORDER = {"original": 0, "reference": 1, "method": 2, "user": 3}
ROLE_LABEL = {"original": "original", "reference": "reference", "method": "suite method", "user": "your method"}
_SEVERITY = {Status.FAIL: 4, Status.INCONCLUSIVE: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}
MARKS = {Status.PASS: "✓", Status.WARN: "!", Status.INCONCLUSIVE: "?", Status.FAIL: "✗", Status.SKIP: "-"}

def _info(key: str) -> tuple[str, bool | None, str, str]:
    """(label, higher_is_better, unit, description) of a metric key from ``METRIC_INFO``; the key itself when
    unknown (a user's custom metric)."""
    info = METRIC_INFO.get(key)
    if info is None:
        return key, None, "", ""
    return info.label, info.higher_is_better, info.unit, info.description


def metric_label(key: str) -> str:
    """Human label of a metric key (``"EO"`` → ``"equalized odds"``)."""
    return _info(key)[0]


def metric_direction(key: str) -> bool | None:
    """``True`` higher is better, ``False`` lower is better, ``None`` closeness to the reference matters."""
    return _info(key)[1]


def metric_unit(key: str) -> str:
    return _info(key)[2]


def metric_description(key: str) -> str:
    return _info(key)[3]


def metric_arrow(key: str) -> str:
    """``"↑"`` higher is better, ``"↓"`` lower is better, ``""`` closeness to the reference matters."""
    return {True: "↑", False: "↓", None: ""}[metric_direction(key)]


# ---------------------------------------------------------------------------------------------------- formatting
def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_value(key: str, v: float | None) -> str:
    """A metric value: one decimal for percentages, three significant digits otherwise.

    Non-percentage values outside [1e-3, 1e4) use scientific notation (``"1.23e+07"``) so that a
    diverged fairness gap or loss never widens or truncates a table column.
    """
    if not _finite(v):
        return "—"
    if metric_unit(key) != "%" and v != 0 and not 1e-3 <= abs(v) < 1e4:
        return f"{v:.3g}"
    return f"{v:.{_decimals(key, v)}f}"


def _decimals(key: str, like: float | None) -> int:
    """Decimals that match ``fmt_value`` of ``like``: 1 for percentages, else 3 significant digits of ``like``."""
    if metric_unit(key) == "%":
        return 1
    if not _finite(like) or like == 0:
        return 3
    return max(0, 2 - math.floor(math.log10(abs(like))))


def fmt_delta(key: str, d: float | None, *, like: float | None = None) -> str:
    """A signed difference in the metric's unit, to the precision of the value ``like`` (``"+1.2"``)."""
    if not _finite(d):
        return ""
    if metric_unit(key) != "%" and like is None:
        return f"{d:+.2g}"
    out = f"{d:+.{_decimals(key, like)}f}"
    return out.replace("-", "+") if float(out) == 0 else out  # no "-0.0"


def fmt_std(key: str, mean: float | None, std: float) -> str:
    """A standard deviation to the precision of its mean."""
    return f"{std:.{_decimals(key, mean)}f}" if _finite(std) else "—"


def fmt_number(v: Any) -> str:
    """Any number for the findings tables (value, bound, margin)."""
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}" if abs(v) >= 1000 or (v != 0 and abs(v) < 0.01) else f"{v:.2f}"


def worst_status(statuses: Iterable[Status]) -> Status | None:
    """FAIL > INCONCLUSIVE > WARN > PASS > SKIP; ``None`` for no status."""
    out = None
    for s in statuses:
        s = Status(s)
        if out is None or _SEVERITY[s] > _SEVERITY[out]:
            out = s
    return out


def status_mark(status: Status | None) -> str:
    """The one-character mark of a status: ✓ PASS, ! WARN, ? INCONCLUSIVE, ✗ FAIL, - SKIP (``""`` for none)."""
    return "" if status is None else MARKS[Status(status)]


def status_word(status: Status) -> str:
    """``"✓ PASS"``: mark and word, readable without colour."""
    return f"{MARKS[Status(status)]} {Status(status).value}"


# ---------------------------------------------------------------------------------------------------- table model
@dataclass
class SummaryCell:
    """One metric of one model: mean (± std) over the seeds that produced it, and Δ vs the row's reference."""

    key: str
    mean: float | None = None
    std: float = 0.0
    n: int = 0
    delta: float | None = None
    delta_ci: float | None = None  # half-width of Δ's confidence interval
    status: Status | None = None
    findings: list[Finding] = field(default_factory=list)
    not_applicable: str | None = None

    @property
    def text(self) -> str:
        """``"93.1"`` or ``"93.1 ±0.4"`` (several seeds)."""
        if self.mean is None:
            return "n/a" if self.not_applicable else "—"
        s = fmt_value(self.key, self.mean)
        return f"{s} ±{fmt_std(self.key, self.mean, self.std)}" if self.n > 1 else s

    @property
    def delta_text(self) -> str:
        """``"Δ-1.2"`` (empty when there is no reference) followed by the status mark."""
        d = fmt_delta(self.key, self.delta, like=self.mean)
        if d and self.delta_ci is not None:
            d += f"±{fmt_std(self.key, self.mean or 0.0, self.delta_ci)}"
        parts = [f"Δ{d}" if d else "", status_mark(self.status) if self.status is not Status.SKIP else ""]
        return " ".join(p for p in parts if p)

    @property
    def why(self) -> str:
        """Tooltip text: the findings' explanations, or why the metric is not applicable."""
        lines = [f"{f.status.value} {f.check}: {f.why}".strip() for f in self.findings]
        if self.not_applicable:
            lines.append(f"not applicable: {self.not_applicable}")
        return "\n".join(lines)


@dataclass
class SummaryRow:
    """One audited model (all its seeds)."""

    name: str
    role: str
    reference: str | None
    seeds: list[int]
    cells: dict[str, SummaryCell]
    avg_gap: float | None = None
    failures: list[tuple[int, str]] = field(default_factory=list)  # (seed, error) of every failed seed
    findings: list[Finding] = field(default_factory=list)  # every finding on this model
    is_user: bool = False

    @property
    def failed(self) -> bool:
        """Every seed failed (no metric at all)."""
        return bool(self.failures) and len(self.failures) == len(self.seeds)

    @property
    def status(self) -> Status | None:
        """Worst finding on this model; FAIL when a seed failed."""
        if self.failures:
            return Status.FAIL
        return worst_status(f.status for f in self.findings)

    @property
    def role_label(self) -> str:
        return ROLE_LABEL.get(self.role, self.role)

    @property
    def checks_text(self) -> str:
        """``"✓ 6/6"`` / ``"✗ 2/7"``: worst status and how many findings carry it, excluding SKIPs."""
        counted = [f for f in self.findings if f.status is not Status.SKIP]
        if self.failures and not counted:
            return "✗ failed"
        if not counted:
            return ""
        worst = worst_status(f.status for f in counted)
        n = sum(f.status is worst for f in counted)
        return f"{status_mark(worst)} {n}/{len(counted)}"


def seeds_of(report: "AuditReport") -> list[int]:
    """Every seed that appears in the report, sorted."""
    return sorted({r.seed for r in report.rows})


def references_of(report: "AuditReport") -> list[str]:
    """Reference models (role ``reference``) plus every reference a row names, in first-appearance order."""
    names = [r.name for r in report.rows if r.role == "reference"] + [r.reference for r in report.rows if r.reference]
    return list(dict.fromkeys(names))


def _ordered_names(report: "AuditReport") -> list[str]:
    names = report.model_names()
    role = {n: report.records(n)[0].role for n in names}
    if report.user_method in role:
        role[report.user_method] = "user"
    return sorted(names, key=lambda n: (ROLE_ORDER.get(role[n], 2), names.index(n)))


def _gaps(report: "AuditReport") -> dict[str, dict[str, float]]:
    try:
        return report.gap()
    except Exception:  # noqa: BLE001 - a report must render even if a gap cannot be computed
        return {}


def summary_rows(report: "AuditReport", columns: Sequence[str] = COLUMNS) -> list[SummaryRow]:
    """The summary table as data: one row per model (original, references, suite methods, the user's method)."""
    summary = report.summary()
    gaps = _gaps(report)
    findings: dict[str, list[Finding]] = {}
    for f in report.findings:
        findings.setdefault(f.model, []).append(f)
    rows: list[SummaryRow] = []
    for name in _ordered_names(report):
        recs = report.records(name)
        ok = [r for r in recs if r.status == "ok" and r.metrics]
        role = "user" if (name == report.user_method or recs[0].role == "user") else recs[0].role
        reference = next((r.reference for r in recs if r.reference), None)
        na: dict[str, str] = {}
        for r in ok:
            for k, why in r.not_applicable.items():
                na.setdefault(k, why)
        model_findings = findings.get(name, [])
        cells = {}
        for key in columns:
            stats = summary.get(name, {}).get(key)
            cell = SummaryCell(key=key, not_applicable=na.get(key) if stats is None else None)
            if stats is not None:
                cell.mean, cell.std, cell.n = stats["mean"], stats["std"], int(stats["n"])
            comp = compare(report, name, reference, key) if reference and stats is not None else None
            if comp is not None and _finite(comp.delta.estimate):  # the one Δ definition (``_compare``)
                cell.delta = comp.delta.estimate
                cell.delta_ci = comp.delta.half_width if _finite(comp.delta.half_width) else None
            cell.findings = [f for f in model_findings if f.metric == key]
            cell.status = worst_status(f.status for f in cell.findings)
            cells[key] = cell
        avg = gaps.get(name, {}).get("avg_gap")
        rows.append(SummaryRow(name=name, role=role, reference=reference, seeds=sorted(r.seed for r in recs),
                               cells=cells, avg_gap=float(avg) if _finite(avg) else None,
                               failures=[(r.seed, r.error or "failed without an error message")
                                         for r in recs if r.status != "ok"],
                               findings=model_findings, is_user=role == "user"))
    return rows


def verdict_line(report: "AuditReport") -> str:
    """``"FAIL: 2 of 14 checks failed, 1 inconclusive, ..."`` (``AuditReport.verdict_line``, the same everywhere)."""
    return report.verdict_line()
