"""Threshold checks: ``Check`` (one bound on one metric) and ``Thresholds`` (a set of them, applied to a report).

A check compares a model's metric with a bound, directly (``min`` / ``max``) or through its difference with a
reference model (``abs`` / ``drop`` / ``rel``). The direction of "worse" comes from the metric's
``higher_is_better`` (``METRIC_INFO``). Compact string form, for ini files and the command line::

    metric:kind<op>number[@reference][,warn_margin=W][,id=NAME]

    eo:abs<=5                       |EO(model) - EO(reference)| <= 5 percentage points
    ga:drop<=5                      GA may fall at most 5 points below the reference's
    fairness_gap:rel<=0.25@original  fairness-gap within 25% of the original model's (Tran & Woo, Conjecture 1)
    ta:min>=50                      test accuracy at least 50%

Every check is a statistical decision on the confidence interval of its quantity (``report._compare``): PASS when
the whole interval is inside the bound, FAIL when the whole interval is outside, INCONCLUSIVE otherwise (with what
would decide it). ``Thresholds(level=, inconclusive=)`` set the interval level and how INCONCLUSIVE gates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Literal, Sequence

from ..report._findings import Finding, Status, check_policy

if TYPE_CHECKING:  # pragma: no cover
    from ..report import AuditReport, ModelRecord
    from ..stats import Interval

__all__ = ["Check", "Thresholds", "ThresholdError", "checked_models", "METRIC_ALIASES", "resolve_metric",
           "DEFAULT_LEVEL"]

#: The default confidence level of every interval and decision.
DEFAULT_LEVEL = 0.95
#: ``noise_k`` was the old way to absorb seed noise; intervals replace it.
NOISE_K_REMOVED = ("noise_k was removed in unlearn-audit 0.2: checks are decided on confidence intervals that "
                   "already include the training-seed spread of the reference retrains (README: 'How checks are "
                   "decided'); drop noise_k, and audit more reference seeds (reference_seeds) for tighter intervals")

Kind = Literal["abs", "drop", "rel", "min", "max"]

#: Lower-case names accepted in the compact form (every ``METRIC_INFO`` key in lower case is accepted too).
METRIC_ALIASES: dict[str, str] = {
    "fairness_gap": "FG", "fairness-gap": "FG", "fairness_gap_max": "FG_MAX", "fairness-gap-max": "FG_MAX",
    "equalized_odds": "EO", "dominant_group_acc": "GA", "group_acc": "GA", "worst_group": "WG",
    "worst_group_acc": "WG", "test_acc": "TA", "retain_acc": "RA", "forget_acc": "FA", "unlearn_acc": "UA",
    "val_acc": "VA", "mia_efficacy": "MIA", "forget_quality": "FQ",
}
#: The short id each metric's checks get by default (pytest item names: ``unlearn_audit::<id>``).
_IDS = {"FG": "fairness_gap", "FG_MAX": "fairness_gap_max"}

_KINDS: dict[str, tuple[str, str]] = {  # kind -> (field, operator)
    "abs": ("max_abs_delta", "<="), "drop": ("max_drop", "<="), "rel": ("max_rel_change", "<="),
    "min": ("min_value", ">="), "max": ("max_value", "<="),
}
_FIELD_KIND = {f: k for k, (f, _) in _KINDS.items()}
_OPTIONS = {"warn_margin", "id"}
_REFERENCE = re.compile(r"^[A-Za-z0-9_.\-]+(\+[A-Za-z0-9_.\-]+)?$")
_COMPACT = re.compile(r"^\s*(?P<metric>[A-Za-z][A-Za-z0-9_\-]*)\s*:\s*(?P<kind>[A-Za-z]+)\s*(?P<op>[<>=!]+)\s*"
                      r"(?P<number>[^@,\s]+)\s*(?:@\s*(?P<ref>[^,\s]+))?\s*(?P<opts>(?:,[^,]*)*)\s*$")


class ThresholdError(ValueError):
    """A check that cannot be built or parsed; the message quotes the text and names where it came from."""


def _metric_info() -> dict[str, Any]:
    from ..metrics._info import METRIC_INFO  # torch-free (the metrics package is imported lazily)

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

    The quantity is computed from seed means (``delta = mean_s M(model) - mean_s M(reference)``) and decided on its
    confidence interval (``report._compare``): PASS when the whole interval is inside the bound, FAIL when it is
    wholly outside, INCONCLUSIVE otherwise. A comparison whose seed spread could not be measured (every model of the
    comparison audited with one seed) is never a PASS: at best INCONCLUSIVE.

    Args:
        metric: a ``METRIC_INFO`` key or an alias (``fairness_gap``, ``eo``, ``ga``, ``mia``, ``fgsm``, ``ta``...).
        reference: ``"retrain"``, ``"retrain+reweight"``, ``"original"`` or any reference model of the audit;
            ``None`` (default) = the model's own reference (De Min et al. 2025: ``retrain+reweight`` for MIU and
            ``+reweight`` variants, ``retrain`` otherwise).
        warn_margin: WARN (not PASS) when the interval is inside the bound but its far end is within
            ``warn_margin`` of it (same unit as the bound).
        id: short name (pytest items ``unlearn_audit::<id>``); default the metric's alias (``eo``, ``ga``,
            ``fairness_gap``...), with ``_min`` / ``_max`` appended for ``min`` / ``max`` checks.

    Raises:
        ThresholdError: unknown metric, no bound or several, a non-finite bound, a negative ``warn_margin``,
            ``min``/``max`` with a reference, a malformed reference name, ``noise_k`` (removed).
    """

    metric: str
    reference: str | None = None
    max_abs_delta: float | None = None
    max_drop: float | None = None
    max_rel_change: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    warn_margin: float | None = None
    id: str | None = None

    def __init__(self, metric: str, *, reference: str | None = None, max_abs_delta: float | None = None,
                 max_drop: float | None = None, max_rel_change: float | None = None, min_value: float | None = None,
                 max_value: float | None = None, warn_margin: float | None = None, id: str | None = None,
                 **removed: Any) -> None:
        set_ = object.__setattr__
        if "noise_k" in removed:
            raise ThresholdError(f"Check({metric}): {NOISE_K_REMOVED}")
        if removed:
            raise TypeError(f"Check() got unexpected keyword argument(s): {', '.join(sorted(removed))}")
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
        v = None if warn_margin is None else self._number("warn_margin", warn_margin)
        if v is not None and v < 0:
            raise ThresholdError(f"Check({key}): warn_margin must be >= 0, got {v!r}")
        set_(self, "warn_margin", v)
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
        """The bound as given."""
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
        return body

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, text: str, *, source: str = "threshold") -> "Check":
        """Parse the compact form ``metric:kind<op>number[@reference][,warn_margin=W][,id=NAME]``.

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
            if key == "noise_k":
                raise bad(NOISE_K_REMOVED)
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
    @property
    def direction(self) -> str:
        """``"at_least"`` for ``min`` checks (the claim is ``value >= bound``), else ``"at_most"``."""
        return "at_least" if self.kind == "min" else "at_most"

    def quantity_interval(self, interval: "Interval", *, reference_mean: float | None = None
                          ) -> tuple[float, float, float]:
        """``(estimate, lo, hi)`` of the checked quantity from the interval of ``delta`` (checks with a reference)
        or of the model's value (``min`` / ``max``).

        ``abs`` and two-sided ``drop``: ``|delta|``, whose interval is ``[min |.|, max |.|]`` over ``[lo, hi]``, or
        ``[0, max(-lo, hi)]`` when it contains 0; ``drop`` of a higher-is-better metric: ``-delta``; of a
        lower-is-better one: ``delta``; ``rel``: ``|delta| / |M(reference)|`` (the reference mean taken as fixed).

        Raises:
            ValueError: a relative change against a reference mean of 0.
        """
        e, lo, hi = interval.estimate, interval.lo, interval.hi
        if self.kind in ("min", "max"):
            return e, lo, hi
        hib = self.higher_is_better
        if self.kind == "drop" and hib is True:
            return -e, -hi, -lo
        if self.kind == "drop" and hib is False:
            return e, lo, hi
        if self.kind == "rel":
            if not reference_mean:
                raise ValueError(f"{self.compact}: the relative change is undefined (the reference's value is 0)")
            scale = 1.0 / abs(reference_mean)
            e, lo, hi = e * scale, lo * scale, hi * scale
        if lo >= 0:
            return abs(e), lo, hi
        if hi <= 0:
            return abs(e), -hi, -lo
        return abs(e), 0.0, max(-lo, hi)

    def decide(self, interval: "Interval", *, model: str = "model", reference: str | None = None,
               model_value: float | None = None, reference_value: float | None = None,
               n_samples: int | None = None, sample_split: str | None = None, n_model_seeds: int = 1,
               n_reference_seeds: int | None = None) -> Finding:
        """Decide the check from ``interval`` (of ``delta`` for checks with a reference, of the value otherwise).

        PASS when the quantity's whole interval is inside the bound, FAIL when it is wholly outside, INCONCLUSIVE
        otherwise (``Finding.decide`` says what would resolve it); a PASS whose seed spread was not measured
        (``interval.seeds_measured`` is false on a comparison with a reference) is reported INCONCLUSIVE; a PASS
        within ``warn_margin`` of the bound is a WARN.
        """
        from ..stats import decide_at_least, decide_at_most, what_would_decide

        ref_name = (reference or self.reference or "reference") if self.needs_reference else None
        base = dict(check=self.compact, metric=self.metric, model=model, reference=ref_name,
                    model_value=model_value, reference_value=reference_value, level=interval.level,
                    direction=self.direction, bound=self.bound,
                    interval={**interval.to_dict(), "samples": n_samples, "split": sample_split,
                              "model_seeds": n_model_seeds, "reference_seeds": n_reference_seeds,
                              "notes": list(interval.notes)})
        try:
            est, lo, hi = self.quantity_interval(interval, reference_mean=reference_value)
        except ValueError as exc:
            return Finding(status=Status.SKIP, why=str(exc).split(": ", 1)[-1], **base)
        rule = decide_at_least if self.kind == "min" else decide_at_most
        outcome = rule(est, lo, hi, self.bound).outcome
        status = Status(outcome)
        unmeasured = self.needs_reference and not interval.seeds_measured
        if status is Status.PASS and unmeasured:
            status = Status.INCONCLUSIVE
        if status is Status.PASS and self.warn_margin is not None:
            edge = self.bound - hi if self.kind != "min" else lo - self.bound
            if edge < self.warn_margin:
                status = Status.WARN
        decide = ""
        if status is Status.INCONCLUSIVE:
            if unmeasured and outcome == "PASS":
                decide = ("the training-seed spread was not measured (every model of this comparison ran with one "
                          "seed): audit the references with 3 or more seeds (reference_seeds) to make a PASS")
            else:
                # in the units of ``interval`` (of delta): a relative bound is a share of the reference's value
                unit = abs(reference_value) if self.kind == "rel" and reference_value else 1.0
                decide = what_would_decide(interval, distance=abs(self.bound - est) * unit, n_samples=n_samples,
                                           sample_split=sample_split, n_model_seeds=n_model_seeds,
                                           n_reference_seeds=n_reference_seeds)
        why = self._why(status, est, lo, hi, interval.level, model_value, reference_value, ref_name, unmeasured)
        return Finding(status=status, value=est, lo=lo, hi=hi, why=why, decide=decide, **base)

    def _why(self, status: Status, est: float, lo: float, hi: float, level: float, m: float | None,
             r: float | None, ref: str | None, unmeasured: bool) -> str:
        name = self.metric
        fmt = (lambda x: f"{x:.1%}") if self.kind == "rel" else (lambda x: f"{x:.2f}")
        vals = f" ({m:.4g} vs {r:.4g})" if m is not None and r is not None else ""
        what = {"abs": f"|Δ{name}| vs {ref} = {fmt(est)}{vals}",
                "drop": f"drop of {name} vs {ref} = {fmt(est)}{vals}",
                "rel": f"relative change of {name} vs {ref} = {fmt(est)}{vals}",
                "min": f"{name} = {fmt(est)}", "max": f"{name} = {fmt(est)}"}[self.kind]
        pct = f"{level:.0%}" if abs(level * 100 - round(level * 100)) < 1e-9 else f"{level:.2%}"
        ci = f"{pct} CI [{fmt(lo)}, {fmt(hi)}]"
        op = ">=" if self.kind == "min" else "<="
        relation = {Status.PASS: "inside", Status.WARN: "inside, but within the warning margin of,",
                    Status.FAIL: "wholly outside", Status.INCONCLUSIVE: "straddling",
                    Status.SKIP: "not compared with"}[status]
        text = f"{what}, {ci}: {relation} the bound {op} {fmt(self.bound)}"
        if unmeasured:
            text += " (seed spread not measured: sampling noise only)"
        return text


@dataclass(frozen=True)
class Thresholds:
    """An ordered set of checks with distinct ids, applied to an ``AuditReport`` by ``evaluate``.

    ``Thresholds.default()`` holds the documented defaults (``DEFAULT_CHECKS``); ``merge`` overrides checks by id
    (what the pytest plugin does with ``--unlearn-threshold``); ``parse`` builds from compact strings.

    Args:
        checks: ``Check`` objects or compact strings.
        level: confidence level of every interval and decision, in (0, 1) (default 0.95).
        inconclusive: how an INCONCLUSIVE finding gates CI: ``"warn"`` (default), ``"fail"`` or ``"pass"``.
        source: named in error messages (``--unlearn-threshold``, ``fixture unlearn_thresholds``...).

    Raises:
        ThresholdError: a bad check, two checks with one id, a level outside (0, 1), an unknown policy.
    """

    checks: tuple[Check, ...] = field(default=())
    level: float = DEFAULT_LEVEL
    inconclusive: str = "warn"

    def __init__(self, checks: Iterable[Check | str] = (), *, level: float = DEFAULT_LEVEL,
                 inconclusive: str = "warn", source: str = "Thresholds") -> None:
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
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < float(level) < 1.0:
            raise ThresholdError(f"{source}: level must be a number in (0, 1) such as 0.95 (the confidence level "
                                 f"of the intervals), got {level!r}")
        try:
            policy = check_policy(inconclusive, source=f"{source}: inconclusive")
        except ValueError as exc:
            raise ThresholdError(str(exc)) from None
        object.__setattr__(self, "checks", parsed)
        object.__setattr__(self, "level", float(level))
        object.__setattr__(self, "inconclusive", policy)

    @classmethod
    def parse(cls, texts: Iterable[str] | str, *, source: str = "thresholds", level: float = DEFAULT_LEVEL,
              inconclusive: str = "warn") -> "Thresholds":
        """Build from compact strings (one string may hold several separated by ``;`` or newlines)."""
        if isinstance(texts, str):
            texts = [texts]
        items: list[str] = []
        for t in texts:
            if not isinstance(t, str):
                raise ThresholdError(f"{source}: expected check strings, got {type(t).__name__}")
            items.extend(p.strip() for p in re.split(r"[;\n]", t) if p.strip())
        return cls([Check.parse(t, source=source) for t in items], source=source, level=level,
                   inconclusive=inconclusive)

    @classmethod
    def default(cls, *, level: float = DEFAULT_LEVEL, inconclusive: str = "warn") -> "Thresholds":
        """The documented default checks (``DEFAULT_CHECKS``).

        What they claim, each against the model's reference retrain unless stated (De Min et al. 2025: retrain
        + REWEIGHT for MIU and ``+reweight`` variants), each decided on its 95% interval:

        - ``ua:abs<=15``, ``mia:abs<=15``: **forgetting** -- the forget set's accuracy and the share of it a
          membership-inference attacker calls non-member are those of a model that never saw it; ``return model``
          (nothing forgotten) and over-forgetting (e.g. gradient ascent destroying the forget group) both fail;
        - ``ta:drop<=3``, ``ra:drop<=3``: utility preserved on the test split and the retain set;
        - ``eo:abs<=10``: equalized odds around the forget group (De Min et al.);
        - ``ga:drop<=10``: accuracy of the dominant forget group not more than 10 points below the retrain's
          (the group-robustness failure De Min et al. describe);
        - ``fgsm:drop<=10``: FGSM accuracy (Tran & Woo 2025) not more than 10 points below the retrain's.

        The per-layer fairness-gap check of Tran & Woo (``fairness_gap:rel<=0.5@original``) is not a default: on
        ``colored_digits`` the retrain's fairness-gap varies by about 50% of its value across training seeds
        (0.056-0.178 over three seeds), so a relative bound of 50% cannot be decided; add it when your
        references are stable enough.

        The bounds were set from the measured seed spread of the reference retrains on the default scenario and
        validated by ``benchmarks/gate_calibration.py`` (README: "How checks are decided").
        """
        return cls.parse(DEFAULT_CHECKS, source="Thresholds.default", level=level, inconclusive=inconclusive)

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

    def replace(self, *, level: float | None = None, inconclusive: str | None = None,
                source: str = "thresholds") -> "Thresholds":
        """A copy with another ``level`` and/or ``inconclusive`` policy."""
        return Thresholds(self.checks, level=self.level if level is None else level,
                          inconclusive=self.inconclusive if inconclusive is None else inconclusive, source=source)

    def merge(self, overrides: "Thresholds | Iterable[Check | str]", *, source: str = "thresholds") -> "Thresholds":
        """A copy where each check of ``overrides`` replaces the check with the same id (or is appended).

        Within ``overrides`` a later check with an id already seen replaces the earlier one (lowest precedence
        first, as the pytest plugin passes ini, env and command-line checks). Level and policy are kept.
        """
        items = overrides.checks if isinstance(overrides, Thresholds) else [
            Check.parse(c, source=source) if isinstance(c, str) else c for c in overrides]
        out = {c.id: c for c in self.checks}
        for c in items:
            out[c.id] = c
        return Thresholds(list(out.values()), source=source, level=self.level, inconclusive=self.inconclusive)

    def to_list(self) -> list[str]:
        """Compact strings (JSON / ini friendly)."""
        return [c.compact for c in self.checks]

    def evaluate(self, report: "AuditReport", models: Sequence[str] | None = None) -> list[Finding]:
        """One ``Finding`` per check and model.

        Args:
            report: the audit report (its ``uncertainty`` holds the bootstrap variances).
            models: model names to check; default the user's method when the audit has one, else every suite
                method (role ``"method"``).

        A model that failed gets FAIL findings carrying its error; a metric that does not apply to it (or to its
        reference), or a reference missing from the audit, gives SKIP with the reason. A check that cannot see part
        of what it claims (``_blind_spots.annotate_findings``) says so in its ``why`` ("Cannot see: ...").
        """
        if models is None:
            models = checked_models(report)
        names = report.model_names()
        findings = []
        for name in models:
            if name not in names:
                raise KeyError(f"Thresholds.evaluate: no model named {name!r} in the report; models: "
                               f"{', '.join(names)}")
            for check in self.checks:
                findings.append(self._one(report, check, name))
        from ._blind_spots import annotate_findings  # what a check cannot see, as a note on it

        return annotate_findings(report, findings)

    def _one(self, report: "AuditReport", check: Check, name: str) -> Finding:
        from ..report._compare import compare, ok_records, value_interval

        recs = report.records(name)
        base = dict(check=check.compact, metric=check.metric, model=name, direction=check.direction)
        failed = [r for r in recs if r.status != "ok"]
        if failed:
            return Finding(status=Status.FAIL, why=f"the method failed: {failed[0].error}", **base)
        ok = [r for r in recs if r.metrics is not None]
        if not ok:
            return Finding(status=Status.SKIP, why="the model has no metrics", **base)
        missing = _not_applicable(ok, check.metric)
        if missing:
            return Finding(status=Status.SKIP, why=f"{check.metric} does not apply to {name}: {missing}", **base)
        n_samples, split = _sample_size(report, check.metric)
        if not check.needs_reference:
            iv = value_interval(report, name, check.metric, level=self.level)
            assert iv is not None
            return check.decide(iv, model=name, model_value=iv.estimate, n_samples=n_samples, sample_split=split,
                                n_model_seeds=len(ok))
        ref_name = check.reference or ok[0].reference
        base["reference"] = ref_name
        if ref_name is None:
            return Finding(status=Status.SKIP, why=f"{name} has no reference model to compare with", **base)
        ref_recs = ok_records(report, ref_name)
        if not ref_recs:
            why = (f"the reference {ref_name!r} is not part of this audit" if not report.records(ref_name)
                   else f"the reference {ref_name!r} failed or has no metrics")
            return Finding(status=Status.SKIP, why=why, **base)
        missing = _not_applicable(ref_recs, check.metric)
        if missing:
            return Finding(status=Status.SKIP, why=f"{check.metric} does not apply to {ref_name}: {missing}", **base)
        c = compare(report, name, ref_name, check.metric, level=self.level)
        assert c is not None
        n_ref = None if ref_name == "original" else len(c.reference_values)
        finding = check.decide(c.delta, model=name, reference=ref_name, model_value=c.model_mean,
                               reference_value=c.reference_mean, n_samples=n_samples, sample_split=split,
                               n_model_seeds=len(c.model_values), n_reference_seeds=n_ref)
        if finding.status in (Status.FAIL, Status.SKIP):
            return finding
        return _seed_violation(report, check, finding, c.reference_mean, n_samples, split, n_ref) or finding


def _seed_violation(report: "AuditReport", check: Check, finding: Finding, reference_mean: float,
                    n_samples: int | None, split: str | None, n_ref: int | None) -> Finding | None:
    """A FAIL when one seed's model alone is shown to violate the check (``compare_each_seed``: its own interval at
    the Bonferroni level over the seeds wholly outside the bound), else ``None``.

    The seed-mean decision judges the method; this one each model it produced, which is what ships. A method whose
    seeds damage the model by very different amounts has a wide seed-mean interval (its own spread is part of it),
    yet a broken model among them is shown broken against the reference's spread. Under the A/A null every seed's
    model is a draw like the references, so the family-wise false-FAIL rate stays below ``1 - level``.
    """
    from ..report._compare import compare_each_seed

    worst: tuple[float, Finding, int] | None = None
    each = compare_each_seed(report, finding.model, finding.reference or "", check.metric, level=finding.level)
    for sc in each:
        f = check.decide(sc.delta, model=finding.model, reference=finding.reference, model_value=sc.model_value,
                         reference_value=reference_mean, n_samples=n_samples, sample_split=split, n_model_seeds=1,
                         n_reference_seeds=n_ref)
        if f.status is not Status.FAIL or f.lo is None or f.hi is None:
            continue
        beyond = f.lo - check.bound if check.direction == "at_most" else check.bound - f.hi
        if worst is None or beyond > worst[0]:
            worst = (beyond, f, sc.seed)
    if worst is None:
        return None
    _, f, seed = worst
    why = (f"the model of seed {seed} alone is shown to violate it: {f.why} (each seed's interval at "
           f"{f.level:.2%}, Bonferroni over {len(each)} seeds); over the seeds: {finding.why}")
    interval = {**(f.interval or {}), "seed": seed, "seeds_tested": len(each)}
    return replace(f, why=why, interval=interval)


def checked_models(report: "AuditReport") -> list[str]:
    """The models checks apply to by default: the user's method when the audit has one, else every suite method."""
    if report.user_method is not None:
        return [report.user_method]
    return [n for n in report.model_names() if any(r.role == "method" for r in report.records(n))]


_SPLIT_WORDS = {"retain": "retain set", "forget": "forget set", "test": "test split", "val": "val split",
                "attack": "attacked test samples"}


def _sample_size(report: "AuditReport", metric: str) -> tuple[int | None, str | None]:
    """How many evaluation samples a metric's sampling noise comes from, and which split (from the report)."""
    from ..metrics._replicates import METRIC_SPLIT  # numpy only

    split = METRIC_SPLIT.get(metric)
    if split is None:
        return None, None
    sizes = (report.uncertainty or {}).get("sizes", {})
    n = sizes.get(split)
    return (int(n) if n else None), _SPLIT_WORDS.get(split, split)


def _not_applicable(recs: Sequence["ModelRecord"], metric: str) -> str | None:
    for r in recs:
        if metric not in r.values:
            return r.not_applicable.get(metric) or "it was not computed (not requested by the metric config)"
    return None


#: The default checks (see ``Thresholds.default`` for what each claims and how the bounds were chosen).
DEFAULT_CHECKS: tuple[str, ...] = (
    "ua:abs<=15",
    "mia:abs<=15",
    "ta:drop<=3",
    "ra:drop<=3",
    "eo:abs<=10",
    "ga:drop<=10",
    "fgsm:drop<=10",
)
