"""Correlations with p-values (scipy), and the two-sample KS test of forget-set losses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["Correlation", "pearson", "spearman", "ks_forget_quality"]


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
