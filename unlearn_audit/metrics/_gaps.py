"""Gaps against a reference model (De Min et al. 2025): deltas, Avg. Gap and ToW, over one or several seeds.

Inputs are mappings ``key -> value`` (percent) or ``ModelMetrics``; for several seeds, equal-length lists of them
paired by position (model seed ``s`` against reference seed ``s``).
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["DEFAULT_GAP_KEYS", "TOW_KEYS", "deltas", "mean_abs_delta", "avg_gap", "tow"]

DEFAULT_GAP_KEYS = ("RA", "UA", "TA", "MIA", "EO", "GA")
TOW_KEYS = ("RA", "FA", "TA")


def _seeds(m: Any, name: str) -> list[Any]:
    seeds = list(m) if isinstance(m, (list, tuple)) else [m]
    if not seeds:
        raise ValueError(f"{name}: expected a mapping or a non-empty list of per-seed mappings")
    return seeds


def _paired(metrics: Any, reference: Any, fn: str) -> list[tuple[Any, Any]]:
    ms, rs = _seeds(metrics, "metrics"), _seeds(reference, "reference")
    if len(ms) != len(rs):
        raise ValueError(f"{fn}: {len(ms)} seeds of metrics but {len(rs)} of reference; pair them by seed")
    return list(zip(ms, rs))


def _value(m: Any, key: str, fn: str, which: str, seed: int) -> float:
    try:
        return float(m[key])  # ModelMetrics.__getitem__ explains a not-applicable key
    except KeyError as exc:
        msg = exc.args[0] if exc.args and isinstance(exc.args[0], str) and " " in exc.args[0] else "missing"
        raise KeyError(f"{fn}: metric {key!r} of {which} (seed #{seed}): {msg}") from None


def _common_keys(pairs: list[tuple[Any, Any]]) -> list[str]:
    def keys(m: Any) -> list[str]:
        return list(m.values) if hasattr(m, "not_applicable") else list(m)

    first = keys(pairs[0][0])
    return [k for k in first if all(k in keys(m) and k in keys(r) for m, r in pairs)]


def deltas(metrics: Any, reference: Any, *, keys: Sequence[str] | None = None,
           absolute: bool = False) -> dict[str, float]:
    """Per key: ``M(theta) - M(theta_ref)``, or with several seeds the mean over seeds of the per-seed difference.

    ``absolute=True`` gives ``Delta_M = mean_s |M(theta_u^s) - M(theta_ref^s)|`` (absolute value per seed, then
    the mean) instead. ``keys`` defaults to every key present in all of them. NaN propagates.
    """
    pairs = _paired(metrics, reference, "deltas")
    ks = list(keys) if keys is not None else _common_keys(pairs)
    out = {}
    for k in ks:
        ds = [_value(m, k, "deltas", "metrics", s) - _value(r, k, "deltas", "reference", s)
              for s, (m, r) in enumerate(pairs)]
        out[k] = sum(abs(d) for d in ds) / len(ds) if absolute else sum(ds) / len(ds)
    return out


def mean_abs_delta(metrics: Any, reference: Any, *, keys: Sequence[str] = DEFAULT_GAP_KEYS) -> dict[str, float]:
    """``Delta_M = mean over seeds s of |M(theta_u^s) - M(theta_ref^s)|`` per key (in percentage points)."""
    return deltas(metrics, reference, keys=keys, absolute=True)


def avg_gap(metrics: Any, reference: Any, *, keys: Sequence[str] = DEFAULT_GAP_KEYS) -> float:
    """Avg. Gap (De Min et al. 2025, Eq. 12, in percent; higher is better):

        ``avg_gap = 100 - mean_{M in keys} Delta_M``,  ``Delta_M = mean_s |M(theta_u^s) - M(theta_ref^s)|``

    with ``keys`` = {RA, UA, TA, MIA, EO, GA} by default. 100 means indistinguishable from the reference on these
    metrics (a model against itself scores exactly 100). GRMU's code reports ``mean_M Delta_M`` itself (lower is
    better): that is ``100 - avg_gap`` (``mean_abs_delta``).

    Raises:
        KeyError: a key is missing or not applicable in some seed (the message says which and why).
        ValueError: different numbers of seeds, or no keys.
    """
    if not keys:
        raise ValueError("avg_gap: keys is empty")
    d = mean_abs_delta(metrics, reference, keys=keys)
    return 100.0 - sum(d.values()) / len(d)


def tow(metrics: Any, reference: Any, *, keys: Sequence[str] = TOW_KEYS) -> float:
    """Tug-of-war (De Min et al. 2025, in percent; higher is better):

        ``ToW = 100 * prod_{M in {RA, FA, TA}} (1 - |M(theta) - M(theta_ref)| / 100)``

    computed per seed and averaged over seeds. A model against itself scores exactly 100.
    """
    vals = []
    for s, (m, r) in enumerate(_paired(metrics, reference, "tow")):
        p = 1.0
        for k in keys:
            p *= 1.0 - abs(_value(m, k, "tow", "metrics", s) - _value(r, k, "tow", "reference", s)) / 100.0
        vals.append(100.0 * p)
    return sum(vals) / len(vals)
