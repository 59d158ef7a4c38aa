"""Correlations with p-values (scipy), and the two-sample KS test of forget-set losses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ._intervals import Interval

__all__ = ["Correlation", "pearson", "spearman", "correlation_interval", "ks_forget_quality"]


@dataclass(frozen=True)
class Correlation:
    """A correlation coefficient ``r`` over ``n`` pairs with its two-sided p-value (``nan`` when undefined)."""

    r: float
    p: float
    n: int


def _pairs(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"correlation: {x.size} and {y.size} values; expected pairs")
    return x, y


def _undefined(x: np.ndarray, y: np.ndarray) -> bool:
    return x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0


def pearson(a: Sequence[float], b: Sequence[float]) -> Correlation:
    """Pearson's ``r`` and its p-value (``scipy.stats.pearsonr``); ``nan`` with < 3 pairs or a constant side."""
    x, y = _pairs(a, b)
    if _undefined(x, y):
        return Correlation(math.nan, math.nan, int(x.size))
    from scipy import stats

    res = stats.pearsonr(x, y)
    return Correlation(float(res.statistic), float(res.pvalue), int(x.size))


def spearman(a: Sequence[float], b: Sequence[float]) -> Correlation:
    """Spearman's rank correlation and its p-value (``scipy.stats.spearmanr``, ties get mean ranks)."""
    x, y = _pairs(a, b)
    if _undefined(x, y):
        return Correlation(math.nan, math.nan, int(x.size))
    from scipy import stats

    res = stats.spearmanr(x, y)
    return Correlation(float(res.statistic), float(res.pvalue), int(x.size))


def correlation_interval(c: Correlation, *, level: float = 0.95, kind: str = "spearman") -> "Interval":
    """Confidence interval of a correlation by Fisher's z transform: ``tanh(atanh(r) -+ q se)``.

    ``se = 1 / sqrt(n - 3)`` for Pearson's r; ``sqrt((1 + r^2 / 2) / (n - 3))`` for Spearman's rho (Bonett & Wright
    2000). The returned ``Interval`` is on the correlation scale (its ``se`` is the z-scale one). It assumes
    independent pairs.

    Raises:
        ValueError: fewer than 4 pairs, an undefined correlation, or an unknown ``kind``.
    """
    from ._intervals import Interval, check_level, t_quantile

    level = check_level(level)
    if kind not in ("spearman", "pearson"):
        raise ValueError(f"correlation_interval: kind must be 'spearman' or 'pearson', got {kind!r}")
    if c.n < 4 or not math.isfinite(c.r):
        raise ValueError(f"correlation_interval: needs a defined correlation over >= 4 pairs, got r={c.r}, n={c.n}")
    r = min(max(c.r, -0.999999), 0.999999)
    se = math.sqrt((1 + r * r / 2 if kind == "spearman" else 1.0) / (c.n - 3))
    q = t_quantile((1 + level) / 2, math.inf)
    z = math.atanh(r)
    return Interval(c.r, math.tanh(z - q * se), math.tanh(z + q * se), level, se, math.inf, se * se, 0.0, False,
                    (f"Fisher z interval of {kind} r over {c.n} pairs",))


def ks_forget_quality(model_losses: Sequence[Any], reference_losses: Sequence[Any]) -> dict[str, float]:
    """Two-sample Kolmogorov-Smirnov test of the forget-set loss distributions of a model and its reference.

    ``model_losses`` / ``reference_losses``: one array of per-sample forget losses per seed. The test is run for
    every (model seed, reference seed) pair (``scipy.stats.ks_2samp``, exact or asymptotic as scipy chooses) and the
    medians are reported: ``{"ks": median D, "p": median p-value, "pairs": count}``. A high p-value (TOFU's "forget
    quality", Maini et al. 2024) means the unlearned model's forget losses look like the retrain's; a tiny one that
    they do not, whatever the averages say. Pairs run over seeds, not pooled, because the seeds of one model share
    the same forget samples (pooling would count them as independent).
    """
    from scipy import stats

    ds, ps = [], []
    for m in model_losses:
        for r in reference_losses:
            m_, r_ = np.asarray(m, np.float64).ravel(), np.asarray(r, np.float64).ravel()
            if m_.size == 0 or r_.size == 0:
                continue
            res = stats.ks_2samp(m_, r_)
            ds.append(float(res.statistic))
            ps.append(float(res.pvalue))
    if not ds:
        return {"ks": math.nan, "p": math.nan, "pairs": 0}
    return {"ks": float(np.median(ds)), "p": float(np.median(ps)), "pairs": len(ds)}
