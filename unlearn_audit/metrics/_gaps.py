"""Gaps against a reference model (seed 004, spec A5): deltas, Avg. Gap and ToW."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["deltas", "avg_gap", "mean_abs_delta", "tow", "DEFAULT_GAP_KEYS"]

DEFAULT_GAP_KEYS = ("RA", "UA", "TA", "MIA", "EO", "GA")


def _values(m: Any) -> Mapping[str, float]:
    return m.values if hasattr(m, "values") and isinstance(getattr(m, "values"), dict) else m


def _as_seeds(m: Any) -> list[Mapping[str, float]]:
    return [_values(x) for x in m] if isinstance(m, (list, tuple)) else [_values(m)]


def deltas(metrics: Any, reference: Any, *, keys: Sequence[str] | None = None) -> dict[str, float]:
    """Signed ``M(theta) - M(theta_ref)`` for every key both have (or ``keys``)."""
    m, r = _values(metrics), _values(reference)
    ks = keys if keys is not None else [k for k in m if k in r]
    return {k: float(m[k]) - float(r[k]) for k in ks}


def mean_abs_delta(metrics: Any, reference: Any, *, keys: Sequence[str] = DEFAULT_GAP_KEYS) -> dict[str, float]:
    """``Delta_M = mean over seeds s of |M(theta_u^s) - M(theta_ref^s)|`` per key (seeds paired by position)."""
    ms, rs = _as_seeds(metrics), _as_seeds(reference)
    if len(ms) != len(rs):
        raise ValueError(f"avg_gap: {len(ms)} seeds of metrics but {len(rs)} of reference; pair them by seed")
    return {k: sum(abs(float(m[k]) - float(r[k])) for m, r in zip(ms, rs)) / len(ms) for k in keys}


def avg_gap(metrics: Any, reference: Any, *, keys: Sequence[str] = DEFAULT_GAP_KEYS) -> float:
    """Avg. Gap (seed 004, Eq. 12, in percent): ``100 - mean_{M in keys} Delta_M`` with ``Delta_M`` the mean over
    seeds of ``|M(theta_u^s) - M(theta_ref^s)|``. 100 means indistinguishable from the reference on these
    metrics. ``metrics``/``reference`` are mappings (or ``ModelMetrics``), or equal-length lists of them per seed.
    """
    d = mean_abs_delta(metrics, reference, keys=keys)
    return 100.0 - sum(d.values()) / len(d)


def tow(metrics: Any, reference: Any, *, keys: Sequence[str] = ("RA", "FA", "TA")) -> float:
    """Tug-of-war (seed 004): ``100 * prod_{M in {RA, FA, TA}} (1 - |M(theta) - M(theta_ref)| / 100)``,
    averaged over seeds."""
    ms, rs = _as_seeds(metrics), _as_seeds(reference)
    vals = []
    for m, r in zip(ms, rs):
        p = 1.0
        for k in keys:
            p *= 1.0 - abs(float(m[k]) - float(r[k])) / 100.0
        vals.append(100.0 * p)
    return sum(vals) / len(vals)
