"""``--unlearn-baseline`` / ``--unlearn-save-baseline``: this session's audit against a saved one.

The comparison is the library's (``unlearn_audit.report.compare_reports``: per model and metric, old vs new with
intervals; a regression FAILs only when significant and beyond ``--unlearn-max-regression``). With
``--unlearn-audit`` it gates CI through the item ``unlearn_audit::baseline``; the terminal summary prints it.
A baseline of other data or another forget request, or an unreadable file, fails that item with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .assertions import AuditCheckError

if TYPE_CHECKING:  # pragma: no cover
    from unlearn_audit.report import AuditReport, BaselineComparison

__all__ = ["BASELINE_ID", "BaselineOutcome", "compare_with_baseline", "run_baseline_check", "save_baseline",
           "summary_lines"]

BASELINE_ID = "baseline"


@dataclass
class BaselineOutcome:
    """The comparison, or why there is none (``error``), and where the baseline came from."""

    source: str
    path: Path
    comparison: "BaselineComparison | None" = None
    error: str = ""


def compare_with_baseline(report: "AuditReport", path: Path, source: str,
                          max_regression: dict[str, float] | None) -> BaselineOutcome:
    """``report`` against the baseline at ``path`` (never raises: a problem is the outcome's ``error``)."""
    from unlearn_audit.report import AuditReport, BaselineMismatch, compare_reports

    out = BaselineOutcome(source=source, path=path)
    if not path.is_file():
        out.error = f"{source}: no such file {str(path)!r} (save one with --unlearn-save-baseline=PATH)"
        return out
    try:
        old = AuditReport.from_json(path)
        out.comparison = compare_reports(old, report, max_regression=max_regression)
    except BaselineMismatch as exc:
        out.error = f"{source}: the baseline {str(path)!r} cannot be compared with this audit: {exc}"
    except ValueError as exc:
        out.error = f"{source}: {str(path)!r} is not a readable unlearn-audit report ({exc})"
    return out


def run_baseline_check(outcome: BaselineOutcome | None, fail_on: str) -> None:
    """The body of ``unlearn_audit::baseline``."""
    __tracebackhide__ = True
    if outcome is None:
        pytest.skip("no baseline given (--unlearn-baseline=PATH)")
    if outcome.error:
        pytest.fail(outcome.error, pytrace=False)
    from unlearn_audit.report._baseline import render_comparison

    cmp = outcome.comparison
    assert cmp is not None
    failing = ("FAIL", "WARN") if fail_on == "warn" else ("FAIL",)
    if cmp.verdict.value in failing:
        raise AuditCheckError(f"{cmp.verdict_line()} (baseline {outcome.path})\n" + render_comparison(cmp, width=100))
    if cmp.verdict.value == "WARN":
        import warnings

        from .assertions import UnlearnAuditWarning

        warnings.warn(UnlearnAuditWarning(f"against the baseline: {cmp.verdict_line()}"), stacklevel=2)


def save_baseline(report: "AuditReport", path: Path) -> Path:
    """Write ``report`` as the baseline at ``path`` (atomically)."""
    report.to_json(path)
    return path


def summary_lines(outcome: BaselineOutcome | None, width: int) -> list[str]:
    """What the terminal summary prints about the baseline."""
    if outcome is None:
        return []
    if outcome.error:
        return [f"unlearn-audit baseline: {outcome.error}"]
    from unlearn_audit.report._baseline import render_comparison

    assert outcome.comparison is not None
    return render_comparison(outcome.comparison, width=width).rstrip("\n").splitlines()

