"""A saved audit as a baseline: this audit against an earlier one, per model and metric, with intervals.

Like pytest-benchmark's ``--benchmark-compare-fail``, but decided statistically: for every model both reports
have and every summary metric, the *regression* ``R`` is the change in the metric's bad direction,

- ``R = old - new`` for a metric where higher is better (TA, RA, GA, FGSM, ...),
- ``R = new - old`` where lower is better (EO, FG),
- ``R = |Δ_new| - |Δ_old|`` for a metric that should be close to the reference (UA, MIA): how much further from
  its reference retrain the model moved (rows without a reference are shown, not decided).

Its interval adds the two runs' variances (they are independent audits: each one's bootstrap variance over
evaluation samples and its training-seed variance; a model audited with one seed gets the seed spread pooled
over its report's references, as in ``_compare``), with a Student-t quantile (``stats.combine_variances``).
A regression FAILs only when it is significant and beyond the bound: the whole interval of ``R`` above the
bound (``max_regression``, in the metric's unit; 2 points for percentages by default); PASS when the whole
interval is at or below it; INCONCLUSIVE otherwise.

Two reports are comparable only when they audit the same data (the fingerprints of every split) and the same
forget request (its fingerprint, and its request id when both name one); otherwise ``BaselineMismatch`` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ._compare import _seed_pool, compare, ok_records, value_interval
from ._findings import Status
from ._table import COLUMNS, fmt_value, metric_direction, metric_unit

if TYPE_CHECKING:  # pragma: no cover
    from ..stats import Interval
    from ._report import AuditReport

__all__ = ["BaselineMismatch", "MetricChange", "BaselineComparison", "check_comparable", "compare_reports",
           "DEFAULT_MAX_REGRESSION", "parse_max_regression"]

#: the default bound on a regression, in points, for every percentage metric
DEFAULT_MAX_REGRESSION = 2.0


class BaselineMismatch(ValueError):
    """The baseline audits other data or another forget request; ``str(exc)`` says which and how."""


def _short(h: Any) -> str:
    return str(h)[:12] + "…" if h else "none"


def check_comparable(old: "AuditReport", new: "AuditReport") -> None:
    """Raise ``BaselineMismatch`` unless both reports audit the same data splits and the same forget request."""
    fo, fn = (old.data or {}).get("fingerprint") or {}, (new.data or {}).get("fingerprint") or {}
    if not fo or not fn:
        which = "the baseline" if not fo else "this audit"
        raise BaselineMismatch(f"{which} records no data fingerprint, so it cannot be shown to audit the same data")
    if fo.get("forget_idx") != fn.get("forget_idx"):
        raise BaselineMismatch(
            f"the baseline audits another forget request: forget set of {old.data.get('n_forget')} samples "
            f"(fingerprint {_short(fo.get('forget_idx'))}) vs {new.data.get('n_forget')} now "
            f"({_short(fn.get('forget_idx'))})")
    for split in sorted(set(fo) | set(fn)):
        if split != "forget_idx" and fo.get(split) != fn.get(split):
            raise BaselineMismatch(f"the baseline was computed on other data: the {split} split's fingerprint is "
                                   f"{_short(fo.get(split))} there and {_short(fn.get(split))} now")
    ro, rn = (old.config or {}).get("request_id"), (new.config or {}).get("request_id")
    if ro and rn and ro != rn:
        raise BaselineMismatch(f"the baseline answers erasure request {ro!r}, this audit {rn!r}")


def parse_max_regression(items: Any) -> dict[str, float]:
    """``"2"``, ``"ta=1"``, ``["2", "fg=0.05"]`` -> ``{"*": 2.0, "TA": 1.0, "FG": 0.05}``.

    Raises:
        ValueError: a part that is not ``NUMBER`` or ``METRIC=NUMBER`` with a number >= 0.
    """
    parts = [items] if isinstance(items, str) else list(items or [])
    out: dict[str, float] = {}
    for text in (p.strip() for item in parts for p in str(item).split(",") if p.strip()):
        key, sep, value = text.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0 or (sep and not key.strip()):
            raise ValueError(f"max regression: {text!r} is not NUMBER or METRIC=NUMBER with a number >= 0 "
                             f"(e.g. 2 or ta=1)")
        out[key.strip().upper() if sep else "*"] = number
    return out


@dataclass(frozen=True)
class MetricChange:
    """One model and metric, old vs new.

    Attributes:
        model, metric: what is compared.
        quantity: ``"value"`` or ``"|Δ vs retrain|"`` (closeness metrics), what ``old`` / ``new`` are.
        old, new: the quantity's estimate and interval in each report.
        regression: the interval of the regression ``R`` (positive = worse), or ``None`` when not decided.
        bound: the largest regression allowed, or ``None`` (not decided).
        status: PASS / INCONCLUSIVE / FAIL, or ``None`` (not decided).
    """

    model: str
    metric: str
    quantity: str
    old: "Interval"
    new: "Interval"
    regression: "Interval | None" = None
    bound: float | None = None
    status: Status | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "metric": self.metric, "quantity": self.quantity, "old": self.old.to_dict(),
                "new": self.new.to_dict(), "bound": self.bound,
                "regression": self.regression.to_dict() if self.regression is not None else None,
                "status": self.status.value if self.status is not None else None}


@dataclass
class BaselineComparison:
    """Every ``MetricChange`` of two comparable reports, and the models the verdict is about.

    Attributes:
        old_created, new_created: when each audit ran.
        changes: one per model and metric both have.
        gated: the models whose regressions decide ``verdict`` (the user's method; every model without one).
    """

    old_created: str
    new_created: str
    changes: list[MetricChange] = field(default_factory=list)
    gated: tuple[str, ...] = ()

    def decided(self) -> list[MetricChange]:
        return [c for c in self.changes if c.status is not None and c.model in self.gated]

    @property
    def verdict(self) -> Status:
        """FAIL when a gated model regressed (shown), WARN when one may have (INCONCLUSIVE), else PASS."""
        statuses = {c.status for c in self.decided()}
        return Status.FAIL if Status.FAIL in statuses else Status.WARN if Status.INCONCLUSIVE in statuses \
            else Status.PASS

    def verdict_line(self) -> str:
        d = self.decided()
        n = {s: sum(c.status is s for c in d) for s in (Status.FAIL, Status.INCONCLUSIVE, Status.PASS)}
        return (f"{self.verdict.value}: {n[Status.FAIL]} of {len(d)} metrics of {', '.join(self.gated)} regressed "
                f"beyond the bound, {n[Status.INCONCLUSIVE]} undecided (the interval straddles the bound), "
                f"{n[Status.PASS]} shown within it")

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "verdict_line": self.verdict_line(), "old_created": self.old_created,
                "new_created": self.new_created, "gated": list(self.gated),
                "changes": [c.to_dict() for c in self.changes]}


def _seed_part(report: "AuditReport", name: str, metric: str) -> tuple[float, float]:
    """``(seed variance of the model's mean, df)``: its own spread with >= 2 seeds, else the pooled one."""
    xs = [r.values[metric] for r in ok_records(report, name, metric)]
    if len(xs) >= 2:
        m = math.fsum(xs) / len(xs)
        return math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs), len(xs) - 1
    s2, df, _ = _seed_pool(report, metric)
    return (0.0, math.inf) if s2 is None else (s2 / max(len(xs), 1), float(df))


def _quantity(report: "AuditReport", name: str, reference: str | None, metric: str, level: float,
              ) -> "Interval | None":
    """The compared quantity in one report: the value (with seed spread), or |Δ vs the reference|."""
    from ..stats import combine_variances

    if metric_direction(metric) is None:
        c = compare(report, name, reference, metric, level=level) if reference else None
        if c is None:
            return None
        d = c.delta
        return combine_variances(abs(d.estimate), sample_var=d.sample_var, seed_var=d.seed_var,
                                 seed_df=d.df if d.seed_var > 0 else math.inf, level=level)
    iv = value_interval(report, name, metric, level=level)
    if iv is None:
        return None
    seed_var, df = _seed_part(report, name, metric)
    return combine_variances(iv.estimate, sample_var=iv.sample_var, seed_var=seed_var, seed_df=df, level=level)


def compare_reports(old: "AuditReport", new: "AuditReport", *, max_regression: Mapping[str, float] | None = None,
                    level: float | None = None, metrics: tuple[str, ...] = COLUMNS) -> BaselineComparison:
    """``new`` against the baseline ``old`` (see the module docstring).

    Args:
        old, new: the baseline and this audit.
        max_regression: metric -> bound (``"*"`` for every percentage metric; default 2 points); a metric
            without a bound (non-percentage metrics unless named) is shown, not decided.
        level: the confidence level (default: ``new``'s).
        metrics: the metrics compared.

    Raises:
        BaselineMismatch: the reports audit other data or another forget request.
    """
    from ..stats import combine_variances

    check_comparable(old, new)
    bounds = {"*": DEFAULT_MAX_REGRESSION, **{k.upper(): v for k, v in (max_regression or {}).items()}}
    lvl = float(level if level is not None else (new.uncertainty or {}).get("level", 0.95))
    out = BaselineComparison(old_created=old.created, new_created=new.created)
    both = [n for n in new.model_names() if n in old.model_names()]
    out.gated = (new.user_method,) if new.user_method in both else tuple(both)
    for name in both:
        ref_new = next((r.reference for r in new.records(name) if r.reference), None)
        ref_old = next((r.reference for r in old.records(name) if r.reference), None)
        for metric in metrics:
            reference = ref_new if ref_new == ref_old else None
            a, b = _quantity(old, name, reference, metric, lvl), _quantity(new, name, reference, metric, lvl)
            if a is None or b is None:
                continue
            closeness = metric_direction(metric) is None
            quantity = f"|Δ vs {reference}|" if closeness else "value"
            bound = bounds.get(metric, bounds["*"] if metric_unit(metric) == "%" else None)
            sign = -1.0 if metric_direction(metric) is True else 1.0
            r = combine_variances(sign * (b.estimate - a.estimate), sample_var=a.sample_var + b.sample_var,
                                  seed_var=a.seed_var + b.seed_var, seed_df=min(a.df, b.df), level=lvl)
            status = None if bound is None else Status.FAIL if r.lo > bound else Status.PASS if r.hi <= bound \
                else Status.INCONCLUSIVE
            out.changes.append(MetricChange(model=name, metric=metric, quantity=quantity, old=a, new=b,
                                            regression=r, bound=bound, status=status))
    return out


def render_comparison(cmp: BaselineComparison, *, width: int = 100, all_models: bool = False) -> str:
    """The comparison as plain text for ``width`` columns: the verdict, then one table per model: the gated
    models, any other model with a FAIL, or every model with ``all_models``."""
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table

    from ._table import fmt_delta, status_word

    def iv(x: "Interval", metric: str) -> str:
        return f"{fmt_value(metric, x.estimate)} ±{fmt_value(metric, x.half_width)}"

    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, highlight=False, emoji=False, soft_wrap=False)
    console.print(f"Against the baseline: {cmp.verdict_line()}")
    models = list(dict.fromkeys(c.model for c in cmp.changes))
    for model in models:
        rows = [c for c in cmp.changes if c.model == model]
        if not (all_models or model in cmp.gated or any(c.status is Status.FAIL for c in rows)):
            continue
        bounds = sorted({c.bound for c in rows if c.bound is not None})
        limit = (f"; a regression beyond {bounds[0]:g} points fails" if len(bounds) == 1
                 else "; bound per metric in brackets" if bounds else "")
        t = Table(title=f"{model}: baseline → now{limit}", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, header_style="bold", padding=(0, 1, 0, 0), collapse_padding=True)
        t.add_column("metric", no_wrap=True)
        for col in ("baseline", "now", "R [CI]"):
            t.add_column(col, justify="right", no_wrap=True)
        t.add_column("status", no_wrap=True, overflow="ellipsis", min_width=6)
        for c in rows:
            r = c.regression
            rtext = "—" if r is None else (f"{fmt_delta(c.metric, r.estimate, like=c.old.estimate)} "
                                           f"[{fmt_value(c.metric, r.lo)}, {fmt_value(c.metric, r.hi)}]")
            if len(bounds) > 1 and c.bound is not None:
                rtext += f" (≤ {c.bound:g})"
            t.add_row(c.metric + (" |Δ|" if c.quantity != "value" else ""), iv(c.old, c.metric),
                      iv(c.new, c.metric), rtext, status_word(c.status) if c.status else "not decided")
        console.print(t)
    console.print(f"R = regression (positive = worse: a drop where higher is better, a rise where lower is better, "
                  f"|Δ| = distance to the reference retrain for UA and MIA) with its {cmp_level(cmp):.0%} interval; "
                  f"a regression FAILs only when the whole interval is beyond the bound. Baseline from "
                  f"{cmp.old_created or 'an unknown date'}, this audit {cmp.new_created or 'undated'}.")
    return buf.getvalue()


def cmp_level(cmp: BaselineComparison) -> float:
    """The confidence level of the comparison's intervals."""
    return next((c.regression.level for c in cmp.changes if c.regression is not None), 0.95)
