"""Soft weights of Qiao et al. (Qiao et al. 2026): the QP over per-sample weights and its KKT closed forms.

With ``a = a^task`` and ``u = a^U`` the last-layer influence scores of the training samples on the oriented task
functional ``F~`` and on the validation utility ``U`` (``_influence_math``; removing ``i`` changes a functional
by about ``+a_i``, reweighting by ``eps`` changes it by about ``-a^T eps``) and ``Delta = F~(theta_o) >= 0``::

    minimise_eps   -a^T eps + lam ||eps||^2
    subject to     a^T eps <= Delta       (C_F: predicted F~ after unlearning stays >= 0, no overshoot)
                   u^T eps >= 0           (C_U: no predicted utility loss)

This is the paper's Eq. 6 in our sign convention (its ``I_metric(z_i; eps_i) = -eps_i a_i``). It is strictly convex,
so the KKT point is the unique optimum; it is one of four closed forms (paper Eq. 7), selected automatically:
with ``a* = a`` when ``a^T u >= 0`` and ``a* = a - (a^T u / ||u||^2) u`` otherwise (``||a*||^2 = D / ||u||^2``),
``eps = a* / (2 lam)`` when ``2 lam Delta >= ||a*||^2`` (cases 1 and 3) and ``eps = Delta a* / ||a*||^2``
otherwise (cases 2 and 4, independent of ``lam``). Fixes to the reference code are applied: automatic case selection,
orientation of the task by ``sign(F_0)``, no ad-hoc rescaling, and ``eps`` clipped to ``[-1, eps_max]`` after the
closed form, with the clipped mass recorded (``box="exact"`` instead solves the QP with the bounds as constraints,
through its two-multiplier dual, which keeps both linear constraints satisfied).

Which samples get weights (decision, see ``soft_weights``): Qiao et al. take no deletion request; their weights
cover the whole training set and the hard scheme's forget set is the ``k``-fraction with the most negative task
influence (``hard_weights``). That is the default (``forget="free"``). ``forget="pinned"`` keeps a given forget set
at ``eps = -1`` (honouring a deletion request) and solves the same QP over the other samples with both constraints
shifted by the forget set's predicted effect (``a_r^T eps_r <= Delta + sum_f a_f``, ``u_r^T eps_r >= sum_f u_f``);
with a non-zero utility floor the four candidate active sets are enumerated and the KKT-valid one is kept.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Sequence

import torch
from torch import nn

from ._fair_surrogates import validation_functional
from ._influence_math import (DTYPE, HessianInverse, LinearHead, functional_gradient, head_data, influence_scores)

__all__ = ["CASE_NAMES", "KKTPoint", "SoftWeights", "hard_weights", "kkt_residuals", "kkt_solve", "soft_weights",
           "soft_weights_from_embeddings", "soft_weights_from_influences"]

CASE_NAMES = {
    0: "degenerate (eps = 0)",
    1: "soft-2.0 (no active constraint)",
    2: "soft-2.1 (task constraint active)",
    3: "soft-2.2 (utility constraint active)",
    4: "soft-2.3 (both constraints active)",
}
_TINY = torch.finfo(DTYPE).tiny
DEFAULT_LAM_GRID = tuple(float(v) for v in torch.logspace(-3, 1, 50, dtype=DTYPE))


# ------------------------------------------------------------------------------------------------ the KKT core
@dataclass(frozen=True, eq=False)
class KKTPoint:
    """The exact (unclipped) solution of the QP: ``eps``, its case (1-4, 0 = degenerate) and the multipliers."""

    epsilon: torch.Tensor
    case: int
    beta_utility: float
    beta_task: float
    message: str | None = None


def _vec(v: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(v).to(DTYPE)
    if t.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d vector of influence scores, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or inf")
    return t


def _check_scalars(delta: float, lam: float) -> None:
    if not math.isfinite(delta) or delta < 0:
        raise ValueError(f"delta: expected a finite value >= 0 (|F_0|), got {delta}")
    if not math.isfinite(lam) or lam <= 0:
        raise ValueError(f"lam: expected a finite value > 0, got {lam}")


def _perp(a: torch.Tensor, u: torch.Tensor, nu2: float) -> torch.Tensor:
    """``a`` minus its projection on ``u`` (twice, so that ``u^T a*`` is zero to rounding)."""
    out = a - (float(a @ u) / nu2) * u
    return out - (float(out @ u) / nu2) * u


def kkt_solve(a: torch.Tensor, u: torch.Tensor, delta: float, lam: float, *, utility_floor: float = 0.0,
              selection: Literal["auto", "rule", "enumerate"] = "auto",
              degenerate_tol: float = 1e-12) -> KKTPoint:
    """Solve ``min -a^T e + lam ||e||^2  s.t.  a^T e <= delta,  u^T e >= utility_floor`` in closed form.

    ``selection="rule"`` (the default for ``utility_floor == 0``) picks the case from ``sign(a^T u)`` and
    ``lam`` vs. ``||a*||^2 / (2 delta)`` (the four cases partition that plane); ``"enumerate"`` (the default
    otherwise) computes the four active-set candidates and keeps the one satisfying the KKT conditions.

    Degenerate inputs return ``eps = 0`` (case 0) with a ``message``: ``a = 0`` (nothing to improve) or ``a``
    anti-parallel to ``u`` (``D ~ 0`` with ``a^T u < 0``: no utility-neutral improvement exists; ``eps = 0`` is
    then the exact KKT point), or an infeasible shifted problem.
    """
    a, u = _vec(a, "a"), _vec(u, "u")
    if a.shape != u.shape:
        raise ValueError(f"a, u: lengths differ ({a.numel()} vs {u.numel()})")
    delta, lam, c = float(delta), float(lam), float(utility_floor)
    if not math.isfinite(lam) or lam <= 0:
        raise ValueError(f"lam: expected a finite value > 0, got {lam}")
    if not math.isfinite(delta) or not math.isfinite(c):
        raise ValueError("delta, utility_floor: must be finite")
    if selection == "auto":
        selection = "rule" if c == 0.0 else "enumerate"
    if selection == "rule":
        if c != 0.0:
            raise ValueError("selection='rule' only applies to the homogeneous problem (utility_floor == 0)")
        _check_scalars(delta, lam)
        return _solve_rule(a, u, delta, lam, degenerate_tol)
    if selection != "enumerate":
        raise ValueError(f"selection: expected 'auto', 'rule' or 'enumerate', got {selection!r}")
    return _solve_enumerate(a, u, delta, lam, c)


def _solve_rule(a: torch.Tensor, u: torch.Tensor, delta: float, lam: float, degenerate_tol: float) -> KKTPoint:
    na2 = float(a @ a)
    zero = torch.zeros_like(a)
    if na2 == 0.0:
        return KKTPoint(zero, 0, 0.0, 0.0, "the task influence is zero for every sample: nothing to improve")
    au, nu2 = float(a @ u), float(u @ u)
    if au >= 0.0:
        astar, n2, beta_u3 = a, na2, 0.0
    else:  # au < 0 implies nu2 > 0
        astar = _perp(a, u, nu2)
        n2 = float(astar @ astar)
        beta_u3 = -au / nu2
        if n2 <= degenerate_tol * na2:
            return KKTPoint(zero, 0, beta_u3, 0.0,
                            "the task and utility influences are anti-parallel (D ~ 0 with a^T u < 0): no "
                            "utility-neutral improvement exists, so eps = 0")
    if 2.0 * lam * delta >= n2:   # cases 1 / 3: the task constraint is inactive
        return KKTPoint(astar / (2.0 * lam), 1 if au >= 0.0 else 3, beta_u3, 0.0)
    beta_f = 1.0 - 2.0 * lam * delta / n2
    if au >= 0.0:
        return KKTPoint(delta * astar / n2, 2, 0.0, beta_f)
    return KKTPoint(delta * astar / n2, 4, -2.0 * lam * delta * au / (nu2 * n2), beta_f)


def _candidate_violation(a: torch.Tensor, u: torch.Tensor, delta: float, c: float, eps: torch.Tensor,
                         beta_u: float, beta_f: float) -> float:
    na, nu, ne = float(a.norm()), float(u.norm()), float(eps.norm())
    sa = max(abs(delta), na * ne, _TINY)
    su = max(abs(c), nu * ne, _TINY)
    return max(0.0, (float(a @ eps) - delta) / sa, (c - float(u @ eps)) / su, -beta_f,
               -beta_u * nu / max(na, _TINY) if beta_u < 0 else 0.0)


def _solve_enumerate(a: torch.Tensor, u: torch.Tensor, delta: float, lam: float, c: float) -> KKTPoint:
    na2, nu2, au = float(a @ a), float(u @ u), float(a @ u)
    cands: list[tuple[int, torch.Tensor, float, float]] = [(1, a / (2.0 * lam), 0.0, 0.0)]
    if na2 > 0:
        cands.append((2, delta * a / na2, 0.0, 1.0 - 2.0 * lam * delta / na2))
    if nu2 > 0:
        beta_u = (2.0 * lam * c - au) / nu2
        cands.append((3, (a + beta_u * u) / (2.0 * lam), beta_u, 0.0))
        a_perp = _perp(a, u, nu2)
        det = nu2 * float(a_perp @ a_perp)   # = ||a||^2 ||u||^2 - (a^T u)^2, without cancellation
        if det > 1e-14 * na2 * nu2 and det > 0:
            alpha = (delta * nu2 - c * au) / det
            gamma = (c * na2 - delta * au) / det
            cands.append((4, alpha * a + gamma * u, 2.0 * lam * gamma, 1.0 - 2.0 * lam * alpha))
    scored = [(_candidate_violation(a, u, delta, c, e, bu, bf), case, e, bu, bf) for case, e, bu, bf in cands]
    viol, case, eps, beta_u, beta_f = min(scored, key=lambda t: (t[0], t[1]))
    if viol > 1e-8:
        return KKTPoint(torch.zeros_like(a), 0, 0.0, 0.0,
                        f"the shifted QP is infeasible (task bound {delta:.4g}, utility floor {c:.4g}); eps = 0 "
                        "on the free samples")
    return KKTPoint(eps, case, beta_u, beta_f)


def kkt_residuals(a: torch.Tensor, u: torch.Tensor, delta: float, lam: float, point: KKTPoint, *,
                  utility_floor: float = 0.0) -> dict[str, float]:
    """Relative KKT residuals of ``point`` (all ``~0`` at the optimum).

    Keys: ``stationarity`` (``||2 lam e - a + beta_F a - beta_U u||``), ``primal_task`` / ``primal_utility``
    (constraint violations), ``dual`` (negative multipliers), ``slack_task`` / ``slack_utility`` (complementary
    slackness), each scaled by the magnitude of the terms involved.
    """
    a, u = _vec(a, "a"), _vec(u, "u")
    e, bu, bf, c = point.epsilon.to(DTYPE), float(point.beta_utility), float(point.beta_task), float(utility_floor)
    na, nu, ne = float(a.norm()), float(u.norm()), float(e.norm())
    stat = 2.0 * lam * e - a + bf * a - bu * u   # gradient of the Lagrangian, scaled by its terms' sizes
    stat_scale = max(2.0 * lam * ne + na + abs(bf) * na + abs(bu) * nu, _TINY)
    sa = max(abs(delta), na * ne, _TINY)
    su = max(abs(c), nu * ne, _TINY)
    ga, gu = float(a @ e) - delta, c - float(u @ e)
    bu_rel = bu * nu / max(na, _TINY)
    return {
        "stationarity": float(stat.norm()) / stat_scale,
        "primal_task": max(0.0, ga / sa),
        "primal_utility": max(0.0, gu / su),
        "dual": max(0.0, -bf, -bu_rel),
        "slack_task": abs(bf * ga) / sa,
        "slack_utility": abs(bu_rel * gu) / su,
    }


# ------------------------------------------------------------------------------------------------ weights
@dataclass(frozen=True, eq=False)
class SoftWeights:
    """Soft weights ``eps`` of every training sample and what the QP predicts they do.

    Attributes:
        epsilon: the weights (float64, clipped to ``[eps_min, eps_max]``); a sample's loss weight is ``1 + eps``.
        case: 1-4 as in Qiao et al. 2026 (the paper's soft-2.0 ... soft-2.3), 0 when degenerate (``eps = 0``).
        lambda_: the ``lam`` used (chosen from the grid when ``lam="auto"``).
        delta: ``Delta = F~(theta_o) >= 0``, the oriented task value before unlearning.
        predicted_delta_task: ``-a^T eps`` (oriented: negative = the task improves), after clipping.
        predicted_delta_utility: ``-u^T eps`` (validation log-loss sum; negative = utility improves), after clipping.
        clipped_mass: ``sum |eps_raw - eps|``; clipped_count: entries the bounds changed (with ``box="exact"``
            the bounded optimum usually differs from the closed form everywhere once a bound is active).
        raw_epsilon: the exact closed-form ``eps`` before the bounds.
        beta_utility, beta_task: KKT multipliers of the chosen case (of the reduced problem when pinned).
        task_influence, utility_influence: ``a`` and ``u``.
        pinned: mask of samples held at ``eps = -1`` (``None`` when ``forget="free"``).
        target: ``"dp"``, ``"eop"``, ``"robust"`` (``None`` when built from raw influences).
        task_raw: the signed surrogate(s) at ``theta_o`` per attribute pair (empty for ``robust``).
        utility_value: ``U(theta_o)`` on the validation split (``nan`` when unknown).
        message: why the solution is degenerate, if it is.
    """

    epsilon: torch.Tensor
    case: int
    lambda_: float
    delta: float
    predicted_delta_task: float
    predicted_delta_utility: float
    clipped_mass: float
    clipped_count: int
    raw_epsilon: torch.Tensor
    beta_utility: float
    beta_task: float
    task_influence: torch.Tensor
    utility_influence: torch.Tensor
    pinned: torch.Tensor | None = None
    target: str | None = None
    task_raw: dict[tuple[int, int], float] = field(default_factory=dict)
    utility_value: float = float("nan")
    message: str | None = None
    predicted_delta_task_unclipped: float = float("nan")
    predicted_delta_utility_unclipped: float = float("nan")

    @property
    def case_name(self) -> str:
        return CASE_NAMES[self.case]

    @property
    def predicted_task(self) -> float:
        """Predicted oriented task value after unlearning, ``Delta - a^T eps``."""
        return self.delta + self.predicted_delta_task

    @property
    def max_abs_free_epsilon(self) -> float:
        """``max |eps_i|`` over the samples the QP weighted (the pinned forget samples, at ``-1``, excluded): near 0
        means the weighted model is the original's."""
        free = self.epsilon if self.pinned is None else self.epsilon[~self.pinned.to(self.epsilon.device)]
        return float(free.abs().max()) if free.numel() else 0.0

    def log(self) -> dict[str, Any]:
        """JSON-friendly scalars for ``ctx.log`` / reports."""
        return {"soft_target": self.target, "soft_case": self.case, "soft_case_name": self.case_name,
                "soft_lambda": self.lambda_, "soft_delta": self.delta,
                "soft_pred_delta_task": self.predicted_delta_task,
                "soft_pred_delta_utility": self.predicted_delta_utility,
                "soft_pred_delta_task_unclipped": self.predicted_delta_task_unclipped,
                "soft_pred_delta_utility_unclipped": self.predicted_delta_utility_unclipped,
                "soft_clipped_mass": self.clipped_mass, "soft_clipped_count": self.clipped_count,
                "soft_n_pinned": int(self.pinned.sum()) if self.pinned is not None else 0,
                "soft_max_abs_epsilon": self.max_abs_free_epsilon,
                "soft_message": self.message}


def hard_weights(a: torch.Tensor, k: float = 0.2, *, only_negative: bool = False) -> torch.Tensor:
    """The hard scheme: ``eps = -1`` for the ``round(k n)`` samples with the most negative ``a^task``, else 0.

    Ties are broken by index (stable sort). ``only_negative=True`` never removes a sample whose removal is not
    predicted to improve the task (``a_i >= 0``). Same rule as IDS "delete bad points".

    Raises:
        ValueError: ``k`` outside ``[0, 1]``.
    """
    a = _vec(a, "a")
    if not 0.0 <= k <= 1.0:
        raise ValueError(f"k: expected a fraction in [0, 1], got {k}")
    n_remove = int(round(k * a.numel()))
    order = torch.argsort(a, stable=True)[:n_remove]
    if only_negative:
        order = order[a[order] < 0]
    eps = torch.zeros_like(a)
    eps[order] = -1.0
    return eps


def _as_mask(pinned: Any, n: int) -> torch.Tensor | None:
    if pinned is None:
        return None
    t = torch.as_tensor(pinned)
    if t.dtype == torch.bool:
        if t.numel() != n:
            raise ValueError(f"pinned: a boolean mask must have length {n}, got {t.numel()}")
        mask = t.flatten().clone()
    else:
        if t.is_floating_point():
            raise TypeError(f"pinned: expected integer indices or a bool mask, got dtype {t.dtype}")
        idx = t.flatten().long().cpu()
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
            raise ValueError(f"pinned: index out of range for {n} samples")
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
    if bool(mask.all()):
        raise ValueError("pinned: every sample is pinned; nothing is left to weight")
    return mask.cpu()


def _solve_fixed(a: torch.Tensor, u: torch.Tensor, delta: float, lam: float, fixed: torch.Tensor | None,
                 values: torch.Tensor) -> tuple[torch.Tensor, KKTPoint]:
    """Solve the QP over the entries not in ``fixed`` (held at ``values``); return the full ``eps`` and the point."""
    if fixed is None or not bool(fixed.any()):
        point = kkt_solve(a, u, delta, lam)
        return point.epsilon, point
    free = ~fixed
    vals = values[fixed]
    point = kkt_solve(a[free], u[free], delta - float(a[fixed] @ vals), lam,
                      utility_floor=-float(u[fixed] @ vals))
    eps = values.clone()
    eps[free] = point.epsilon
    return eps, point


def _bisect_decreasing(fn, *, tol: float = 1e-15, max_doublings: int = 200) -> float | None:
    """Smallest ``b >= 0`` with ``fn(b) <= 0`` for a non-increasing ``fn`` (``None`` if none is found)."""
    if fn(0.0) <= 0.0:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(max_doublings):
        if fn(hi) <= 0.0:
            break
        lo, hi = hi, 2.0 * hi
    else:
        return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi or hi - lo <= tol * hi:
            break
        if fn(mid) <= 0.0:
            hi = mid
        else:
            lo = mid
    return hi


def _box_exact(a: torch.Tensor, u: torch.Tensor, delta: float, lam: float, c: float, lo: float,
               hi: float) -> KKTPoint | None:
    """The QP with the box ``lo <= eps <= hi`` solved exactly through its 2-d concave dual.

    For multipliers ``(beta_F, beta_U)`` the box-constrained minimiser is separable,
    ``eps(beta) = clip(((1 - beta_F) a + beta_U u) / (2 lam), lo, hi)``; the dual's partial derivatives
    ``a^T eps - delta`` and ``c - u^T eps`` are monotone, so nested bisection finds the maximiser (inner: ``beta_F``
    for a given ``beta_U``; outer: ``beta_U`` with Danskin's derivative). ``None`` when the problem is infeasible.
    """
    def eps_of(bf: float, bu: float) -> torch.Tensor:
        return (((1.0 - bf) * a + bu * u) / (2.0 * lam)).clamp(min=lo, max=hi)

    def inner(bu: float) -> float | None:
        return _bisect_decreasing(lambda bf: float(a @ eps_of(bf, bu)) - delta)

    def outer(bu: float) -> float:
        bf = inner(bu)
        return math.inf if bf is None else c - float(u @ eps_of(bf, bu))

    bu = _bisect_decreasing(outer)
    if bu is None:
        return None
    bf = inner(bu)
    if bf is None:
        return None
    eps = eps_of(bf, bu)
    case = 1 + (bf > 0) + 2 * (bu > 0)
    return KKTPoint(eps, case, bu, bf)


def _box_solve(a: torch.Tensor, u: torch.Tensor, delta: float, lam: float, pinned: torch.Tensor | None,
               eps_min: float | None, eps_max: float | None,
               box: str) -> tuple[torch.Tensor, torch.Tensor, KKTPoint]:
    """``(raw closed-form eps, eps within the bounds, KKT point of the bounded solution)``."""
    lo = -math.inf if eps_min is None else eps_min
    hi = math.inf if eps_max is None else eps_max
    raw, point = _solve_fixed(a, u, delta, lam, pinned, torch.full_like(a, -1.0))
    free = torch.ones_like(a, dtype=torch.bool) if pinned is None else ~pinned
    clipped = raw.clone()
    clipped[free] = raw[free].clamp(min=lo, max=hi)
    if box == "clip" or torch.equal(clipped, raw) or point.case == 0:
        return raw, clipped, point
    # box == "exact": the QP with the box as a constraint
    a_f, u_f = a[free], u[free]
    delta_f = delta + float(a[~free].sum())
    floor = float(u[~free].sum())
    exact = _box_exact(a_f, u_f, delta_f, lam, floor, lo, hi)
    if exact is None:
        msg = "the bounded QP is infeasible; eps is the clipped closed form"
        return raw, clipped, replace(point, message=msg)
    eps = raw.clone()
    eps[free] = exact.epsilon
    return raw, eps, exact


def soft_weights_from_influences(a: torch.Tensor, u: torch.Tensor, delta: float, *, lam: float | str = 0.1,
                                 eps_min: float | None = -1.0, eps_max: float | None = 1.0, pinned: Any = None,
                                 box: Literal["clip", "exact"] = "clip",
                                 lam_grid: Sequence[float] = DEFAULT_LAM_GRID, warn: bool = True) -> SoftWeights:
    """Soft weights from influence scores: closed-form QP, automatic case, box on ``eps``, predicted effects.

    Args:
        a, u: task and utility influence scores (``(n,)``; ``a_i = g_i^T H^-1 grad F~``, ``u_i`` likewise for U).
        delta: ``Delta = |F_0|`` (the oriented task value, ``>= 0``).
        lam: the QP's ``lam > 0`` (repo default 0.1), or ``"auto"``: the value of ``lam_grid`` (default
            ``logspace(-3, 1, 50)`` as in the repo) minimising the predicted ``|Delta - a^T eps|`` after the box
            (ties go to the larger ``lam``).
        eps_min, eps_max: bounds on ``eps`` (``None`` = unbounded on that side).
        pinned: indices or mask of samples held at ``eps = -1`` (the QP is solved over the others, see module doc).
        box: ``"clip"`` (clip the closed form to the bounds; clipping can break the utility
            constraint, which the predicted effects then show) or ``"exact"`` (solve the QP with the bounds as
            constraints, through its two-multiplier dual: both linear constraints keep holding; ``case`` then says
            which of them are active, with the same numbering; falls back to clipping if infeasible).
        warn: emit a ``RuntimeWarning`` for degenerate solutions (the message is kept on the result either way).
    """
    a, u = _vec(a, "a"), _vec(u, "u")
    if a.shape != u.shape:
        raise ValueError(f"a, u: lengths differ ({a.numel()} vs {u.numel()})")
    delta = float(delta)
    if not math.isfinite(delta) or delta < 0:
        raise ValueError(f"delta: expected a finite value >= 0 (|F_0|), got {delta}")
    if eps_min is not None and eps_max is not None and not eps_min <= 0.0 <= eps_max:
        raise ValueError(f"eps_min, eps_max: need eps_min <= 0 <= eps_max, got [{eps_min}, {eps_max}]")
    if box not in ("clip", "exact"):
        raise ValueError(f"box: expected 'clip' or 'exact', got {box!r}")
    mask = _as_mask(pinned, a.numel())
    if mask is not None:
        mask = mask.to(a.device)

    if isinstance(lam, str):
        if lam != "auto":
            raise ValueError(f"lam: expected a positive float or 'auto', got {lam!r}")
        grid = sorted(float(v) for v in lam_grid)
        if not grid or any(not math.isfinite(v) or v <= 0 for v in grid):
            raise ValueError("lam_grid: expected a non-empty sequence of positive values")
        best = None
        for value in grid:
            raw, eps, point = _box_solve(a, u, delta, value, mask, eps_min, eps_max, box)
            score = abs(delta - float(a @ eps))
            if best is None or score <= best[0] + 1e-12 * max(1.0, abs(best[0])):
                best = (min(score, best[0]) if best is not None else score, value, point, raw, eps)
        _, lam_used, point, raw, eps = best  # type: ignore[misc]
    else:
        lam_used = float(lam)
        if not math.isfinite(lam_used) or lam_used <= 0:
            raise ValueError(f"lam: expected a finite value > 0, got {lam}")
        raw, eps, point = _box_solve(a, u, delta, lam_used, mask, eps_min, eps_max, box)
    if point.message is not None and warn:
        warnings.warn(f"soft weights: {point.message}", RuntimeWarning, stacklevel=2)
    diff = (raw - eps).abs()
    return SoftWeights(
        epsilon=eps, case=point.case, lambda_=lam_used, delta=delta,
        predicted_delta_task=-float(a @ eps), predicted_delta_utility=-float(u @ eps),
        clipped_mass=float(diff.sum()), clipped_count=int((diff > 0).sum()), raw_epsilon=raw,
        beta_utility=point.beta_utility, beta_task=point.beta_task, task_influence=a, utility_influence=u,
        pinned=mask, message=point.message,
        predicted_delta_task_unclipped=-float(a @ raw), predicted_delta_utility_unclipped=-float(u @ raw))


# ------------------------------------------------------------------------------------------------ from data
def soft_weights_from_embeddings(train_emb: torch.Tensor, train_y: torch.Tensor, val_emb: torch.Tensor,
                                 val_y: torch.Tensor, val_a: torch.Tensor | None = None, *,
                                 head: LinearHead | nn.Linear, target: Literal["dp", "eop", "robust"], l2: float,
                                 lam: float | str = 0.1, l2_bias: bool = True, positive: int | None = None,
                                 overshoot: float = 1.3, eps_min: float | None = -1.0, eps_max: float | None = 1.0,
                                 pinned: Any = None, box: Literal["clip", "exact"] = "clip",
                                 dense_max: int = 4096, hessian: Literal["auto", "cholesky", "cg"] = "auto",
                                 warn: bool = True) -> SoftWeights:
    """Influences of the training samples on the validation task and utility, then the soft-weight QP.

    Args:
        train_emb, train_y: head inputs and labels of ``D_tr`` (the Hessian's samples, one weight each).
        val_emb, val_y, val_a: head inputs, labels and sensitive attribute of ``D_val``.
        head: the trained linear head (``LinearHead`` or ``nn.Linear``; ``k == 1`` logistic or softmax).
        target: ``"dp"`` / ``"eop"`` (oriented signed surrogates) or ``"robust"`` (log-loss on
            adversarial embeddings fixed against ``head``).
        l2: L2 coefficient of the summed head objective (``1/C``); ``l2_bias``: regularise the bias too.
        positive: positive class for DP/EOP (default 1; must be named for heads with more than two classes).
        overshoot: the ``gamma = 1.3`` of the robustness points.
        dense_max, hessian: Cholesky vs. conjugate-gradient choice (see ``HessianInverse``).
        lam, eps_min, eps_max, pinned, box, warn: as in ``soft_weights_from_influences``.
    """
    if target not in ("dp", "eop", "robust"):
        raise ValueError(f"target: expected 'dp', 'eop' or 'robust', got {target!r}")
    if isinstance(head, nn.Linear):
        head = LinearHead.from_linear(head, device=train_emb.device)
    dev = head.weight.device
    train_emb, val_emb = train_emb.to(dev, DTYPE), val_emb.to(dev, DTYPE)
    train_y, val_y = train_y.to(dev), val_y.to(dev)
    val_a = val_a.to(dev) if val_a is not None else None
    task = validation_functional(target, val_emb, val_y, val_a, head.weight, head.bias, positive=positive,
                                 overshoot=overshoot)
    util = validation_functional("utility", val_emb, val_y, val_a, head.weight, head.bias)
    grads = torch.stack([functional_gradient(task.fn, head), functional_gradient(util.fn, head)], 1)
    hinv = HessianInverse(head, train_emb, l2=l2, l2_bias=l2_bias, method=hessian, dense_max=dense_max)
    infl = influence_scores(head, train_emb, train_y, grads, hinv=hinv)
    sw = soft_weights_from_influences(infl[:, 0].cpu(), infl[:, 1].cpu(), task.value, lam=lam, eps_min=eps_min,
                                      eps_max=eps_max, pinned=pinned, box=box, warn=warn)
    return replace(sw, target=target, task_raw=dict(task.raw), utility_value=util.value)


def soft_weights(model: nn.Module, data: Any, *, target: Literal["dp", "eop", "robust"], lam: float | str = 0.1,
                 l2: float | None = None, forget: Literal["free", "pinned"] = "free", eps_min: float | None = -1.0,
                 eps_max: float | None = 1.0, positive: int | None = None, overshoot: float = 1.3,
                 box: Literal["clip", "exact"] = "clip", l2_bias: bool = True, batch_size: int = 1024,
                 device: torch.device | str | None = None, dense_max: int = 4096, warn: bool = True) -> SoftWeights:
    """Soft weights ``eps`` of every *train* sample (train order) for a trained model (Qiao et al. 2026).

    Embeds ``data.train`` and ``data.val`` with ``model`` (the input of its last ``nn.Linear``, one batched
    no-grad eval pass each; the model is not modified), computes last-layer influences of every training sample
    on the oriented target and on the validation utility, and solves the QP (``soft_weights_from_influences``).

    Args:
        model: the trained (original) model; its head is ``model.head`` or its last ``nn.Linear``.
        data: an ``AuditData`` with a ``val`` split (the influences are measured on it, never on test).
        target: ``"dp"``, ``"eop"`` or ``"robust"``.
        lam: QP ``lam`` (default 0.1 as in the repo's soft-2.3 runs) or ``"auto"``. With the summed objective the
            influences scale like ``1/n``, so in the unconstrained-task cases 1/3 (``eps = a*/(2 lam)``) a fixed
            ``lam`` moves less on larger training sets; cases 2/4 do not depend on ``lam``. ``"auto"`` picks it
            from the repo's grid by the predicted post-unlearning task value.
        l2: L2 coefficient of the summed head objective. Default ``1e-3 * len(train)``, i.e. weight decay 1e-3 on
            the mean loss (the head optimiser of ``SW:SEC-5-2-0-1.py``); it also damps the Hessian of a head that
            was not trained to the exact optimum of a convex objective.
        forget: ``"free"`` (default, faithful to Qiao et al.: weights over all of ``D_tr``, the deletion request
            is not an input of the scheme) or ``"pinned"`` (``eps = -1`` fixed on ``data.forget_idx``, QP over the
            retain samples with shifted constraints).
        eps_min, eps_max, box: bounds on ``eps`` (``[-1, 1]``) and how they are enforced (``"clip"``,
            the spec's default, or ``"exact"``, see ``soft_weights_from_influences``).
        positive, overshoot, l2_bias, dense_max: see ``soft_weights_from_embeddings``.
        batch_size, device: embedding pass (default device: the model's).

    Raises:
        ValueError: no validation split, unknown ``target`` / ``forget``, or a fairness target whose groups are
            missing from the validation split.
    """
    if forget not in ("free", "pinned"):
        raise ValueError(f"forget: expected 'free' or 'pinned', got {forget!r}")
    if target not in ("dp", "eop", "robust"):
        raise ValueError(f"target: expected 'dp', 'eop' or 'robust', got {target!r}")
    if getattr(data, "val", None) is None:
        raise ValueError("soft_weights: data has no val split; the soft-weighted scheme measures influences on a "
                         "validation split (pass AuditData(..., val=...))")
    tr = head_data(model, data.train, batch_size=batch_size, device=device)
    va = head_data(model, data.val, batch_size=batch_size, device=device)
    if l2 is None:
        l2 = 1e-3 * len(tr)
    pinned = data.forget_idx if forget == "pinned" else None
    return soft_weights_from_embeddings(tr.emb, tr.y, va.emb, va.y, va.a, head=tr.head, target=target, l2=l2,
                                        lam=lam, l2_bias=l2_bias, positive=positive, overshoot=overshoot,
                                        eps_min=eps_min, eps_max=eps_max, pinned=pinned, box=box,
                                        dense_max=dense_max, warn=warn)
