"""Differentiable validation functionals on last-layer logits: utility, DP, EOP and robustness.

These are the functions ``M`` whose gradient ``grad_theta M(D_val)`` enters the influence scores of the
soft-weighted scheme (Qiao et al. 2026). Everything works on logits of a linear head, so the functionals are
pure functions of the head's parameters once the embeddings of the validation split are fixed.

Supported heads (``logits`` of shape ``(n, k)``):

* ``k == 1``: a binary logistic head, ``p = sigmoid(z)``, labels in ``{0, 1}``, loss = binary log-loss.
* ``k >= 2``: a softmax head, loss = cross-entropy. The "positive" probability of DP is the softmax probability of
  class ``positive`` (one-vs-rest); for ``k == 2`` the default ``positive=1`` is the usual binary task, for
  ``k > 2`` the positive class must be named. The robustness points are projected onto the boundary between the
  predicted class and the runner-up (for ``k == 2`` this is exactly the binary formula with ``w = w_1 - w_0``).

Sensitive attributes may take any number of values. ``dp_surrogate`` / ``eop_surrogate`` are **signed** gaps
between two attribute values ``pair = (s, t)`` (default ``(0, 1)``: ``mean_{a=1} - mean_{a=0}``).
``validation_functional`` builds the *oriented* target ``F~ = mean_pairs sign(F_pair(theta_o)) * F_pair(theta)``
over every pair of attribute values present; for a binary attribute this is ``sign(F_0) * F`` and in
general its value at ``theta_o`` is the mean pairwise ``|gap|`` (the DP / EOP metric's multi-group form), so
"smaller is better" and ``Delta = F~(theta_o) >= 0``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F

__all__ = ["Target", "ValidationFunctional", "adversarial_embeddings", "dp_surrogate", "eop_surrogate",
           "log_loss", "positive_prob", "robust_surrogate", "utility_loss", "validation_functional"]

Target = Literal["dp", "eop", "robust", "utility"]
_TARGETS = ("dp", "eop", "robust", "utility")


def _check_logits(logits: torch.Tensor) -> None:
    if logits.ndim != 2 or logits.shape[1] < 1:
        raise ValueError(f"logits: expected shape (n, k) with k >= 1, got {tuple(logits.shape)}")


def log_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample log-loss: binary cross-entropy with logits for ``k == 1``, cross-entropy for ``k >= 2``."""
    _check_logits(logits)
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype), reduction="none")
    return F.cross_entropy(logits, y.long(), reduction="none")


def positive_prob(logits: torch.Tensor, *, positive: int | None = 1) -> torch.Tensor:
    """``P(y_hat = positive | x)``: ``sigmoid`` of a single logit, else the softmax probability of ``positive``.

    Raises:
        ValueError: a softmax head with more than two classes and no ``positive`` class named.
    """
    _check_logits(logits)
    k = logits.shape[1]
    if k == 1:
        if positive not in (None, 1):
            raise ValueError(f"positive: a single-logit binary head only has positive class 1, got {positive}")
        return torch.sigmoid(logits[:, 0])
    if positive is None:
        if k > 2:
            raise ValueError(f"positive: a {k}-class head needs the positive class named for DP/EOP surrogates")
        positive = 1
    if not 0 <= positive < k:
        raise ValueError(f"positive: class {positive} is outside 0..{k - 1}")
    return torch.softmax(logits, dim=1)[:, positive]


def utility_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Utility ``U = sum_i log-loss_i`` over the given split (a **sum**, not a mean)."""
    return log_loss(logits, y).sum()


def _group_mean(values: torch.Tensor, mask: torch.Tensor, what: str) -> torch.Tensor:
    n = int(mask.sum())
    if n == 0:
        raise ValueError(f"{what}: the group is empty in the validation split; the surrogate is undefined")
    return values[mask].sum() / n


def dp_surrogate(logits: torch.Tensor, a: torch.Tensor, *, positive: int | None = 1,
                 pair: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """Signed demographic-parity surrogate ``F_DP = mean_{a=t} p - mean_{a=s} p`` with ``(s, t) = pair``.

    ``p = P(y_hat = positive)``; the default pair gives ``mean_{s=1} p - mean_{s=0} p``.

    Raises:
        ValueError: an attribute group of ``pair`` is empty.
    """
    p = positive_prob(logits, positive=positive)
    s, t = pair
    return _group_mean(p, a == t, f"dp_surrogate: a={t}") - _group_mean(p, a == s, f"dp_surrogate: a={s}")


def eop_surrogate(logits: torch.Tensor, y: torch.Tensor, a: torch.Tensor, *, positive: int | None = 1,
                  pair: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """Signed equal-opportunity surrogate ``F_EOP = mean ll{a=s, y=pos} - mean ll{a=t, y=pos}``, ``(s, t) = pair``.

    ``ll`` is the per-sample log-loss; the default pair gives ``ll{s=0,y=1} - ll{s=1,y=1}``.

    Raises:
        ValueError: no validation sample with ``y = positive`` in an attribute group of ``pair``.
    """
    if positive is None:
        if logits.shape[1] > 2:
            raise ValueError(f"positive: a {logits.shape[1]}-class head needs the positive class named for EOP")
        positive = 1
    ll = log_loss(logits, y)
    pos = y == positive
    s, t = pair
    return (_group_mean(ll, pos & (a == s), f"eop_surrogate: a={s}, y={positive}")
            - _group_mean(ll, pos & (a == t), f"eop_surrogate: a={t}, y={positive}"))


def adversarial_embeddings(emb: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
                           overshoot: float = 1.3) -> torch.Tensor:
    """Minimal-L2 projections past a linear decision boundary: ``x~ = h - overshoot * m / ||w||^2 * w``.

    Binary head (``weight`` of shape ``(1, d)``): ``w = weight[0]``, ``m = w.h + b`` (``SW:robust_fn_nn.py``).
    Softmax head: for each sample, ``w = w_c - w_j`` and ``m = z_c - z_j`` for the predicted class ``c`` and the
    runner-up ``j`` (one linearised DeepFool step). The points are computed once against the given (original)
    head and then kept fixed (Qiao et al. 2026). Computed without gradient.

    Raises:
        ValueError: ``overshoot <= 0`` or a zero weight direction.
    """
    if overshoot <= 0:
        raise ValueError(f"overshoot: expected > 0, got {overshoot}")
    with torch.no_grad():
        emb = emb.to(weight.dtype)
        logits = emb @ weight.T + (bias if bias is not None else 0)
        if weight.shape[0] == 1:
            w = weight[0].expand_as(emb)
            m = logits[:, 0]
        else:
            top2 = logits.topk(2, dim=1).indices
            c, j = top2[:, 0], top2[:, 1]
            w = weight[c] - weight[j]
            m = logits.gather(1, c[:, None])[:, 0] - logits.gather(1, j[:, None])[:, 0]
        norm2 = (w * w).sum(1)
        if bool((norm2 <= 0).any()):
            raise ValueError("adversarial_embeddings: the head has a zero weight direction; no boundary to cross")
        return emb - (overshoot * m / norm2)[:, None] * w


def robust_surrogate(adv_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Robustness ``R = sum_i log-loss(x~_i, y_i)`` on fixed adversarial points."""
    return utility_loss(adv_logits, y)


@dataclass(frozen=True, eq=False)
class ValidationFunctional:
    """An oriented validation functional ``M(weight, bias)`` of a linear head on fixed validation embeddings.

    Attributes:
        name: ``"utility"``, ``"dp"``, ``"eop"`` or ``"robust"``.
        fn: ``fn(weight, bias) -> scalar`` (differentiable); smaller is better.
        value: ``fn`` at the head it was built for (``Delta = |F_0|`` of the QP for fairness targets).
        raw: the signed, un-oriented surrogate(s) at that head: one entry per attribute pair ``(s, t)``.
        signs: the orientation ``sign(F_pair(theta_o))`` per pair (``+1`` where the gap is exactly 0).
    """

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
    value: float
    raw: dict[tuple[int, int], float]
    signs: dict[tuple[int, int], float]

    def __call__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return self.fn(weight, bias)


def _logits(emb: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    out = emb @ weight.T
    return out + bias if bias is not None else out


def validation_functional(target: Target | str, emb: torch.Tensor, y: torch.Tensor, a: torch.Tensor | None,
                          weight: torch.Tensor, bias: torch.Tensor | None = None, *, positive: int | None = None,
                          overshoot: float = 1.3) -> ValidationFunctional:
    """The oriented functional of ``target`` on validation embeddings ``emb`` for the head ``(weight, bias)``.

    * ``"utility"``: ``U = sum log-loss``.
    * ``"dp"`` / ``"eop"``: ``mean over attribute pairs (s < t) of sign(F_st(theta_o)) * F_st(theta)`` with the
      signed surrogates above; pairs whose groups are empty in ``emb`` are skipped (at least one must remain).
    * ``"robust"``: ``R = sum log-loss`` on ``adversarial_embeddings`` fixed at ``(weight, bias)``.

    Raises:
        ValueError: unknown target, ``a`` missing for a fairness target, or no attribute pair with both groups
            present.
    """
    if target not in _TARGETS:
        raise ValueError(f"target: expected one of {', '.join(map(repr, _TARGETS))}, got {target!r}")
    weight = weight.detach()
    bias = bias.detach() if bias is not None else None
    emb = emb.to(weight.dtype)
    with torch.no_grad():
        logits0 = _logits(emb, weight, bias)
    if target == "utility":
        def fn(w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
            return utility_loss(_logits(emb, w, b), y)
        return ValidationFunctional("utility", fn, float(fn(weight, bias)), {}, {})
    if target == "robust":
        adv = adversarial_embeddings(emb, weight, bias, overshoot=overshoot)

        def fn(w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
            return robust_surrogate(_logits(adv, w, b), y)
        return ValidationFunctional("robust", fn, float(fn(weight, bias)), {}, {})

    if a is None:
        raise ValueError(f"a: target {target!r} needs the sensitive attribute of the validation samples")
    if target == "eop":
        pos = positive if positive is not None else 1
        if positive is None and logits0.shape[1] > 2:
            raise ValueError(f"positive: a {logits0.shape[1]}-class head needs the positive class named for EOP")
        present = torch.unique(a[y == pos]).tolist()
    else:
        positive_prob(logits0[:1], positive=positive)  # validates ``positive`` early
        present = torch.unique(a).tolist()
    pairs = list(itertools.combinations(sorted(int(v) for v in present), 2))
    if not pairs:
        raise ValueError(f"a: target {target!r} needs at least two attribute values in the validation split"
                         + (f" among samples with y={positive if positive is not None else 1}"
                            if target == "eop" else "") + f"; found {present}")

    def signed(w: torch.Tensor, b: torch.Tensor | None, pair: tuple[int, int]) -> torch.Tensor:
        lg = _logits(emb, w, b)
        if target == "dp":
            return dp_surrogate(lg, a, positive=positive, pair=pair)
        return eop_surrogate(lg, y, a, positive=positive, pair=pair)

    with torch.no_grad():
        raw = {p: float(signed(weight, bias, p)) for p in pairs}
    signs = {p: (1.0 if v >= 0 else -1.0) for p, v in raw.items()}

    def fn(w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return torch.stack([signs[p] * signed(w, b, p) for p in pairs]).mean()

    return ValidationFunctional(target, fn, float(sum(abs(v) for v in raw.values()) / len(raw)), raw, signs)
