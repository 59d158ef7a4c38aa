"""Confidence intervals: Student-t quantiles, mean/std/CI over seeds, and the sample + seed variance combination.

The interval of every audited quantity ``Q`` (a metric, or a difference to a reference) is

    Q_hat +- q * sqrt(V_sample + V_seed),      q = t_{(1 + level) / 2, df}

- ``V_sample``: the variance of ``Q_hat`` over the replicates of the paired, group-stratified bootstrap over
  evaluation samples (models fixed; see ``StratifiedBootstrap``);
- ``V_seed``: the training-seed variance of ``Q_hat`` (evaluation samples fixed), from the between-seed spread of the
  models audited with several seeds (``pooled_seed_variance``);
- ``df``: Welch-Satterthwaite, ``(V_sample + V_seed)^2 / (V_seed^2 / df_seed)`` (the bootstrap part is taken as
  known, infinite df); ``q`` is the normal quantile when ``V_seed = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["Interval", "t_quantile", "mean_std_ci", "combine_variances", "pooled_seed_variance"]


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (the normal quantile for ``df = inf``).

    Raises:
        ValueError: ``p`` outside (0, 1) or ``df <= 0``.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p!r}")
    if not df > 0:
        raise ValueError(f"t_quantile: df must be > 0, got {df!r}")
    from scipy import stats

    return float(stats.norm.ppf(p) if math.isinf(df) else stats.t.ppf(p, df))


def check_level(level: Any, *, source: str = "level") -> float:
    """``level`` as a float in (0, 1), or a ``ValueError`` naming ``source``."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < float(level) < 1.0:
        raise ValueError(f"{source}: the interval level must be a number in (0, 1) such as 0.95, got {level!r}")
    return float(level)


def mean_std_ci(xs: Sequence[float], *, level: float = 0.95) -> dict[str, float]:
    """Mean, sample standard deviation (ddof 1) and the half-width ``t_{(1+level)/2, n-1} * std / sqrt(n)`` of the
    t-interval of the mean over ``n`` values (half-width 0 for a single value)."""
    n = len(xs)
    if n == 0:
        raise ValueError("mean_std_ci: no values")
    mean = math.fsum(xs) / n
    if n < 2:
        return {"mean": mean, "std": 0.0, "ci": 0.0, "n": n}
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    return {"mean": mean, "std": std, "ci": t_quantile((1 + level) / 2, n - 1) * std / math.sqrt(n), "n": n}


def pooled_seed_variance(groups: Sequence[Sequence[float]]) -> tuple[float | None, int]:
    """The pooled between-seed variance ``s_p^2 = sum_g sum_i (x_gi - mean_g)^2 / sum_g (n_g - 1)`` over the groups
    with at least two values (each group = one model's per-seed values), and its degrees of freedom
    ``sum_g (n_g - 1)``; ``(None, 0)`` when no group has two values. Pooling assumes the models share one
    training-seed variance (the pooled two-sample t-test's assumption)."""
    ss, df = 0.0, 0
    for xs in groups:
        xs = [float(x) for x in xs]
        if len(xs) < 2:
            continue
        m = math.fsum(xs) / len(xs)
        ss += math.fsum((x - m) ** 2 for x in xs)
        df += len(xs) - 1
    return (ss / df, df) if df else (None, 0)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided confidence interval.

    Attributes:
        estimate: the point estimate ``Q_hat``.
        lo, hi: the interval ``Q_hat -+ q * se``.
        level: the confidence level (0.95 = 95%).
        se: ``sqrt(sample_var + seed_var)``.
        df: degrees of freedom of ``q`` (``inf``: normal).
        sample_var: the bootstrap variance over evaluation samples.
        seed_var: the training-seed variance (0 when not measured).
        seeds_measured: whether the seed spread could be measured (some model of the comparison had >= 2 seeds).
        notes: how it was computed, in words (for the report).
    """

    estimate: float
    lo: float
    hi: float
    level: float
    se: float
    df: float
    sample_var: float
    seed_var: float
    seeds_measured: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0

    @property
    def quantile(self) -> float:
        return self.half_width / self.se if self.se > 0 else t_quantile((1 + self.level) / 2, self.df)

    def scaled(self, factor: float) -> "Interval":
        """The interval of ``factor * Q`` (a negative factor swaps the ends)."""
        lo, hi = sorted((self.lo * factor, self.hi * factor))
        return Interval(self.estimate * factor, lo, hi, self.level, self.se * abs(factor), self.df,
                        self.sample_var * factor ** 2, self.seed_var * factor ** 2, self.seeds_measured, self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "lo": self.lo, "hi": self.hi, "level": self.level, "se": self.se,
                "df": None if math.isinf(self.df) else self.df, "sample_var": self.sample_var,
                "seed_var": self.seed_var, "seeds_measured": self.seeds_measured}


def combine_variances(estimate: float, *, sample_var: float, seed_var: float = 0.0, seed_df: float = math.inf,
                      level: float = 0.95, seeds_measured: bool = True, notes: Sequence[str] = ()) -> Interval:
    """``estimate +- t_{(1+level)/2, df} * sqrt(sample_var + seed_var)`` with Welch-Satterthwaite ``df`` (see the
    module docstring)."""
    level = check_level(level)
    sample_var, seed_var = max(float(sample_var), 0.0), max(float(seed_var), 0.0)
    total = sample_var + seed_var
    if seed_var > 0 and math.isfinite(seed_df):
        df = total ** 2 / (seed_var ** 2 / seed_df)
    else:
        df = math.inf
    se = math.sqrt(total)
    q = t_quantile((1 + level) / 2, df)
    return Interval(float(estimate), float(estimate) - q * se, float(estimate) + q * se, level, se, df, sample_var,
                    seed_var, seeds_measured, tuple(notes))
