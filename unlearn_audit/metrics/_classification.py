"""Accuracy and group-fairness metrics as pure functions on label tensors (values in percent).

Conventions: inputs are 1-d integer tensors (or anything ``torch.as_tensor`` takes) of equal length; an empty
selection gives ``nan`` (the engine turns every ``nan`` into a *not applicable* entry with its reason). All
reductions are vectorised (``bincount``); the only Python loops run over groups or attribute values, never over
samples.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Literal, Sequence

import torch

__all__ = ["accuracy", "group_accuracy", "worst_group_accuracy", "dominant_group_accuracy", "equalized_odds",
           "demographic_parity", "equal_opportunity"]

Between = Literal["pairs_mean", "max_min"]
Agg = Literal["mean", "worst_case"]


def _t(v: Any) -> torch.Tensor:
    t = v.detach() if isinstance(v, torch.Tensor) else torch.as_tensor(v)
    return t.flatten().cpu().to(torch.int64)


def _same_length(*ts: torch.Tensor) -> None:
    if len({t.numel() for t in ts}) > 1:
        raise ValueError(f"inputs have different lengths: {[t.numel() for t in ts]}")


def _rates(hits: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None) -> dict[int, float]:
    """``{k: mean(hits | key == k)}`` for every key value present (after ``mask``), by two bincounts."""
    if mask is not None:
        hits, keys = hits[mask], keys[mask]
    if keys.numel() == 0:
        return {}
    n = int(keys.max()) + 1
    num = torch.bincount(keys, weights=hits.to(torch.float64), minlength=n)
    den = torch.bincount(keys, minlength=n)
    present = den.nonzero().flatten()
    return dict(zip(present.tolist(), (num[present] / den[present]).tolist()))


def accuracy(y_true: Any, y_pred: Any) -> float:
    """``100 * mean(y_pred == y_true)``; ``nan`` when empty."""
    y_true, y_pred = _t(y_true), _t(y_pred)
    _same_length(y_true, y_pred)
    if y_true.numel() == 0:
        return float("nan")
    return 100.0 * float((y_true == y_pred).double().mean())


def group_accuracy(y_true: Any, y_pred: Any, groups: Any) -> dict[int, float]:
    """Accuracy (%) of every group id present in ``groups`` (e.g. ``g = a + y * n_attrs``), in one pass."""
    y_true, y_pred, groups = _t(y_true), _t(y_pred), _t(groups)
    _same_length(y_true, y_pred, groups)
    return {g: 100.0 * r for g, r in _rates(y_true == y_pred, groups).items()}


def worst_group_accuracy(y_true: Any, y_pred: Any, groups: Any) -> float:
    """WG = ``min_g acc_g`` over the groups present; ``nan`` when empty."""
    accs = group_accuracy(y_true, y_pred, groups)
    return min(accs.values()) if accs else float("nan")


def _isin(values: torch.Tensor, allowed: Iterable[int]) -> torch.Tensor:
    return torch.isin(values, torch.tensor(sorted({int(v) for v in allowed}), dtype=values.dtype))


def _as_groups(groups: Any) -> list[tuple[int, int]]:
    if isinstance(groups, tuple) and len(groups) == 2 and all(isinstance(v, int) for v in groups):
        groups = [groups]
    out = [(int(g[0]), int(g[1])) for g in groups]
    if not out:
        raise ValueError("groups: expected at least one (y, a) pair")
    return out


def dominant_group_accuracy(y_true: Any, y_pred: Any, y_attr: Any,
                            groups: Sequence[tuple[int, int]] | tuple[int, int]) -> float:
    """GA: ``100 * acc`` over the samples with ``y in T*`` **and** ``a in S*``, where ``T*`` / ``S*`` are
    the label / attribute values of the dominant forget group(s) (several groups give the cross product
    ``T* x S*``, De Min et al. 2025's convention). ``nan`` when no sample falls in it."""
    y_true, y_pred, y_attr = _t(y_true), _t(y_pred), _t(y_attr)
    _same_length(y_true, y_pred, y_attr)
    gs = _as_groups(groups)
    mask = _isin(y_true, (g[0] for g in gs)) & _isin(y_attr, (g[1] for g in gs))
    if not mask.any():
        return float("nan")
    return 100.0 * float((y_true == y_pred)[mask].double().mean())


def _between(rates: dict[int, float], how: Between) -> float:
    """Spread of per-attribute rates: mean of ``|r_i - r_j|`` over pairs, or ``max - min``."""
    if len(rates) < 2:
        return float("nan")
    r = torch.tensor(list(rates.values()), dtype=torch.float64)
    if how == "max_min":
        return float(r.max() - r.min())
    if how != "pairs_mean":
        raise ValueError(f"between: expected 'pairs_mean' or 'max_min', got {how!r}")
    i, j = torch.triu_indices(len(r), len(r), offset=1)
    return float((r[i] - r[j]).abs().mean())


def _reduce(parts: list[float], agg: Agg) -> float:
    parts = [p for p in parts if p == p]
    if not parts:
        return float("nan")
    return 100.0 * (sum(parts) / len(parts) if agg == "mean" else max(parts))


def equalized_odds(y_true: Any, y_pred: Any, attr: Any, *, agg: Agg = "mean", positive: int | None = None,
                   dominant: Sequence[tuple[int, int]] | tuple[int, int] | None = None,
                   between: Between = "pairs_mean") -> float:
    """Equalized odds (x100, in ``[0, 100]``, lower is fairer).

    **Binarised form** (``dominant=(y*, a*)`` or several groups, De Min et al. 2025's "EO"; what ``evaluate``
    reports): ``t = 1[y in T*]``, ``s = 1[a in S*]``, cell accuracies ``A[t][s] = mean 1[yhat == y]`` over test
    samples with ``(t, s)`` (exact-class correctness, so it works for multi-class tasks), and

        ``EO = 100 * agg_{t in {0,1}} |A[t][0] - A[t][1]|``  (``agg`` = mean, or max for ``"worst_case"``).

    For a binary task with ``T* = {1}`` this is ``agg(|TPR_0 - TPR_1|, |FPR_0 - FPR_1|)``, i.e. the average odds
    difference for ``agg="mean"``. A ``t`` with an empty cell is dropped with a warning; ``nan`` when
    no ``t`` is left.

    **Standard form** (no ``dominant``; binary task, ``positive`` defaults to 1): ``TPR_a = P(yhat=pos | y=pos, a)``,
    ``FPR_a = P(yhat=pos | y!=pos, a)``; ``d_TPR`` / ``d_FPR`` = spread between attribute values (``between=
    "pairs_mean"``: mean over attribute pairs of ``|.|``, the project default; ``"max_min"``: max - min, which is
    fairlearn's ``between_groups``; both agree for a binary attribute); EO = ``100 * agg(d_TPR, d_FPR)``.

    Raises:
        ValueError: a multi-class task (labels > 1) without ``dominant`` or ``positive``, or a bad ``agg``.
    """
    if agg not in ("mean", "worst_case"):
        raise ValueError(f"agg: expected 'mean' or 'worst_case', got {agg!r}")
    y_true, y_pred, attr = _t(y_true), _t(y_pred), _t(attr)
    _same_length(y_true, y_pred, attr)
    if dominant is not None:
        gs = _as_groups(dominant)
        t = _isin(y_true, (g[0] for g in gs)).long()
        s = _isin(attr, (g[1] for g in gs)).long()
        acc = _rates(y_true == y_pred, 2 * t + s)  # cell key 2t + s
        gaps = []
        for tv in (0, 1):
            if 2 * tv in acc and 2 * tv + 1 in acc:
                gaps.append(abs(acc[2 * tv] - acc[2 * tv + 1]))
            elif (2 * tv in acc) != (2 * tv + 1 in acc):
                warnings.warn(f"equalized_odds: the cell t={tv} (y {'in' if tv else 'not in'} T*) has samples on "
                              f"one side of the attribute only; it is left out of the aggregate", stacklevel=2)
        return _reduce(gaps, agg)
    if positive is None:
        if y_true.numel() and max(int(y_true.max()), int(y_pred.max())) > 1:
            raise ValueError("equalized_odds: labels > 1 (multi-class task); pass dominant=(y, a) for the binarised "
                             "form (De Min et al. 2025), or positive=<class> for a one-vs-rest form")
        positive = 1
    pred_pos = y_pred == positive
    is_pos = y_true == positive
    tpr = _rates(pred_pos, attr, is_pos)
    fpr = _rates(pred_pos, attr, ~is_pos)
    return _reduce([_between(tpr, between), _between(fpr, between)], agg)


def demographic_parity(y_pred: Any, attr: Any, *, positive: int = 1, between: Between = "pairs_mean") -> float:
    """Demographic parity difference (x100): spread of the selection rate ``P(yhat = pos | a)`` between attribute
    values (mean of ``|.|`` over pairs by default; ``between="max_min"`` = fairlearn's
    ``demographic_parity_difference``). ``nan`` with fewer than two attribute values."""
    y_pred, attr = _t(y_pred), _t(attr)
    _same_length(y_pred, attr)
    return 100.0 * _between(_rates(y_pred == positive, attr), between)


def equal_opportunity(y_true: Any, y_pred: Any, attr: Any, *, positive: int = 1,
                      between: Between = "pairs_mean") -> float:
    """Equal opportunity difference (x100): spread of ``TPR_a = P(yhat = pos | y = pos, a)`` between attribute
    values (pairs mean by default; ``"max_min"`` = fairlearn's ``equal_opportunity_difference``). ``nan`` with
    fewer than two attribute values having a positive sample."""
    y_true, y_pred, attr = _t(y_true), _t(y_pred), _t(attr)
    _same_length(y_true, y_pred, attr)
    return 100.0 * _between(_rates(y_pred == positive, attr, y_true == positive), between)
