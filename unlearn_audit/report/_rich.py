"""The audit summary as a rich table (terminal, logs, pytest's terminal writer).

The table *model* (``summary_rows``: one ``SummaryRow`` per audited model, one ``SummaryCell`` per metric column,
Δ vs the row's reference and the worst finding on that model and metric) is computed here from the report's data
and shared with the HTML and Markdown renderers, so the three reports always show the same numbers.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ._compare import compare
from ._findings import Finding, Status

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport

__all__ = ["COLUMNS", "GAP_KEYS", "SummaryCell", "SummaryRow", "summary_rows", "render_table", "render_text",
           "metric_label", "metric_direction", "metric_description", "metric_unit", "fmt_value", "fmt_delta",
           "fmt_std", "fmt_number", "findings_table",
           "worst_status", "status_mark", "seeds_of", "references_of", "verdict_line", "ROLE_ORDER", "ROLE_LABEL"]

#: metric columns of the summary table, in order (``avg gap`` follows them)
COLUMNS: tuple[str, ...] = ("RA", "UA", "TA", "MIA", "EO", "GA", "WG", "FG", "FGSM", "PGD")
#: the keys ``AuditReport.gap`` averages into Avg. Gap (seed 004, Eq. 12)
GAP_KEYS: tuple[str, ...] = ("RA", "UA", "TA", "MIA", "EO", "GA")
ROLE_ORDER = {"original": 0, "reference": 1, "method": 2, "user": 3}
ROLE_LABEL = {"original": "original", "reference": "reference", "method": "suite method", "user": "your method"}
_SEVERITY = {Status.FAIL: 4, Status.INCONCLUSIVE: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}
_MARK = {Status.PASS: "✓", Status.WARN: "!", Status.INCONCLUSIVE: "?", Status.FAIL: "✗", Status.SKIP: "-"}
_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.INCONCLUSIVE: "bold magenta", Status.FAIL: "bold red",
          Status.SKIP: "dim"}

# Used only while ``unlearn_audit.metrics._info`` cannot be imported:
# key -> (label, higher_is_better, unit, description)
_FALLBACK_INFO: dict[str, tuple[str, bool | None, str, str]] = {
    "RA": ("retain acc", True, "%", "accuracy on the retain set"),
    "FA": ("forget acc", None, "%", "accuracy on the forget set"),
    "UA": ("unlearn acc", None, "%", "100 - forget accuracy"),
    "TA": ("test acc", True, "%", "accuracy on the test split"),
    "VA": ("val acc", True, "%", "accuracy on the validation split"),
    "MIA": ("MIA efficacy", None, "%", "share of the forget set a membership-inference attack calls non-member"),
    "EO": ("equalized odds", False, "%", "equalized-odds difference around the dominant group"),
    "GA": ("dominant-group acc", True, "%", "test accuracy on the dominant forget group(s)"),
    "WG": ("worst-group acc", True, "%", "minimum test accuracy over (label, attribute) groups"),
    "FG": ("fairness-gap", False, "", "mean over normalization layers of the spread of per-class variances"),
    "FGSM": ("FGSM acc", True, "%", "test accuracy under a one-step FGSM attack"),
    "PGD": ("PGD acc", True, "%", "test accuracy under a PGD attack"),
}


def _info(key: str) -> tuple[str, bool | None, str, str]:
    try:
        from ..metrics._info import METRIC_INFO
    except ImportError:  # pragma: no cover - only while the metrics package is missing
        METRIC_INFO = {}
    info = METRIC_INFO.get(key)
    if info is not None:
        return info.label, info.higher_is_better, info.unit, info.description
    return _FALLBACK_INFO.get(key, (key, None, "", ""))


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


def _arrow(key: str) -> str:
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
    return "" if status is None else _MARK[Status(status)]


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


def _caption(report: "AuditReport", rows: list[SummaryRow]) -> str:
    refs: dict[str, list[str]] = {}
    for row in rows:
        if row.reference:
            refs.setdefault(row.reference, []).append(row.name)
    seeds = seeds_of(report)
    if len(refs) == 1:
        delta = f"Δ = difference to {next(iter(refs))}"
    elif refs:
        delta = "Δ = difference to the row's reference: " + "; ".join(
            f"{ref} for {', '.join(names)}" for ref, names in refs.items())
    else:
        delta = "no Δ: no model names a reference"
    multi = " (value ±std over seeds)" if any(len(r.seeds) > 1 for r in rows) else ""
    level = (report.uncertainty or {}).get("level", 0.95)
    return (f"References: {', '.join(references_of(report)) or 'none'} · {delta} · "
            f"seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds)) or '—'}{multi} · "
            f"↑ higher is better, ↓ lower is better, no arrow: closeness to the reference matters · "
            f"each check's {level:.0%} confidence interval (bootstrap over evaluation samples + training-seed "
            f"spread) is in the Checks table · ✓ pass (interval inside the bound)  ? inconclusive (interval straddles it)  "
            f"! warn  ✗ fail (interval outside) · checks: the model's worst status and how many of its checks have it · "
            f"avg gap = 100 − mean |Δ| over {', '.join(GAP_KEYS)} (100 = indistinguishable from the reference)")


# ---------------------------------------------------------------------------------------------------- rich
def _cell_lines(cell: SummaryCell, *, marks: bool) -> list[str]:
    """Up to three lines: ``"93.1 ✓"`` (value and status mark), ``"±0.2"`` (several seeds), ``"Δ-1.2"``."""
    first = fmt_value(cell.key, cell.mean) if cell.mean is not None else ("n/a" if cell.not_applicable else "—")
    if marks:
        mark = status_mark(cell.status) if cell.status not in (None, Status.SKIP) else ""
        first += " " + (mark or " ")
    lines = [first]
    if cell.mean is not None and cell.n > 1:
        lines.append("±" + fmt_std(cell.key, cell.mean, cell.std) + ("  " if marks else ""))
    if cell.delta is not None:
        lines.append("Δ" + fmt_delta(cell.key, cell.delta, like=cell.mean) + ("  " if marks else ""))
    return lines


def render_table(report: "AuditReport", *, width: int | None = None) -> Any:
    """The summary as a rich renderable: the table, then one line per failed model and seed with its error.

    Each metric cell holds the mean over seeds with its status mark (✓ pass, ! warn, ✗ fail, coloured green /
    yellow / red), ``±std`` when there are several seeds, and ``Δ`` = the mean paired difference to the row's
    reference. It fits 120 columns and stays readable without colour (marks carry the status).

    Args:
        report: the audit report.
        width: fix the table width (e.g. 120 for logs); ``None`` lets the console decide.
    """
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    rows = summary_rows(report)
    verdict = report.verdict
    title = Text.assemble(("Unlearning audit: ", "bold"), (verdict_line(report), _STYLE[verdict]))
    table = Table(title=title, caption=_caption(report, rows), caption_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1, 0, 0), pad_edge=False, show_edge=False, width=width, header_style="bold",
                  caption_style="dim", collapse_padding=True)
    table.add_column("model", min_width=16, max_width=24, overflow="fold")
    marked = {key: any(row.cells[key].status not in (None, Status.SKIP) for row in rows) for key in COLUMNS}
    for key in COLUMNS:
        table.add_column(f"{key}{_arrow(key)}" + ("  " if marked[key] else ""), justify="right", no_wrap=True)
    table.add_column("avg\ngap", justify="right", no_wrap=True)
    table.add_column("checks", justify="left", no_wrap=True)

    for i, row in enumerate(rows):
        name = Text(("★ " if row.is_user else "") + row.name,
                    style="bold magenta" if row.is_user else ("bold" if row.role == "original" else ""))
        name.append(f"\n{row.role_label}", style="dim")
        if row.reference:
            name.append(f"\nvs {row.reference}", style="dim")
        if row.failures:
            name.append("\nFAILED" if row.failed else f"\n{len(row.failures)} seed(s) FAILED", style="bold red")
        cells = []
        for key in COLUMNS:
            cell = row.cells[key]
            style = _STYLE[cell.status] if cell.status else ""
            first, *rest = _cell_lines(cell, marks=marked[key])
            t = Text(first, style=style)
            for line in rest:
                t.append("\n" + line, style="dim")
            cells.append(t)
        gap = Text(f"{row.avg_gap:.1f}" if row.avg_gap is not None else "—")
        checks = Text(row.checks_text, style=_STYLE[row.status] if row.status else "")
        last_of_role = i + 1 == len(rows) or rows[i + 1].role != row.role
        table.add_row(name, *cells, gap, checks, end_section=last_of_role)

    notes: list[Any] = []
    for row in rows:
        for seed, error in row.failures:
            notes.append(Text.assemble((f"✗ {row.name} (seed {seed}) failed: ", "bold red"), error.strip()))
    checks = findings_table(report, width=width)
    if checks is not None:
        notes.append(checks)
    return Group(table, *notes) if notes else table


def findings_table(report: "AuditReport", *, width: int | None = None) -> Any:
    """The checks as a rich table: status, check, model, the estimate with its interval, the bound and why (what
    would decide an INCONCLUSIVE one). ``None`` without findings."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not report.findings:
        return None
    level = (report.uncertainty or {}).get("level", 0.95)
    t = Table(title=Text(f"Checks ({level:.0%} confidence intervals)", style="bold"), box=box.SIMPLE_HEAD,
              show_edge=False, pad_edge=False, width=width, header_style="bold", title_justify="left")
    t.add_column("status", no_wrap=True)
    t.add_column("check", overflow="fold")
    t.add_column("model", overflow="fold", max_width=18)
    t.add_column("estimate [CI]", justify="right", no_wrap=True)
    t.add_column("bound", justify="right", no_wrap=True)
    t.add_column("why / what would decide", overflow="fold", ratio=1)
    for f in report.findings:
        rel = f.check.split(",")[0].split(":")[1].startswith("rel") if ":" in f.check else False
        num = (lambda x: f"{x:.1%}") if rel else (lambda x: fmt_number(x))
        est = "—" if f.value is None else num(f.value)
        if f.lo is not None and f.hi is not None:
            est += f" [{num(f.lo)}, {num(f.hi)}]"
        op = ">=" if f.direction == "at_least" else "<="
        bound = "—" if f.bound is None else f"{op} {num(f.bound)}"
        why = f.decide or f.why
        t.add_row(Text(f"{_MARK[f.status]} {f.status.value}", style=_STYLE[f.status]), f.check, f.model, est,
                  bound, why)
    return t


def render_text(report: "AuditReport", width: int = 120, *, color: bool = False) -> str:
    """The table as a string (no colour codes unless ``color``), for logs and pytest's terminal writer."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system="standard" if color else None, force_terminal=color,
                      no_color=not color, highlight=False, emoji=False, legacy_windows=False)
    console.print(render_table(report))
    return buf.getvalue()
