"""Assertions over audit findings: a failing check raises an ``AssertionError`` whose message is a table.

The table has one row per finding (status, check, model, metric, value, bound, margin, the model's metric and
the reference's), followed by one "why" sentence per FAIL / WARN. ``__tracebackhide__`` keeps pytest's
traceback out of the way: the message is the explanation.

Torch-free: only ``unlearn_audit.report`` (plain dataclasses) is used, imported where needed.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from unlearn_audit.report import Finding

__all__ = ["AuditCheckError", "UnlearnAuditWarning", "assert_findings", "format_findings", "gated_status", "status_of"]


class AuditCheckError(AssertionError):
    """An audit check failed; ``findings`` holds every finding that was asserted (not only the failures)."""

    def __init__(self, message: str, findings: Sequence["Finding"] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


AuditCheckError.__module__ = "pytest_unlearn_audit"   # public name in failure reports


class UnlearnAuditWarning(UserWarning):
    """A check is inside its bound but within the warning margin (WARN), could not be decided at the confidence
    level (INCONCLUSIVE, with the default ``--unlearn-inconclusive=warn``), or could not be evaluated (SKIP)."""


UnlearnAuditWarning.__module__ = "pytest_unlearn_audit"


def _num(x: Any, *, signed: bool = False) -> str:
    if x is None:
        return "-"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return ("+" if signed and f > 0 else "") + ("inf" if f > 0 else "-inf")
    text = format(f, ("+" if signed else "") + (".4g" if abs(f) >= 1000 else ".2f"))
    return text.replace("-", "+" if signed else "", 1) if float(text) == 0 else text   # no "-0.00"


def status_of(f: "Finding") -> str:
    """``"PASS"``, ``"WARN"``, ``"FAIL"``, ``"INCONCLUSIVE"`` or ``"SKIP"``."""
    return getattr(f.status, "value", str(f.status))


def gated_status(f: "Finding", inconclusive: str = "warn") -> str:
    """The status ``f`` gates as: INCONCLUSIVE becomes WARN, FAIL or PASS by the ``inconclusive`` policy."""
    from unlearn_audit.report import Status, gate_status

    return gate_status(Status(status_of(f)), inconclusive).value


def format_findings(findings: Iterable["Finding"], *, title: str = "") -> str:
    """A plain-text table of ``findings`` (and their reasons), for failure messages and the terminal."""
    findings = list(findings)
    header = ("status", "check", "model", "metric", "value", "CI", "bound", "margin", "model value", "reference")
    rows = []
    for f in findings:
        ref = "-" if f.reference is None else (
            f.reference if f.reference_value is None else f"{f.reference} = {_num(f.reference_value)}")
        lo, hi = getattr(f, "lo", None), getattr(f, "hi", None)
        ci = "-" if lo is None or hi is None else f"[{_num(lo)}, {_num(hi)}]"
        rows.append((status_of(f), f.check, f.model, f.metric, _num(f.value), ci, _num(f.bound),
                     _num(f.margin, signed=True), _num(f.model_value), ref))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    numeric = {4, 6, 7, 8}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
                         ).rstrip()

    out = [title] if title else []
    out.append(line(header))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in rows)
    reasons = [f for f in findings if status_of(f) in ("FAIL", "WARN", "INCONCLUSIVE", "SKIP") and f.why]
    if reasons:
        out.append("")
        out.extend(f"{status_of(f)} {f.check} ({f.model}): {f.why}" for f in reasons)
    deciders = [f for f in findings if status_of(f) == "INCONCLUSIVE" and getattr(f, "decide", None)]
    if deciders:
        out.append("")
        out.extend(f"to decide {f.check} ({f.model}): {f.decide}" for f in deciders)
    return "\n".join(out)


def _reason(failed: Sequence["Finding"]) -> str:
    """The first line of a failure: the first failing check's reason, so pytest's one-line summary leads with
    it (``|ΔMIA| vs retrain = 13.6 ..., 95% CI [11.9, 15.3]: wholly outside the bound <= 10 (mia:abs<=10 on
    'mine')``)."""
    first = failed[0]
    more = f"; and {len(failed) - 1} more" if len(failed) > 1 else ""
    why = " ".join((first.why or f"{status_of(first)} with value {_num(first.value)}").split())
    return f"{why} ({first.check} on {first.model!r}{more})"


def assert_findings(findings: Sequence["Finding"], *, what: str = "unlearn_check",
                    inconclusive: str = "warn", fail_on: str = "fail") -> list["Finding"]:
    """Raise ``AuditCheckError`` (an ``AssertionError``) with a table if any finding gates FAIL.

    A FAIL finding always fails; an INCONCLUSIVE one (its confidence interval straddles the bound) gates by
    ``inconclusive``: ``"warn"`` (default) emits an ``UnlearnAuditWarning`` naming what would decide it,
    ``"fail"`` fails like a FAIL, ``"pass"`` passes silently. WARN findings, and SKIP ones (a metric that was not
    computed), emit an ``UnlearnAuditWarning`` (shown in pytest's warnings summary); with ``fail_on="warn"`` a
    finding that gates WARN fails too. The findings are returned so a test can inspect them further.

    The message's first line is the first failure's reason (what pytest's short summary shows), then the count
    and the table.
    """
    __tracebackhide__ = True
    findings = list(findings)
    failing = ("FAIL", "WARN") if fail_on == "warn" else ("FAIL",)
    failed = [f for f in findings if gated_status(f, inconclusive) in failing]
    if failed:
        models = sorted({f.model for f in failed})
        hard = sum(status_of(f) == "FAIL" for f in failed)
        undecided = sum(status_of(f) == "INCONCLUSIVE" for f in failed)
        warned = len(failed) - hard - undecided
        counted = [f"{hard} of {len(findings)} check(s) failed"] if hard else []
        if undecided:
            counted.append(f"{undecided} of {len(findings)} inconclusive" +
                           (" (--unlearn-inconclusive=fail)" if inconclusive == "fail" else " (--unlearn-fail-on=warn)"))
        if warned:
            counted.append(f"{warned} of {len(findings)} warned (--unlearn-fail-on=warn)")
        order = {"FAIL": 0, "INCONCLUSIVE": 1, "WARN": 2}
        failed.sort(key=lambda f: order.get(status_of(f), 3))
        title = (f"{_reason(failed)}\n{what}: {', '.join(counted)} for {', '.join(repr(m) for m in models)}")
        raise AuditCheckError(format_findings(findings, title=title), findings)
    for f in findings:
        status = status_of(f)
        if status == "WARN":
            warnings.warn(UnlearnAuditWarning(f"{f.check} ({f.model}): {f.why or 'within the warning margin'}"),
                          stacklevel=2)
        elif status == "INCONCLUSIVE" and inconclusive == "warn":
            decide = getattr(f, "decide", None)
            warnings.warn(UnlearnAuditWarning(f"{f.check} ({f.model}) is INCONCLUSIVE: {f.why}" +
                                              (f"; to decide it: {decide}" if decide else "")), stacklevel=2)
        elif status == "SKIP":
            warnings.warn(UnlearnAuditWarning(f"{f.check} ({f.model}) was not evaluated: {f.why}"), stacklevel=2)
    return findings
