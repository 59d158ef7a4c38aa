"""Small helpers shared by the HTML report's sections and plots: escaping, means, group names."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport
    from ._table import SummaryRow

__all__ = ["esc", "mpl_text", "finite", "mean", "group_label", "ok_metrics", "group_means"]


def esc(x: Any) -> str:
    """Escape any value for HTML text and (double-quoted) attributes."""
    return html.escape("" if x is None else str(x), quote=True)


def mpl_text(s: Any) -> str:
    """A user string made safe for matplotlib text (``$`` would start mathtext and can raise)."""
    return str(s).replace("\\", "\\\\").replace("$", r"\$")


def finite(x: Any) -> bool:
    """True for a real, finite number (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def mean(xs: Sequence[float]) -> float:
    """The arithmetic mean of a non-empty sequence."""
    return sum(xs) / len(xs)


def group_label(key: str, data: dict[str, Any]) -> str:
    """``"y=1,a=0"`` → ``"y=1 (>=5), a=0 (red)"`` using the data's class and attribute names when recorded."""
    try:
        y_part, a_part = key.split(",")
        y, a = int(y_part.split("=")[1]), int(a_part.split("=")[1])
    except (ValueError, IndexError):
        return key
    classes, attrs = data.get("classes") or [], data.get("attr_names") or []
    yn = f" ({classes[y]})" if y < len(classes) else ""
    an = f" ({attrs[a]})" if a < len(attrs) else ""
    return f"y={y}{yn}, a={a}{an}"


def ok_metrics(report: "AuditReport", name: str) -> list[dict[str, Any]]:
    """The metrics dicts of model ``name``'s successful seeds."""
    return [r.metrics for r in report.records(name) if r.status == "ok" and r.metrics]


def group_means(report: "AuditReport", rows: "list[SummaryRow]") -> dict[str, dict[str, float]]:
    """Per model (summary order) and group key: the test accuracy averaged over the model's successful seeds."""
    per: dict[str, dict[str, float]] = {}
    for row in rows:
        ms = ok_metrics(report, row.name)
        keys = list(dict.fromkeys(k for m in ms for k in (m.get("group_acc") or {})))
        if keys:
            per[row.name] = {k: mean([float(m["group_acc"][k]) for m in ms
                                      if finite((m.get("group_acc") or {}).get(k))] or [math.nan]) for k in keys}
    return per
