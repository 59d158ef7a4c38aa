"""Threshold checks: ``Check`` (one bound on one metric) and ``Thresholds`` (a set of them, applied to a report).

A check compares a model's metric with a bound, directly (``min`` / ``max``) or through its difference with a
reference model (``abs`` / ``drop`` / ``rel``). The direction of "worse" comes from the metric's
``higher_is_better`` (``METRIC_INFO``). Compact string form, for ini files and the command line::

    metric:kind<op>number[@reference][,noise_k=K][,warn_margin=W]

    eo:abs<=5                       |EO(model) - EO(reference)| <= 5 percentage points
    ga:drop<=5                      GA may fall at most 5 points below the reference's
    fairness_gap:rel<=0.25@original  fairness-gap within 25% of the original model's (Conjecture 1)
    ta:min>=50                      test accuracy at least 50%
    mia:abs<=10,noise_k=2           bound widened by 2 x the retrain seed spread
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal, Sequence

from ..report import Finding, Status

if TYPE_CHECKING:  # pragma: no cover
    from ..report import AuditReport, ModelRecord

__all__ = ["Check", "Thresholds", "ThresholdError", "METRIC_ALIASES", "resolve_metric", "noise_floor"]

Kind = Literal["abs", "drop", "rel", "min", "max"]

#: Lower-case names accepted in the compact form (every ``METRIC_INFO`` key in lower case is accepted too).
METRIC_ALIASES: dict[str, str] = {
    "fairness_gap": "FG", "fairness-gap": "FG", "fairness_gap_max": "FG_MAX", "fairness-gap-max": "FG_MAX",
    "equalized_odds": "EO", "dominant_group_acc": "GA", "group_acc": "GA", "worst_group": "WG",
    "worst_group_acc": "WG", "test_acc": "TA", "retain_acc": "RA", "forget_acc": "FA", "unlearn_acc": "UA",
    "val_acc": "VA", "mia_efficacy": "MIA",
}
#: The short id each metric's checks get by default (pytest item names: ``unlearn_audit::<id>``).
_IDS = {"FG": "fairness_gap", "FG_MAX": "fairness_gap_max"}

_KINDS: dict[str, tuple[str, str]] = {  # kind -> (field, operator)
    "abs": ("max_abs_delta", "<="), "drop": ("max_drop", "<="), "rel": ("max_rel_change", "<="),
    "min": ("min_value", ">="), "max": ("max_value", "<="),
}
_FIELD_KIND = {f: k for k, (f, _) in _KINDS.items()}
_OPTIONS = {"noise_k", "warn_margin", "id"}
_REFERENCE = re.compile(r"^[A-Za-z0-9_.\-]+(\+[A-Za-z0-9_.\-]+)?$")
_COMPACT = re.compile(r"^\s*(?P<metric>[A-Za-z][A-Za-z0-9_\-]*)\s*:\s*(?P<kind>[A-Za-z]+)\s*(?P<op>[<>=!]+)\s*"
                      r"(?P<number>[^@,\s]+)\s*(?:@\s*(?P<ref>[^,\s]+))?\s*(?P<opts>(?:,[^,]*)*)\s*$")


class ThresholdError(ValueError):
    """A check that cannot be built or parsed; the message quotes the text and names where it came from."""


def _metric_info() -> dict[str, Any]:
    from ..metrics import METRIC_INFO

    return METRIC_INFO


def resolve_metric(name: str) -> str:
    """The ``METRIC_INFO`` key for ``name``: a key (any case) or an alias such as ``fairness_gap``.

    Raises:
        ThresholdError: unknown metric (the message lists the accepted names).
    """
    if not isinstance(name, str) or not name.strip():
        raise ThresholdError(f"metric: expected a metric name, got {name!r}")
    info = _metric_info()
    text = name.strip()
    if text in info:
        return text
    low = text.lower()
    if low in METRIC_ALIASES:
        return METRIC_ALIASES[low]
    for key in info:
        if key.lower() == low:
            return key
    known = sorted({k.lower() for k in info} | set(METRIC_ALIASES))
    raise ThresholdError(f"unknown metric {name!r}; known: {', '.join(known)}")


def _fmt(x: float) -> str:
    return format(float(x), "g")


@dataclass(frozen=True)
class Check:
    """One bound on one metric of an audited model.

    Exactly one of the bound arguments must be given:

    - ``max_abs_delta`` (``abs``): ``|M(model) - M(ref)| <= bound`` (percentage points for % metrics).
    - ``max_drop`` (``drop``): how much *worse* the model is than the reference, ``M(ref) - M(model)`` for a
      higher-is-better metric, ``M(model) - M(ref)`` for a lower-is-better one, ``|M(model) - M(ref)|`` for a
      two-sided one (MIA, forget accuracy); a model better than its reference has a negative drop.
    - ``max_rel_change`` (``rel``): ``|M(model) - M(ref)| / |M(ref)| <= bound`` (a fraction, 0.25 = 25%).
    - ``min_value`` (``min``) / ``max_value`` (``max``): ``M(model) >= bound`` / ``<= bound``; no reference.

    With several seeds, the model's seed ``s`` is paired with the reference's seed ``s`` (the original is a
    single model, shared by every seed) and the per-seed quantities are averaged (spec A5).

    Args:
        metric: a ``METRIC_INFO`` key or an alias (``fairness_gap``, ``eo``, ``ga``, ``mia``, ``fgsm``, ``ta``...).
        reference: ``"retrain"``, ``"retrain+reweight"``, ``"original"`` or any reference model of the audit;
            ``None`` (default) = the model's own reference, spec D5 (``retrain+reweight`` for MIU and
            ``+reweight`` variants, ``retrain`` otherwise).
        noise_k: widen the bound by ``noise_k`` x the noise floor, the standard deviation of the metric over the
            ``retrain`` seeds (``bound + k*sd`` for abs/drop/max, ``bound - k*sd`` for min, ``bound + k*sd/|M(ref)|``
            for rel); no widening with a single seed.
        warn_margin: WARN (not FAIL) when the value is inside the bound but within ``warn_margin`` of it (same unit
            as the bound).
        id: short name (pytest items ``unlearn_audit::<id>``); default the metric's alias (``eo``, ``ga``,
            ``fairness_gap``...), with ``_min`` / ``_max`` appended for ``min`` / ``max`` checks.

    Raises:
        ThresholdError: unknown metric, no bound or several, a non-finite bound, negative ``noise_k`` /
            ``warn_margin``, ``min``/``max`` with a reference, a malformed reference name.
    """

    metric: str
    reference: str | None = None
    max_abs_delta: float | None = None
    max_drop: float | None = None
    max_rel_change: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    noise_k: float | None = None
    warn_margin: float | None = None
    id: str | None = None

    def __init__(self, metric: str, *, reference: str | None = None, max_abs_delta: float | None = None,
                 max_drop: float | None = None, max_rel_change: float | None = None, min_value: float | None = None,
                 max_value: float | None = None, noise_k: float | None = None, warn_margin: float | None = None,
                 id: str | None = None) -> None:
        set_ = object.__setattr__
        key = resolve_metric(metric)
        set_(self, "metric", key)
        bounds = {"max_abs_delta": max_abs_delta, "max_drop": max_drop, "max_rel_change": max_rel_change,
                  "min_value": min_value, "max_value": max_value}
        given = {k: v for k, v in bounds.items() if v is not None}
        if len(given) != 1:
            raise ThresholdError(f"Check({key}): set exactly one of {', '.join(bounds)}; got "
                                 f"{', '.join(given) or 'none'}")
        for k, v in bounds.items():
            set_(self, k, None if v is None else self._number(k, v))
        kind = self.kind
        if kind in ("abs", "rel") and self.bound < 0:
            raise ThresholdError(f"Check({key}): {self._field} must be >= 0, got {self.bound!r}")
        if reference is not None:
            if not isinstance(reference, str) or not _REFERENCE.match(reference):
                raise ThresholdError(f"Check({key}): reference must be a model name such as 'retrain', "
                                     f"'retrain+reweight' or 'original', got {reference!r}")
            if kind in ("min", "max"):
                raise ThresholdError(f"Check({key}): a {kind}_value check compares the model with a fixed bound; "
                                     f"it takes no reference (got {reference!r})")
        set_(self, "reference", reference)
        for k, v in (("noise_k", noise_k), ("warn_margin", warn_margin)):
            v = None if v is None else self._number(k, v)
            if v is not None and v < 0:
                raise ThresholdError(f"Check({key}): {k} must be >= 0, got {v!r}")
            set_(self, k, v)
        if id is not None and (not isinstance(id, str) or not re.match(r"^[A-Za-z0-9_\-]+$", id)):
            raise ThresholdError(f"Check({key}): id must be letters, digits, '_' or '-', got {id!r}")
        default_id = _IDS.get(key, key.lower()) + (f"_{kind}" if kind in ("min", "max") else "")
        set_(self, "id", id or default_id)

    def _number(self, name: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ThresholdError(f"Check({self.metric}): {name} must be a finite number, got {v!r}")
        return float(v)

    # ------------------------------------------------------------------ description
    @property
    def _field(self) -> str:
        return next(f for f in _FIELD_KIND if getattr(self, f) is not None)

    @property
    def kind(self) -> Kind:
        """``"abs"``, ``"drop"``, ``"rel"``, ``"min"`` or ``"max"``."""
        return _FIELD_KIND[self._field]  # type: ignore[return-value]

    @property
    def bound(self) -> float:
        """The bound as given (before noise widening)."""
        return float(getattr(self, self._field))

    @property
    def higher_is_better(self) -> bool | None:
        return _metric_info()[self.metric].higher_is_better

    @property
    def needs_reference(self) -> bool:
        return self.kind in ("abs", "drop", "rel")

    @property
    def compact(self) -> str:
        """The compact string form (``Check.parse(check.compact) == check``)."""
        alias = _IDS.get(self.metric, self.metric.lower())
        text = f"{alias}:{self.kind}{_KINDS[self.kind][1]}{_fmt(self.bound)}"
        if self.reference is not None:
            text += f"@{self.reference}"
        if self.noise_k is not None:
            text += f",noise_k={_fmt(self.noise_k)}"
        if self.warn_margin is not None:
            text += f",warn_margin={_fmt(self.warn_margin)}"
        default_id = alias + (f"_{self.kind}" if self.kind in ("min", "max") else "")
        if self.id != default_id:
            text += f",id={self.id}"
        return text

    def __str__(self) -> str:
        return self.compact

    def describe(self) -> str:
        """One sentence for reports, e.g. ``"|EO - EO(retrain)| <= 5"``."""
        m, ref = self.metric, self.reference or "reference"
        body = {"abs": f"|{m} - {m}({ref})| <= {_fmt(self.bound)}",
                "drop": f"drop of {m} vs {ref} <= {_fmt(self.bound)}",
                "rel": f"|{m} - {m}({ref})| / {m}({ref}) <= {_fmt(self.bound)}",
                "min": f"{m} >= {_fmt(self.bound)}", "max": f"{m} <= {_fmt(self.bound)}"}[self.kind]
        if self.noise_k:
            body += f" (+ {_fmt(self.noise_k)} x retrain seed spread)"
        return body

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, text: str, *, source: str = "threshold") -> "Check":
        """Parse the compact form ``metric:kind<op>number[@reference][,noise_k=K][,warn_margin=W][,id=NAME]``.

        Kinds and operators: ``abs<=``, ``drop<=``, ``rel<=``, ``max<=``, ``min>=``.

        Raises:
            ThresholdError: the message quotes ``text`` and names ``source`` (e.g. ``--unlearn-threshold``).
        """
        def bad(why: str) -> ThresholdError:
            return ThresholdError(f"{source}: {text!r} is not a valid check: {why} (expected "
                                  f"metric:kind<op>number[@reference], e.g. 'eo:abs<=5', 'ga:drop<=5', "
                                  f"'fairness_gap:rel<=0.25@original', 'ta:min>=50')")

        if isinstance(text, Check):
            return text
        if not isinstance(text, str):
            raise ThresholdError(f"{source}: expected a check string, got {type(text).__name__}")
        m = _COMPACT.match(text)
        if m is None:
            raise bad("it does not have the shape metric:kind<op>number")
        kind, op = m["kind"].lower(), m["op"]
        if kind not in _KINDS:
            raise bad(f"unknown kind {m['kind']!r}; use one of {', '.join(_KINDS)}")
        want = _KINDS[kind][1]
        if op != want:
            raise bad(f"kind {kind!r} takes the operator {want!r}, got {op!r}")
        try:
            number = float(m["number"])
        except ValueError:
            raise bad(f"{m['number']!r} is not a number") from None
        if not math.isfinite(number):
            raise bad(f"{m['number']!r} is not a finite number")
        kwargs: dict[str, Any] = {_KINDS[kind][0]: number, "reference": m["ref"]}
        for opt in (o.strip() for o in m["opts"].split(",")[1:]):
            key, eq, value = opt.partition("=")
            key = key.strip()
            if not eq or key not in _OPTIONS:
                raise bad(f"unknown option {opt!r}; options are {', '.join(sorted(_OPTIONS))} as key=value")
            if key == "id":
                kwargs["id"] = value.strip()
                continue
            try:
                kwargs[key] = float(value)
            except ValueError:
                raise bad(f"{key}={value.strip()!r} is not a number") from None
        try:
            return cls(m["metric"], **kwargs)
        except ThresholdError as exc:
            raise bad(re.sub(r"^Check\([^)]*\): ", "", str(exc))) from None

    # ------------------------------------------------------------------ evaluation
    def quantity(self, model_values: float | Sequence[float],
                 reference_values: float | Sequence[float] | None = None) -> float:
        """The number compared with the bound (per-seed quantities averaged; see the class docstring).

        Raises:
            ValueError: a reference is needed but missing, the seed counts differ, or a relative change against
                a reference value of 0.
        """
        ms = _as_list(model_values)
        if not self.needs_reference:
            return sum(ms) / len(ms)
        if reference_values is None:
            raise ValueError(f"{self.compact}: needs the reference's value")
        rs = _as_list(reference_values)
        if len(rs) == 1 and len(ms) > 1:
            rs = rs * len(ms)
        if len(rs) != len(ms):
            raise ValueError(f"{self.compact}: {len(ms)} model values but {len(rs)} reference values; pair seeds")
        hib = self.higher_is_better
        per_seed = []
        for m, r in zip(ms, rs):
            if self.kind == "abs":
                per_seed.append(abs(m - r))
            elif self.kind == "drop":
                per_seed.append(r - m if hib is True else m - r if hib is False else abs(m - r))
            else:
                if r == 0:
                    if m == 0:
                        per_seed.append(0.0)
                        continue
                    raise ValueError(f"{self.compact}: the relative change is undefined (reference value is 0)")
                per_seed.append(abs(m - r) / abs(r))
        return sum(per_seed) / len(per_seed)

    def effective_bound(self, *, noise: float | None = None, reference_value: float | None = None) -> float:
        """The bound after widening by ``noise_k`` x ``noise`` (see ``noise_k``)."""
        if not self.noise_k or not noise:
            return self.bound
        widen = self.noise_k * noise
        if self.kind == "min":
            return self.bound - widen
        if self.kind == "rel":
            if not reference_value:
                return self.bound
            return self.bound + widen / abs(reference_value)
        return self.bound + widen

    def check(self, model_values: float | Sequence[float], reference_values: float | Sequence[float] | None = None,
              *, noise: float | None = None, model: str = "model", reference: str | None = None) -> Finding:
        """Apply the check to a model's metric value(s) (and the reference's) and return the ``Finding``.

        Args:
            model_values: the model's metric, one value or one per seed.
            reference_values: the reference's metric, one value (shared by every seed) or one per seed.
            noise: the noise floor (metric standard deviation over the retrain seeds) for ``noise_k``.
            model: the model's name for the finding.
            reference: the reference's name for the finding (default ``self.reference``).
        """
        ref_name = (reference or self.reference or "reference") if self.needs_reference else None
        ms = _as_list(model_values)
        m_mean = sum(ms) / len(ms)
        r_mean = None
        if self.needs_reference and reference_values is not None:
            rs = _as_list(reference_values)
            r_mean = sum(rs) / len(rs)
        base = dict(check=self.compact, metric=self.metric, model=model, reference=ref_name, model_value=m_mean,
                    reference_value=r_mean)
        try:
            value = self.quantity(ms, reference_values)
        except ValueError as exc:
            return Finding(status=Status.SKIP, why=str(exc).split(": ", 1)[-1], **base)
        bound = self.effective_bound(noise=noise, reference_value=r_mean)
        ok = value >= bound if self.kind == "min" else value <= bound
        distance = abs(bound - value)
        warn = self.warn_margin is not None and ok and distance < self.warn_margin
        status = Status.PASS if ok and not warn else Status.WARN if ok else Status.FAIL
        return Finding(status=status, value=value, bound=bound, why=self._why(status, value, bound, m_mean, r_mean,
                                                                               ref_name, noise), **base)

    def _why(self, status: Status, value: float, bound: float, m: float, r: float | None, ref: str | None,
             noise: float | None) -> str:
        m_name = self.metric
        what = {"abs": f"|{m_name} - {m_name}({ref})| = |{m:.2f} - {r:.2f}| = {value:.2f}" if r is not None else "",
                "drop": f"{m_name} is {value:.2f} worse than {ref} ({m:.2f} vs {r:.2f})" if r is not None else "",
                "rel": f"{m_name} changed by {value:.1%} relative to {ref} ({m:.4g} vs {r:.4g})"
                       if r is not None else "",
                "min": f"{m_name} = {m:.2f}", "max": f"{m_name} = {m:.2f}"}[self.kind]
        if self.kind == "drop" and value < 0:
            what = f"{m_name} is {-value:.2f} better than {ref} ({m:.2f} vs {r:.2f})"
        fmt = (lambda x: f"{x:.1%}") if self.kind == "rel" else (lambda x: f"{x:.2f}")
        bound_text = fmt(bound)
        if bound != self.bound:
            bound_text += f" ({fmt(self.bound)} widened by {_fmt(self.noise_k or 0)} x seed spread {noise:.2f})"
        relation = {Status.PASS: "within", Status.WARN: "within, but close to,", Status.FAIL: "outside"}[status]
        op = ">=" if self.kind == "min" else "<="
        return f"{what}; {relation} the bound {op} {bound_text}"


def _as_list(v: float | Sequence[float]) -> list[float]:
    if isinstance(v, (int, float)):
        return [float(v)]
    out = [float(x) for x in v]
    if not out:
        raise ValueError("no values")
    return out


def noise_floor(report: "AuditReport", metric: str, *, reference: str = "retrain") -> float | None:
    """Standard deviation of ``metric`` over the seeds of the ``reference`` retrain (``None`` with < 2 seeds)."""
    vals = [r.values[metric] for r in report.records(reference) if r.status == "ok" and metric in r.values]
    if len(vals) < 2:
        return None
    mean = sum(vals) / len(vals)
    return math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))


@dataclass(frozen=True)
class Thresholds:
    """An ordered set of checks with distinct ids, applied to an ``AuditReport`` by ``evaluate``.

    ``Thresholds.default()`` holds the documented defaults (below); ``merge`` overrides checks by id (what the
    pytest plugin does with ``--unlearn-threshold``); ``parse`` builds from compact strings.

    Default checks (measured on ``colored_digits``, see ``Thresholds.default``)::

        fairness_gap:rel<=0.5@original,noise_k=2,warn_margin=0.1
        eo:abs<=10,noise_k=2,warn_margin=2
        ga:drop<=10,noise_k=2,warn_margin=2
        mia:abs<=15,noise_k=2,warn_margin=3
        fgsm:drop<=10,noise_k=2,warn_margin=2
        ta:drop<=5,noise_k=2,warn_margin=1
        ra:drop<=5,noise_k=2,warn_margin=1
    """

    checks: tuple[Check, ...] = field(default=())

    def __init__(self, checks: Iterable[Check | str] = (), *, source: str = "Thresholds") -> None:
        if isinstance(checks, (str, Check)):
            checks = [checks]
        parsed = tuple(Check.parse(c, source=source) if isinstance(c, str) else c for c in checks)
        for c in parsed:
            if not isinstance(c, Check):
                raise ThresholdError(f"{source}: expected Check objects or compact strings, got {type(c).__name__}")
        seen: dict[str, Check] = {}
        for c in parsed:
            if c.id in seen:
                raise ThresholdError(f"{source}: two checks share the id {c.id!r} ({seen[c.id].compact!r} and "
                                     f"{c.compact!r}); give one an explicit id=")
            seen[c.id] = c
        object.__setattr__(self, "checks", parsed)

    @classmethod
    def parse(cls, texts: Iterable[str] | str, *, source: str = "thresholds") -> "Thresholds":
        """Build from compact strings (one string may hold several separated by ``;`` or newlines)."""
        if isinstance(texts, str):
            texts = [texts]
        items: list[str] = []
        for t in texts:
            if not isinstance(t, str):
                raise ThresholdError(f"{source}: expected check strings, got {type(t).__name__}")
            items.extend(p.strip() for p in re.split(r"[;\n]", t) if p.strip())
        return cls([Check.parse(t, source=source) for t in items], source=source)

    @classmethod
    def default(cls) -> "Thresholds":
        """The documented default checks.

        How they were chosen (``colored_digits``, ``SmallConvNet(width=16)``, the demo recipe, 5 seeds; the
        figures are in ``benchmarks/audit_speed.py --thresholds``): the retrain-vs-retrain spread across seeds
        (standard deviation) was about 1 point for TA/RA, 3-4 points for EO and GA, 3-4 points for MIA, 3-5
        points for FGSM accuracy and 10-20% relative for the fairness-gap; approximate methods that unlearn
        reasonably (fine-tuning, NegGrad+, SCRUB) stay within about twice that of the retrain, while a model
        with noise added to every weight (the "bad method" of the tests) breaks TA, RA and the fairness-gap by
        far more. Each bound is therefore about 2-3x the measured spread, plus ``noise_k = 2`` standard deviations
        when several seeds are audited.

        - ``fairness_gap:rel<=0.5@original``: Tran & Woo's Conjecture 1 (a robust unlearning method preserves the
          original's fairness-gap); the retrain itself moves it by 10-30%.
        - ``eo:abs<=10``: equalized odds around the forget group, vs the reference.
        - ``ga:drop<=10``: accuracy on the dominant forget group may not fall more than 10 points below the
          reference's (the group-robustness failure of seed 004).
        - ``mia:abs<=15``: MIA efficacy on the forget set close to the reference's (neither under- nor
          over-forgetting).
        - ``fgsm:drop<=10``: FGSM accuracy (Tran & Woo robustness) no more than 10 points below the reference's.
        - ``ta:drop<=5``, ``ra:drop<=5``: utility preserved.
        """
        return cls.parse(DEFAULT_CHECKS, source="Thresholds.default")

    def __iter__(self):
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __getitem__(self, id: str) -> Check:
        for c in self.checks:
            if c.id == id:
                return c
        raise KeyError(f"no check with id {id!r}; ids: {', '.join(self.ids)}")

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.checks]

    def merge(self, overrides: "Thresholds | Iterable[Check | str]", *, source: str = "thresholds") -> "Thresholds":
        """A copy where each check of ``overrides`` replaces the check with the same id (or is appended).

        Within ``overrides`` a later check with an id already seen replaces the earlier one (lowest precedence
        first, as the pytest plugin passes ini, env and command-line checks).
        """
        items = overrides.checks if isinstance(overrides, Thresholds) else [
            Check.parse(c, source=source) if isinstance(c, str) else c for c in overrides]
        out = {c.id: c for c in self.checks}
        for c in items:
            out[c.id] = c
        return Thresholds(list(out.values()), source=source)

    def to_list(self) -> list[str]:
        """Compact strings (JSON / ini friendly)."""
        return [c.compact for c in self.checks]

    def evaluate(self, report: "AuditReport", models: Sequence[str] | None = None) -> list[Finding]:
        """One ``Finding`` per check and model.

        Args:
            report: the audit report.
            models: model names to check; default the user's method when the audit has one, else every suite
                method (role ``"method"``).

        A model that failed gets FAIL findings carrying its error; a metric that does not apply to it (or to its
        reference), or a reference missing from the audit, gives SKIP with the reason.
        """
        if models is None:
            if report.user_method is not None:
                models = [report.user_method]
            else:
                models = [n for n in report.model_names() if any(r.role == "method" for r in report.records(n))]
        names = report.model_names()
        findings = []
        for name in models:
            if name not in names:
                raise KeyError(f"Thresholds.evaluate: no model named {name!r} in the report; models: "
                               f"{', '.join(names)}")
            for check in self.checks:
                findings.append(self._one(report, check, name))
        return findings

    def _one(self, report: "AuditReport", check: Check, name: str) -> Finding:
        recs = report.records(name)
        base = dict(check=check.compact, metric=check.metric, model=name)
        failed = [r for r in recs if r.status != "ok"]
        if failed:
            return Finding(status=Status.FAIL, why=f"the method failed: {failed[0].error}", **base)
        ok = [r for r in recs if r.metrics is not None]
        if not ok:
            return Finding(status=Status.SKIP, why="the model has no metrics", **base)
        missing = _not_applicable(ok, check.metric)
        if missing:
            return Finding(status=Status.SKIP, why=f"{check.metric} does not apply to {name}: {missing}", **base)
        if not check.needs_reference:
            return check.check([r.values[check.metric] for r in ok], model=name,
                               noise=noise_floor(report, check.metric))
        ref_name = check.reference or ok[0].reference
        base["reference"] = ref_name
        if ref_name is None:
            return Finding(status=Status.SKIP, why=f"{name} has no reference model to compare with", **base)
        ref_recs = [r for r in report.records(ref_name) if r.status == "ok" and r.metrics is not None]
        if not ref_recs:
            why = (f"the reference {ref_name!r} is not part of this audit" if not report.records(ref_name)
                   else f"the reference {ref_name!r} failed or has no metrics")
            return Finding(status=Status.SKIP, why=why, **base)
        missing = _not_applicable(ref_recs, check.metric)
        if missing:
            return Finding(status=Status.SKIP, why=f"{check.metric} does not apply to {ref_name}: {missing}", **base)
        if len(ref_recs) == 1:
            pairs = [(r.values[check.metric], ref_recs[0].values[check.metric]) for r in ok]
        else:
            by_seed = {r.seed: r for r in ref_recs}
            pairs = [(r.values[check.metric], by_seed[r.seed].values[check.metric]) for r in ok if r.seed in by_seed]
            if not pairs:
                return Finding(status=Status.SKIP, why=f"no seed of {name} has a matching {ref_name} seed", **base)
        return check.check([p[0] for p in pairs], [p[1] for p in pairs], model=name, reference=ref_name,
                           noise=noise_floor(report, check.metric))


def _not_applicable(recs: Sequence["ModelRecord"], metric: str) -> str | None:
    for r in recs:
        if metric not in r.values:
            return r.not_applicable.get(metric) or "it was not computed (not requested by the metric config)"
    return None


#: The default checks (see ``Thresholds.default`` for how they were chosen).
DEFAULT_CHECKS: tuple[str, ...] = (
    "fairness_gap:rel<=0.5@original,noise_k=2,warn_margin=0.1",
    "eo:abs<=10,noise_k=2,warn_margin=2",
    "ga:drop<=10,noise_k=2,warn_margin=2",
    "mia:abs<=15,noise_k=2,warn_margin=3",
    "fgsm:drop<=10,noise_k=2,warn_margin=2",
    "ta:drop<=5,noise_k=2,warn_margin=1",
    "ra:drop<=5,noise_k=2,warn_margin=1",
)
