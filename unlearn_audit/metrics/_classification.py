"""Accuracy and group-fairness metrics as pure functions on label tensors (values in percent).

Conventions: inputs are 1-d integer tensors of equal length; an empty selection gives ``nan``.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Literal, Sequence

import torch

__all__ = ["accuracy", "group_accuracy", "worst_group_accuracy", "dominant_group_accuracy", "equalized_odds",
           "demographic_parity", "equal_opportunity"]

Between = Literal["pairs_mean", "max_min"]


def _t(v) -> torch.Tensor:
    return (v if isinstance(v, torch.Tensor) else torch.as_tensor(v)).flatten().cpu()


def _rate(hits: torch.Tensor, mask: torch.Tensor) -> float:
    n = int(mask.sum())
    return float(hits[mask].double().mean()) if n else float("nan")


def accuracy(y_true, y_pred) -> float:
    """``100 * mean(y_pred == y_true)``; ``nan`` when empty."""
    y_true, y_pred = _t(y_true), _t(y_pred)
    if y_true.numel() == 0:
        return float("nan")
    return 100.0 * float((y_true == y_pred).double().mean())


def group_accuracy(y_true, y_pred, groups) -> dict[int, float]:
    """Accuracy (%) of every group id present in ``groups``, in one vectorised pass."""
    y_true, y_pred, groups = _t(y_true), _t(y_pred), _t(groups)
    if groups.numel() == 0:
        return {}
    n = int(groups.max()) + 1
    hits = torch.bincount(groups, weights=(y_true == y_pred).double(), minlength=n)
    counts = torch.bincount(groups, minlength=n)
    return {g: 100.0 * float(hits[g] / counts[g]) for g in counts.nonzero().flatten().tolist()}


def worst_group_accuracy(y_true, y_pred, groups) -> float:
    """``min_g acc_g`` over the groups present; ``nan`` when empty."""
    accs = group_accuracy(y_true, y_pred, groups)
    return min(accs.values()) if accs else float("nan")


def _membership(values: torch.Tensor, allowed: Iterable[int]) -> torch.Tensor:
    return torch.isin(values, torch.tensor(sorted(set(int(v) for v in allowed)), dtype=values.dtype))


def dominant_group_accuracy(y_true, y_pred, y_attr, *, groups: Sequence[tuple[int, int]]) -> float:
    """GA (spec A4): accuracy (%) over samples with ``y in T*`` and ``a in S*``, where ``T*``, ``S*`` are the label
    and attribute values of the dominant forget group(s) (a cross product for several groups)."""
    y_true, y_pred, y_attr = _t(y_true), _t(y_pred), _t(y_attr)
    mask = _membership(y_true, (g[0] for g in groups)) & _membership(y_attr, (g[1] for g in groups))
    return 100.0 * _rate(y_true == y_pred, mask) if mask.any() else float("nan")


def _between(values: list[float], how: Between) -> float:
    vals = [v for v in values if v == v]
    if len(vals) < 2:
        return float("nan")
    if how == "max_min":
        return max(vals) - min(vals)
    diffs = [abs(a - b) for a, b in itertools.combinations(vals, 2)]
    return sum(diffs) / len(diffs)


def equalized_odds(y_true, y_pred, attr, *, agg: Literal["mean", "worst_case"] = "mean", positive: int | None = None,
                   dominant: Sequence[tuple[int, int]] | tuple[int, int] | None = None,
                   between: Between = "pairs_mean") -> float:
    """Equalized odds (x100).

    Without ``dominant`` (binary task, ``positive`` defaults to 1): with ``TPR_a = P(yhat=pos | y=pos, a)`` and
    ``FPR_a = P(yhat=pos | y!=pos, a)``, ``d_TPR`` and ``d_FPR`` are the differences between attribute values
    (``between="pairs_mean"``: mean of ``|.|`` over attribute pairs, the project default; ``"max_min"``: max - min,
    fairlearn's ``between_groups``), and EO = ``agg(d_TPR, d_FPR)`` with ``agg`` mean or max (``"worst_case"``).

    With ``dominant=(y*, a*)`` (or several groups; spec A3, seed 004's EO): binarise ``t = 1[y in T*]``,
    ``s = 1[a in S*]``, take cell accuracies ``A[t][s] = mean 1[yhat == y]`` (exact class), and
    EO = ``agg_t |A[t][0] - A[t][1]|``. For a binary task this equals the average odds difference. Empty cells are
    dropped from the aggregate (``nan`` if none is left).
    """
    y_true, y_pred, attr = _t(y_true), _t(y_pred), _t(attr)
    reduce = (lambda xs: sum(xs) / len(xs)) if agg == "mean" else max
    if agg not in ("mean", "worst_case"):
        raise ValueError(f"agg: expected 'mean' or 'worst_case', got {agg!r}")
    if dominant is not None:
        groups = [dominant] if isinstance(dominant[0], int) else list(dominant)  # type: ignore[index]
        t = _membership(y_true, (g[0] for g in groups))
        s = _membership(attr, (g[1] for g in groups))
        hits = y_true == y_pred
        gaps = []
        for tv in (False, True):
            a0, a1 = _rate(hits, (t == tv) & ~s), _rate(hits, (t == tv) & s)
            if a0 == a0 and a1 == a1:
                gaps.append(abs(a1 - a0))
        return 100.0 * reduce(gaps) if gaps else float("nan")
    pos = 1 if positive is None else positive
    pred_pos = y_pred == pos
    values = attr.unique().tolist()
    tpr = [_rate(pred_pos, (y_true == pos) & (attr == v)) for v in values]
    fpr = [_rate(pred_pos, (y_true != pos) & (attr == v)) for v in values]
    parts = [d for d in (_between(tpr, between), _between(fpr, between)) if d == d]
    return 100.0 * reduce(parts) if parts else float("nan")


def demographic_parity(y_pred, attr, *, positive: int = 1, between: Between = "pairs_mean") -> float:
    """Demographic parity difference (x100): differences of ``P(yhat = pos | a)`` between attribute values
    (mean over pairs by default; ``between="max_min"`` = fairlearn's ``demographic_parity_difference``)."""
    y_pred, attr = _t(y_pred), _t(attr)
    rates = [_rate(y_pred == positive, attr == v) for v in attr.unique().tolist()]
    return 100.0 * _between(rates, between)


def equal_opportunity(y_true, y_pred, attr, *, positive: int = 1, between: Between = "pairs_mean") -> float:
    """Equal opportunity difference (x100): differences of ``TPR_a = P(yhat = pos | y = pos, a)``."""
    y_true, y_pred, attr = _t(y_true), _t(y_pred), _t(attr)
    tpr = [_rate(y_pred == positive, (y_true == positive) & (attr == v)) for v in attr.unique().tolist()]
    return 100.0 * _between(tpr, between)
