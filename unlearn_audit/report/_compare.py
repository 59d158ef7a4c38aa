"""The one definition of "a model against its reference": per-seed values, the difference and its interval.

Every renderer, ``AuditReport.gap`` and every threshold check goes through ``compare`` (or ``value_interval``), so
a difference is computed, and its uncertainty stated, the same way everywhere:

- the estimate of a model's metric is the mean over its seeds that ran; the difference to a reference is
  ``delta = mean_s M(model, s) - mean_s' M(reference, s')`` (seed means: the seeds of the two models are independent
  draws, so they are not paired by number);
- its interval combines (``stats.combine_variances``) the paired bootstrap variance over evaluation samples that
  the audit stored (``report.uncertainty``) with the training-seed variance ``s_p^2 * (1 / n_model + 1 / n_ref)``,
  ``s_p^2`` the between-seed variance pooled over the model and its reference, those of the two audited with
  >= 2 seeds (``stats.pooled_seed_variance``; the pooled two-sample t-test's assumption of one seed variance for
  both). A model audited with one seed gets its reference's spread as its own; the original is one fixed model
  (no seed term of its own), and a comparison where neither side has two seeds borrows the other references'. Without any model of >= 2 seeds the seed part cannot be
  measured, and the interval says so (``seeds_measured=False``);
- the paper's Avg. Gap term (De Min et al. 2025, footnote 3) ``mean_s |M(model, s) - M(ref, s)|`` over the seeds
  both have is ``abs_paired``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..stats import Interval
    from ._report import AuditReport, ModelRecord

# ``..stats`` (numpy) is imported inside the functions: the check vocabulary imports this package and must stay
# light for a pytest run that only parses options.

__all__ = ["Comparison", "compare", "compare_each_seed", "value_interval", "ok_records", "INTERVAL_METHOD"]

#: How every interval is computed, in words (the report quotes it).
INTERVAL_METHOD = ("paired, group-stratified bootstrap over evaluation samples (every model resampled on the same "
                   "samples; samples the data declares as one cluster, e.g. copies of one image, drawn together) "
                   "combined with the training-seed variance pooled over the compared model and its reference "
                   "(those audited with several seeds); Student-t quantile with Welch-Satterthwaite degrees of "
                   "freedom")


def ok_records(report: "AuditReport", name: str, metric: str | None = None) -> list["ModelRecord"]:
    """The records of ``name`` that ran and (with ``metric``) have that metric."""
    return [r for r in report.records(name) if r.status == "ok" and r.metrics is not None
            and (metric is None or metric in r.values)]


def _mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs)


def _uncertainty(report: "AuditReport") -> dict[str, Any]:
    return report.uncertainty or {}


def _level(report: "AuditReport", level: float | None) -> float:
    return float(level if level is not None else _uncertainty(report).get("level", 0.95))


def _seed_pool(report: "AuditReport", metric: str, *models: str) -> tuple[float | None, int, int]:
    """Pooled between-seed variance of ``metric``: ``(s2, df, models pooled)``.

    With ``models`` (a compared model and its reference): pooled over those of them with >= 2 seeds, so a
    comparison's seed noise is estimated from the two training recipes it compares and never from another
    reference's (on ``colored_digits`` the plain retrain's UA varies 14x more across seeds than retrain +
    REWEIGHT's, and pooling them would understate it). When neither has two seeds, and without ``models``, pooled
    over every reference model with >= 2 seeds."""
    from ..stats import pooled_seed_variance

    def pool(names: list[str]) -> tuple[float | None, int, int]:
        groups = [[r.values[metric] for r in ok_records(report, n, metric)] for n in names]
        groups = [g for g in groups if len(g) >= 2]
        s2, df = pooled_seed_variance(groups)
        return s2, df, len(groups)

    own = [n for n in dict.fromkeys(models) if n != "original"]
    if own:
        s2, df, pooled = pool(own)
        if s2 is not None:
            return s2, df, pooled
    return pool([n for n in report.model_names() if any(r.role == "reference" for r in report.records(n))])


def value_interval(report: "AuditReport", name: str, metric: str, *, level: float | None = None) -> Interval | None:
    """The interval of a model's metric (mean over its seeds): bootstrap variance + its own seed spread when it has
    >= 2 seeds (a one-seed model's interval is about that model: sampling noise only). ``None`` without values."""
    from ..stats import combine_variances

    recs = ok_records(report, name, metric)
    if not recs:
        return None
    xs = [r.values[metric] for r in recs]
    vs = _uncertainty(report).get("sample_var", {}).get(name, {}).get(metric)
    notes = [] if vs is not None else ["no per-sample outcomes: sampling noise not included"]
    seed_var, df = 0.0, math.inf
    if len(xs) >= 2:
        m = _mean(xs)
        s2 = math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1)
        seed_var, df = s2 / len(xs), len(xs) - 1
    return combine_variances(_mean(xs), sample_var=vs or 0.0, seed_var=seed_var, seed_df=df,
                             level=_level(report, level), seeds_measured=len(xs) >= 2, notes=notes)


@dataclass(frozen=True)
class Comparison:
    """A model's metric against a reference's.

    Attributes:
        model, reference, metric: what is compared.
        model_values, reference_values: per-seed values that ran, in seed order.
        model_seeds, reference_seeds: their seeds.
        delta: the interval of ``mean(model) - mean(reference)`` (see the module docstring).
        abs_paired: ``mean_s |M(model, s) - M(ref, s)|`` over the seeds both have (``None`` when none is shared).
        seed_models: how many models the seed variance was pooled over (0 = not measured).
    """

    model: str
    reference: str
    metric: str
    model_values: tuple[float, ...]
    reference_values: tuple[float, ...]
    model_seeds: tuple[int, ...]
    reference_seeds: tuple[int, ...]
    delta: "Interval"
    abs_paired: float | None
    seed_models: int

    @property
    def model_mean(self) -> float:
        return _mean(list(self.model_values))

    @property
    def reference_mean(self) -> float:
        return _mean(list(self.reference_values))


def compare(report: "AuditReport", name: str, reference: str, metric: str, *,
            level: float | None = None) -> Comparison | None:
    """``name`` against ``reference`` on ``metric``; ``None`` when either has no value for it."""
    from ..stats import combine_variances

    m_recs, r_recs = ok_records(report, name, metric), ok_records(report, reference, metric)
    if not m_recs or not r_recs:
        return None
    ms, rs = [r.values[metric] for r in m_recs], [r.values[metric] for r in r_recs]
    unc = _uncertainty(report)
    vs = unc.get("delta_sample_var", {}).get(name, {}).get(reference, {}).get(metric)
    notes = []
    if vs is None:
        a = unc.get("sample_var", {}).get(name, {}).get(metric)
        b = unc.get("sample_var", {}).get(reference, {}).get(metric)
        if a is not None and b is not None:
            vs, notes = a + b, ["unpaired: the bootstrap of this pair was not stored, variances added"]
        else:
            vs, notes = 0.0, ["no per-sample outcomes: sampling noise not included"]
    fixed_reference = reference == "original"
    s2, df, pooled = _seed_pool(report, metric, name, reference)
    if s2 is None:
        seed_var, seed_df, measured = 0.0, math.inf, False
    else:
        seed_var = s2 * (1.0 / len(ms) + (0.0 if fixed_reference else 1.0 / len(rs)))
        seed_df, measured = float(df), True
    delta = combine_variances(_mean(ms) - _mean(rs), sample_var=vs, seed_var=seed_var, seed_df=seed_df,
                              level=_level(report, level), seeds_measured=measured, notes=notes)
    by_seed = {r.seed: r.values[metric] for r in r_recs}
    shared = [abs(r.values[metric] - by_seed[r.seed]) for r in m_recs if r.seed in by_seed]
    if not shared and len(r_recs) == 1:  # a single reference model (the original) serves every seed
        shared = [abs(x - rs[0]) for x in ms]
    return Comparison(model=name, reference=reference, metric=metric, model_values=tuple(ms),
                      reference_values=tuple(rs), model_seeds=tuple(r.seed for r in m_recs),
                      reference_seeds=tuple(r.seed for r in r_recs), delta=delta,
                      abs_paired=_mean(shared) if shared else None, seed_models=pooled)


@dataclass(frozen=True)
class SeedComparison:
    """One seed's model against its reference's seed mean (``compare_each_seed``)."""

    seed: int
    model_value: float
    delta: "Interval"


def compare_each_seed(report: "AuditReport", name: str, reference: str, metric: str, *,
                      level: float | None = None) -> list[SeedComparison]:
    """Each seed's model of ``name`` alone against ``reference``, at the Bonferroni level over its seeds.

    For seed ``s`` of ``n`` (``n >= 2``): ``delta_s = M(model, s) - mean_s' M(reference, s')`` with the variance
    of that difference over the stored paired bootstrap replicates plus the seed variance of one model against a
    seed mean, ``s_r^2 * (1 + 1 / n_ref)``, where ``s_r^2`` is the *reference's* between-seed variance (pooled
    over the references when it has fewer than two seeds): the interval a one-seed audit of that model would get,
    so a method whose own seeds spread widely cannot hide a broken model behind its spread. The level is
    ``1 - (1 - level) / n``, so that the chance that any of the ``n`` intervals misses is at most ``1 - level``.
    Empty when the model has fewer than two seeds, the reference is the original (one fixed model) or the
    per-seed bootstrap was not stored.
    """
    from ..stats import combine_variances

    m_recs, r_recs = ok_records(report, name, metric), ok_records(report, reference, metric)
    per_seed = _uncertainty(report).get("seed_delta_sample_var", {}).get(name, {})
    if len(m_recs) < 2 or not r_recs or reference == "original" or not per_seed:
        return []
    rs = [r.values[metric] for r in r_recs]
    s2, df, _ = _seed_pool(report, metric, reference)
    if s2 is None:
        return []
    n = len(m_recs)
    each_level = 1.0 - (1.0 - _level(report, level)) / n
    out = []
    for rec in m_recs:
        vs = per_seed.get(str(rec.seed), {}).get(reference, {}).get(metric)
        if vs is None:
            return []
        delta = combine_variances(rec.values[metric] - _mean(rs), sample_var=vs, seed_var=s2 * (1.0 + 1.0 / len(rs)),
                                  seed_df=float(df), level=each_level, seeds_measured=True,
                                  notes=[f"seed {rec.seed}'s model alone, Bonferroni level over {n} seeds"])
        out.append(SeedComparison(seed=rec.seed, model_value=rec.values[metric], delta=delta))
    return out
