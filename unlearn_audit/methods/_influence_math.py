"""Last-layer influence functions: exact Hessian, per-sample gradients, influence scores and Newton steps.

The setting (Qiao et al. 2026; Koh & Liang 2017): a linear head ``z = W h + b`` on **fixed** embeddings ``h``
(the input of the model's last ``nn.Linear``) trained on the L2-regularised objective, written as a **sum**
(matching scikit-learn's ``C * sum loss + 1/2 ||w||^2`` with ``l2 = 1/C``)::

    L(theta) = sum_i w_i * loss(z_i, y_i) + l2/2 * ||theta||^2,        theta = vec([W | b]) (row-major)

* ``k == 1`` output: binary logistic loss, ``y in {0, 1}``, ``g_i = (p_i - y_i) h~_i`` and
  ``H = sum_i w_i p_i (1 - p_i) h~_i h~_i^T + l2 I``.
* ``k >= 2`` outputs: softmax cross-entropy, ``g_i = (p_i - e_{y_i}) (x) h~_i`` and the exact Kronecker-structured
  Hessian ``H = sum_i w_i (diag(p_i) - p_i p_i^T) (x) h~_i h~_i^T + l2 I``.

``h~ = [h, 1]`` when the head has a bias (the bias is regularised unless ``l2_bias=False``). Everything is computed
in float64. A dense Hessian is factorised by Cholesky when it has at most ``dense_max`` rows; larger heads are
solved by (Jacobi-preconditioned) conjugate gradient with exact Hessian-vector products, never forming ``H``.

Sign conventions: the influence score of sample ``i`` on a validation functional ``M`` is
``a_i = g_i^T H^-1 grad M``; removing ``i`` changes ``M`` by about ``+a_i``, and reweighting every sample from
``1`` to ``1 + eps_i`` moves ``theta`` by about ``-H^-1 sum_i eps_i g_i`` and ``M`` by about ``-sum_i eps_i a_i``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import nn

from ..data import GroupDataset
from ..models import head_and_embedding
from ._fair_surrogates import log_loss

__all__ = ["HeadData", "HessianInverse", "LinearHead", "conjugate_gradient", "fit_head", "functional_gradient",
           "head_data", "head_gradient", "head_hessian", "head_hvp", "head_objective", "influence_scores",
           "newton_removal_step", "newton_update_", "per_sample_grads", "weighted_grad_sum"]

DTYPE = torch.float64


# ------------------------------------------------------------------------------------------------- the head
@dataclass(frozen=True, eq=False)
class LinearHead:
    """Parameters of a linear head in float64: ``weight`` ``(k, d)`` and optional ``bias`` ``(k,)``.

    ``k == 1`` is a binary logistic head; ``k >= 2`` a softmax head. The flat parameter vector is
    ``vec([W | b])`` row-major: entry ``(c, j)`` is at ``c * width + j`` with ``width = d + has_bias``.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.weight.ndim != 2:
            raise ValueError(f"weight: expected shape (k, d), got {tuple(self.weight.shape)}")
        if self.bias is not None and tuple(self.bias.shape) != (self.weight.shape[0],):
            raise ValueError(f"bias: expected shape ({self.weight.shape[0]},), got {tuple(self.bias.shape)}")

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, device: torch.device | str | None = None) -> "LinearHead":
        """A float64 copy (detached) of an ``nn.Linear``'s parameters."""
        dev = device if device is not None else linear.weight.device
        w = linear.weight.detach().to(device=dev, dtype=DTYPE).clone()
        b = linear.bias.detach().to(device=dev, dtype=DTYPE).clone() if linear.bias is not None else None
        return cls(w, b)

    @classmethod
    def from_flat(cls, theta: torch.Tensor, *, n_outputs: int, bias: bool) -> "LinearHead":
        """The head whose flat parameter vector is ``theta``."""
        m = theta.reshape(n_outputs, -1)
        return cls(m[:, :-1].clone(), m[:, -1].clone()) if bias else cls(m.clone(), None)

    @property
    def n_outputs(self) -> int:
        return int(self.weight.shape[0])

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def has_bias(self) -> bool:
        return self.bias is not None

    @property
    def width(self) -> int:
        return self.dim + int(self.has_bias)

    @property
    def n_params(self) -> int:
        return self.n_outputs * self.width

    def flat(self) -> torch.Tensor:
        """``vec([W | b])``, a fresh ``(n_params,)`` tensor."""
        m = torch.cat([self.weight, self.bias[:, None]], 1) if self.bias is not None else self.weight
        return m.reshape(-1).clone()

    def with_flat(self, theta: torch.Tensor) -> "LinearHead":
        return LinearHead.from_flat(theta, n_outputs=self.n_outputs, bias=self.has_bias)

    def logits(self, emb: torch.Tensor) -> torch.Tensor:
        out = emb.to(self.weight.dtype) @ self.weight.T
        return out + self.bias if self.bias is not None else out

    def copy_to_(self, linear: nn.Linear) -> nn.Linear:
        """Write these parameters into ``linear`` in place (cast to its dtype/device) and return it."""
        if tuple(linear.weight.shape) != tuple(self.weight.shape) or (linear.bias is None) != (self.bias is None):
            raise ValueError(f"copy_to_: head of shape {tuple(self.weight.shape)} (bias={self.has_bias}) does not "
                             f"fit nn.Linear of shape {tuple(linear.weight.shape)} (bias={linear.bias is not None})")
        with torch.no_grad():
            linear.weight.copy_(self.weight.to(linear.weight))
            if self.bias is not None:
                linear.bias.copy_(self.bias.to(linear.bias))  # type: ignore[union-attr]
        return linear


# ------------------------------------------------------------------------------------------------- extraction
@dataclass(frozen=True, eq=False)
class HeadData:
    """Embeddings (float64, ``(n, d)``), labels and attributes of one split, with the model's head."""

    emb: torch.Tensor
    y: torch.Tensor
    a: torch.Tensor
    head: LinearHead

    def __len__(self) -> int:
        return int(self.emb.shape[0])


def head_data(model: nn.Module, dataset: GroupDataset, *, batch_size: int = 1024,
              device: torch.device | str | None = None) -> HeadData:
    """Embed ``dataset`` with ``model`` (input of its last ``nn.Linear``) in one batched no-grad, eval-mode pass.

    The model's train/eval mode is restored afterwards; nothing else about it changes. The result lives on
    ``device`` (default: the model's device) in float64.

    Raises:
        ValueError: the model has no ``nn.Linear`` head, or the embedding is not ``(n, d)`` with ``d`` matching it.
    """
    head, embed = head_and_embedding(model)
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    if batch_size < 1:
        raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    chunks: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for start in range(0, len(dataset), batch_size):
                xb = dataset.x[start:start + batch_size].to(head.weight.device)
                chunks.append(embed(xb).reshape(len(xb), -1).to(device=device, dtype=DTYPE))
    finally:
        model.train(was_training)
    emb = torch.cat(chunks)
    if emb.shape[1] != head.in_features:
        raise ValueError(f"head_data: embeddings have {emb.shape[1]} features but the head expects "
                         f"{head.in_features}")
    return HeadData(emb, dataset.y.to(device), dataset.a.to(device), LinearHead.from_linear(head, device=device))


# ------------------------------------------------------------------------------------------------- core pieces
def _aug(head: LinearHead, emb: torch.Tensor) -> torch.Tensor:
    emb = emb.to(device=head.weight.device, dtype=DTYPE)
    if emb.ndim != 2 or emb.shape[1] != head.dim:
        raise ValueError(f"emb: expected shape (n, {head.dim}), got {tuple(emb.shape)}")
    return torch.cat([emb, emb.new_ones(len(emb), 1)], 1) if head.has_bias else emb


def _probs(head: LinearHead, emb: torch.Tensor) -> torch.Tensor:
    z = head.logits(emb.to(DTYPE))
    return torch.sigmoid(z) if head.n_outputs == 1 else torch.softmax(z, dim=1)


def _residuals(head: LinearHead, emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``dloss/dz``: ``p - y`` (binary, ``(n, 1)``) or ``p - onehot(y)`` (softmax, ``(n, k)``)."""
    p = _probs(head, emb)
    y = y.to(p.device)
    if head.n_outputs == 1:
        if y.numel() and (int(y.min()) < 0 or int(y.max()) > 1):
            raise ValueError("y: a binary logistic head needs labels in {0, 1}")
        return p - y.to(DTYPE)[:, None]
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= head.n_outputs):
        raise ValueError(f"y: labels must lie in 0..{head.n_outputs - 1} for a {head.n_outputs}-class head")
    return p - torch.nn.functional.one_hot(y.long(), head.n_outputs).to(DTYPE)


def _curv_apply(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Per-sample ``S_i z_i`` with ``S_i = d^2 loss / dz^2`` (``p(1-p)`` or ``diag(p) - p p^T``)."""
    if p.shape[-1] == 1:
        return p * (1 - p) * z
    return p * z - p * (p * z).sum(-1, keepdim=True)


def _sample_weight(sample_weight: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor | None:
    if sample_weight is None:
        return None
    w = torch.as_tensor(sample_weight).to(device=like.device, dtype=DTYPE).flatten()
    if w.numel() != n:
        raise ValueError(f"sample_weight: expected {n} weights, got {w.numel()}")
    return w


def _reg(head: LinearHead, l2: float, l2_bias: bool) -> torch.Tensor:
    if l2 < 0 or not math.isfinite(l2):
        raise ValueError(f"l2: expected a finite value >= 0, got {l2}")
    r = head.weight.new_full((head.n_outputs, head.width), float(l2))
    if head.has_bias and not l2_bias:
        r[:, -1] = 0.0
    return r.reshape(-1)


def _labels(y: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    y = torch.as_tensor(y)
    if y.ndim != 1 or y.numel() != emb.shape[0]:
        raise ValueError(f"y: expected {emb.shape[0]} labels, got shape {tuple(y.shape)}")
    return y


def per_sample_grads(head: LinearHead, emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample loss gradients ``g_i`` w.r.t. the flat head parameters, ``(n, n_params)`` (no regulariser)."""
    ht = _aug(head, emb)
    r = _residuals(head, emb, _labels(y, emb))
    return (r[:, :, None] * ht[:, None, :]).reshape(len(ht), -1)


def weighted_grad_sum(head: LinearHead, emb: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_i weights_i g_i`` as a flat ``(n_params,)`` vector, without forming the per-sample gradients."""
    ht = _aug(head, emb)
    r = _residuals(head, emb, _labels(y, emb))
    w = _sample_weight(weights, len(ht), ht)
    return ((r * w[:, None]).T @ ht).reshape(-1)  # type: ignore[index]


def head_objective(head: LinearHead, emb: torch.Tensor, y: torch.Tensor, *, l2: float,
                   sample_weight: torch.Tensor | None = None, l2_bias: bool = True) -> torch.Tensor:
    """``sum_i w_i loss_i + l2/2 ||theta||^2`` (float64 scalar)."""
    losses = log_loss(head.logits(emb.to(DTYPE)), _labels(y, emb).to(head.weight.device))
    w = _sample_weight(sample_weight, len(losses), losses)
    theta = head.flat()
    data = losses.sum() if w is None else (w * losses).sum()
    return data + 0.5 * (_reg(head, l2, l2_bias) * theta * theta).sum()


def head_gradient(head: LinearHead, emb: torch.Tensor, y: torch.Tensor, *, l2: float,
                  sample_weight: torch.Tensor | None = None, l2_bias: bool = True) -> torch.Tensor:
    """Gradient of ``head_objective`` w.r.t. the flat parameters."""
    ht = _aug(head, emb)
    r = _residuals(head, emb, _labels(y, emb))
    w = _sample_weight(sample_weight, len(ht), ht)
    if w is not None:
        r = r * w[:, None]
    return (r.T @ ht).reshape(-1) + _reg(head, l2, l2_bias) * head.flat()


def head_hessian(head: LinearHead, emb: torch.Tensor, *, l2: float, sample_weight: torch.Tensor | None = None,
                 l2_bias: bool = True) -> torch.Tensor:
    """The exact dense Hessian ``(n_params, n_params)`` of ``head_objective`` (labels do not enter it)."""
    ht = _aug(head, emb)
    p = _probs(head, emb)
    w = _sample_weight(sample_weight, len(ht), ht)
    k, dw = head.n_outputs, head.width
    out = ht.new_zeros(k * dw, k * dw)
    if k == 1:
        s = p[:, 0] * (1 - p[:, 0])
        out = (ht * (s if w is None else s * w)[:, None]).T @ ht
    else:
        for c in range(k):
            for c2 in range(c, k):
                s = p[:, c] * ((1.0 if c == c2 else 0.0) - p[:, c2])
                block = (ht * (s if w is None else s * w)[:, None]).T @ ht
                out[c * dw:(c + 1) * dw, c2 * dw:(c2 + 1) * dw] = block
                if c2 != c:
                    out[c2 * dw:(c2 + 1) * dw, c * dw:(c + 1) * dw] = block.T
    return out + torch.diag(_reg(head, l2, l2_bias))


def head_hvp(head: LinearHead, emb: torch.Tensor, v: torch.Tensor, *, l2: float,
             sample_weight: torch.Tensor | None = None, l2_bias: bool = True) -> torch.Tensor:
    """Exact Hessian-vector product ``H v`` for ``v`` of shape ``(n_params,)`` or ``(n_params, m)``."""
    return _HVP(head, emb, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias)(v)


class _HVP:
    def __init__(self, head: LinearHead, emb: torch.Tensor, *, l2: float, sample_weight: torch.Tensor | None,
                 l2_bias: bool) -> None:
        self.head = head
        self.ht = _aug(head, emb)
        self.p = _probs(head, emb)
        self.w = _sample_weight(sample_weight, len(self.ht), self.ht)
        self.reg = _reg(head, l2, l2_bias)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        k, dw = self.head.n_outputs, self.head.width
        cols = v.reshape(k * dw, -1).to(DTYPE)
        m = cols.shape[1]
        n = self.ht.shape[0]
        z = (self.ht @ cols.T.reshape(m * k, dw).T).reshape(n, m, k)  # z[i, col] = V_col h~_i
        sz = _curv_apply(self.p[:, None, :], z)
        if self.w is not None:
            sz = sz * self.w[:, None, None]
        out = (sz.reshape(n, m * k).T @ self.ht).reshape(m, k * dw).T + self.reg[:, None] * cols
        return out.reshape(v.shape)

    def diagonal(self) -> torch.Tensor:
        s = self.p * (1 - self.p)                                 # p(1-p), also the diagonal of diag(p) - p p^T
        if self.w is not None:
            s = s * self.w[:, None]
        return (s.T @ (self.ht * self.ht)).reshape(-1) + self.reg


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, *, tol: float = 1e-10,
                       max_iter: int | None = None, precond: torch.Tensor | None = None,
                       x0: torch.Tensor | None = None) -> tuple[torch.Tensor, int, float]:
    """Solve ``A x = b`` for symmetric positive definite ``A`` given by ``matvec``; ``b`` may have columns.

    Each column runs its own (Jacobi-preconditioned when ``precond`` = diag(A) is given) CG recursion; stops when
    every column's residual satisfies ``||r|| <= tol * ||b||``.

    Returns:
        ``(x, iterations, worst relative residual)``.
    """
    squeeze = b.ndim == 1
    bb = b.reshape(len(b), -1).to(DTYPE)
    n = bb.shape[0]
    max_iter = max_iter if max_iter is not None else max(100, 2 * n)
    x = torch.zeros_like(bb) if x0 is None else x0.reshape(bb.shape).to(DTYPE).clone()
    r = bb - matvec(x) if x0 is not None else bb.clone()
    minv = (1.0 / precond.to(DTYPE))[:, None] if precond is not None else None
    zr = r * minv if minv is not None else r
    p = zr.clone()
    rz = (r * zr).sum(0)
    bnorm = bb.norm(dim=0).clamp_min(torch.finfo(DTYPE).tiny)
    rel = float((r.norm(dim=0) / bnorm).max()) if n else 0.0
    it = 0
    while rel > tol and it < max_iter:
        ap = matvec(p)
        pap = (p * ap).sum(0)
        active = (r.norm(dim=0) / bnorm) > tol
        alpha = torch.where(active & (pap > 0), rz / torch.where(pap > 0, pap, torch.ones_like(pap)),
                            torch.zeros_like(pap))
        x = x + alpha * p
        r = r - alpha * ap
        zr = r * minv if minv is not None else r
        rz_new = (r * zr).sum(0)
        beta = torch.where(rz > 0, rz_new / torch.where(rz > 0, rz, torch.ones_like(rz)), torch.zeros_like(rz))
        p = zr + beta * p
        rz = rz_new
        it += 1
        rel = float((r.norm(dim=0) / bnorm).max())
    return (x[:, 0] if squeeze else x), it, rel


class HessianInverse:
    """``H^-1`` of the head objective at ``head``: Cholesky when ``n_params <= dense_max``, else CG with HVPs.

    Args:
        head, emb: the head and the (training) embeddings the Hessian is summed over.
        l2: the L2 coefficient of the summed objective (``1/C`` in scikit-learn terms).
        sample_weight: per-sample loss weights ``w_i`` (default 1).
        l2_bias: whether the bias is regularised.
        method: ``"auto"`` (by ``dense_max``), ``"cholesky"`` or ``"cg"``.
        dense_max: largest ``n_params`` for which the dense Hessian is formed (``8 * dense_max^2`` bytes).
        cg_tol, cg_max_iter: CG stopping rule (relative residual) and iteration cap (default ``max(100, 2P)``).

    Raises:
        ValueError: the Hessian is not positive definite (``l2 = 0`` on separable data, negative weights, ...).
    """

    def __init__(self, head: LinearHead, emb: torch.Tensor, *, l2: float, sample_weight: torch.Tensor | None = None,
                 l2_bias: bool = True, method: Literal["auto", "cholesky", "cg"] = "auto", dense_max: int = 4096,
                 cg_tol: float = 1e-10, cg_max_iter: int | None = None) -> None:
        if method not in ("auto", "cholesky", "cg"):
            raise ValueError(f"method: expected 'auto', 'cholesky' or 'cg', got {method!r}")
        self.head = head
        self.n_params = head.n_params
        self.method = ("cholesky" if head.n_params <= dense_max else "cg") if method == "auto" else method
        self.cg_tol, self.cg_max_iter = cg_tol, cg_max_iter
        self.last_cg: tuple[int, float] | None = None
        if self.method == "cholesky":
            hess = head_hessian(head, emb, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias)
            chol, info = torch.linalg.cholesky_ex(hess)
            if int(info) != 0:
                raise ValueError("HessianInverse: the head Hessian is not positive definite; use l2 > 0 (and "
                                 "l2_bias=True) and non-negative sample weights")
            self._chol = chol
        else:
            self._hvp = _HVP(head, emb, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias)
            self._diag = self._hvp.diagonal()
            if bool((self._diag <= 0).any()):
                raise ValueError("HessianInverse: the head Hessian has a non-positive diagonal entry; use l2 > 0 "
                                 "(and l2_bias=True) and non-negative sample weights")

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``H v`` (either path)."""
        if self.method == "cholesky":
            cols = v.reshape(self.n_params, -1).to(DTYPE)
            return (self._chol @ (self._chol.T @ cols)).reshape(v.shape)
        return self._hvp(v)

    def solve(self, b: torch.Tensor) -> torch.Tensor:
        """``H^-1 b`` for ``b`` of shape ``(n_params,)`` or ``(n_params, m)``."""
        if b.shape[0] != self.n_params:
            raise ValueError(f"solve: expected a right-hand side with {self.n_params} rows, got {tuple(b.shape)}")
        if self.method == "cholesky":
            cols = b.reshape(self.n_params, -1).to(device=self._chol.device, dtype=DTYPE)
            return torch.cholesky_solve(cols, self._chol).reshape(b.shape)
        x, it, rel = conjugate_gradient(self._hvp, b.to(DTYPE), tol=self.cg_tol, max_iter=self.cg_max_iter,
                                        precond=self._diag)
        self.last_cg = (it, rel)
        if rel > self.cg_tol:
            warnings.warn(f"HessianInverse: conjugate gradient stopped after {it} iterations at relative residual "
                          f"{rel:.2e} > cg_tol={self.cg_tol:.0e}; raise cg_max_iter or l2", RuntimeWarning,
                          stacklevel=2)
        return x


def functional_gradient(fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
                        head: LinearHead) -> torch.Tensor:
    """``grad_theta fn(weight, bias)`` at ``head`` as a flat ``(n_params,)`` vector (autograd, float64)."""
    w = head.weight.detach().clone().requires_grad_(True)
    b = head.bias.detach().clone().requires_grad_(True) if head.bias is not None else None
    with torch.enable_grad():
        val = fn(w, b)
        if val.ndim != 0:
            raise ValueError(f"functional_gradient: fn must return a scalar, got shape {tuple(val.shape)}")
        grads = torch.autograd.grad(val, [w] + ([b] if b is not None else []), allow_unused=True)
    gw = grads[0] if grads[0] is not None else torch.zeros_like(w)
    if b is None:
        return gw.detach().reshape(-1).clone()
    gb = grads[1] if grads[1] is not None else torch.zeros_like(b)
    return torch.cat([gw, gb[:, None]], 1).detach().reshape(-1)


def influence_scores(head: LinearHead, emb: torch.Tensor, y: torch.Tensor, grad_m: torch.Tensor, *,
                     l2: float | None = None, hinv: HessianInverse | None = None, **hinv_kwargs) -> torch.Tensor:
    """``a_i = g_i^T H^-1 grad M`` for every training sample; removing ``i`` changes ``M`` by about ``+a_i``.

    Args:
        head, emb, y: the head and the training embeddings / labels (the Hessian's samples).
        grad_m: ``grad_theta M(D_val)``, ``(n_params,)`` or ``(n_params, m)`` for ``m`` functionals at once.
        l2: L2 coefficient (needed unless ``hinv`` is given).
        hinv: a prepared ``HessianInverse`` to reuse; other keywords are passed to ``HessianInverse``.

    Returns:
        ``(n,)`` or ``(n, m)`` float64 scores.
    """
    if hinv is None:
        if l2 is None:
            raise ValueError("influence_scores: pass l2 (or a prepared hinv)")
        hinv = HessianInverse(head, emb, l2=l2, **hinv_kwargs)
    s = hinv.solve(grad_m.to(DTYPE))
    squeeze = s.ndim == 1
    k, dw = head.n_outputs, head.width
    s3 = s.reshape(k, dw, -1)
    m = s3.shape[2]
    ht = _aug(head, emb)
    r = _residuals(head, emb, _labels(y, emb))
    q = (ht @ s3.permute(1, 0, 2).reshape(dw, k * m)).reshape(-1, k, m)   # q[i, c, :] = S_c h~_i
    out = (r[:, :, None] * q).sum(1)
    return out[:, 0] if squeeze else out


def newton_removal_step(head: LinearHead, emb: torch.Tensor, y: torch.Tensor, epsilon: torch.Tensor, *, l2: float,
                        sample_weight: torch.Tensor | None = None, l2_bias: bool = True,
                        mode: Literal["influence", "newton"] = "influence", hinv: HessianInverse | None = None,
                        **hinv_kwargs) -> LinearHead:
    """Reweight training sample ``i`` from ``w_i`` to ``w_i (1 + eps_i)`` by one second-order step on the head.

    * ``mode="influence"`` (paper Eq. 8): ``theta' = theta - H^-1 sum_i eps_i w_i g_i`` with the Hessian of
      the *current* objective at ``theta`` (``hinv`` may be passed to reuse it). ``eps = -1`` on a set and 0
      elsewhere is the classic influence-function removal of that set (the hard scheme).
    * ``mode="newton"``: one exact Newton step of the *reweighted* objective from ``theta``:
      ``theta' = theta - H_eps^-1 grad L_eps(theta)``; iterating it converges to the reweighted refit. At an exact
      optimum of the current objective it differs from ``"influence"`` only by the Hessian used.

    A prepared ``hinv`` must be of the Hessian the mode uses (current weights for ``"influence"``, reweighted for
    ``"newton"``); other keywords go to ``HessianInverse`` (``method``, ``dense_max``, ...).

    Returns:
        the updated head (the input is not modified).
    """
    ht = _aug(head, emb)
    eps = _sample_weight(epsilon, len(ht), ht)
    w = _sample_weight(sample_weight, len(ht), ht)
    base = w if w is not None else torch.ones_like(eps)  # type: ignore[arg-type]
    if mode == "influence":
        if hinv is None:
            hinv = HessianInverse(head, emb, l2=l2, sample_weight=w, l2_bias=l2_bias, **hinv_kwargs)
        step = hinv.solve(weighted_grad_sum(head, emb, y, eps * base))  # type: ignore[operator]
    elif mode == "newton":
        new_w = base * (1 + eps)  # type: ignore[operator]
        if hinv is None:
            hinv = HessianInverse(head, emb, l2=l2, sample_weight=new_w, l2_bias=l2_bias, **hinv_kwargs)
        step = hinv.solve(head_gradient(head, emb, y, l2=l2, sample_weight=new_w, l2_bias=l2_bias))
    else:
        raise ValueError(f"mode: expected 'influence' or 'newton', got {mode!r}")
    return head.with_flat(head.flat() - step)


def fit_head(emb: torch.Tensor, y: torch.Tensor, *, n_outputs: int, l2: float, bias: bool = True,
             l2_bias: bool = True, sample_weight: torch.Tensor | None = None, init: LinearHead | None = None,
             tol: float = 1e-24, max_iter: int = 100, **hinv_kwargs) -> LinearHead:
    """Minimise ``head_objective`` exactly by damped Newton (Armijo backtracking), from ``init`` or zeros.

    Stops when the Newton decrement ``g^T H^-1 g / 2`` falls below ``tol * (1 + |L|)`` (the default is at the
    level of float64 rounding: the result is the optimum to machine precision). Samples with weight 0 are
    effectively removed (the reference for leave-one-out refits).

    Raises:
        RuntimeError: no convergence in ``max_iter`` iterations.
    """
    emb = emb.to(DTYPE)
    if init is None:
        head = LinearHead(emb.new_zeros(n_outputs, emb.shape[1]), emb.new_zeros(n_outputs) if bias else None)
    else:
        head = init
    obj = float(head_objective(head, emb, y, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias))
    for _ in range(max_iter):
        g = head_gradient(head, emb, y, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias)
        hinv = HessianInverse(head, emb, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias, **hinv_kwargs)
        step = hinv.solve(g)
        dec = float(g @ step)
        scale = 1 + abs(obj)
        if dec / 2 <= tol * scale:
            return head
        theta = head.flat()
        if dec < 1e-6 * scale:  # inside the quadratic-convergence region: take the full Newton step
            head = head.with_flat(theta - step)
            obj = float(head_objective(head, emb, y, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias))
            continue
        t = 1.0
        for _ in range(60):
            cand = head.with_flat(theta - t * step)
            cand_obj = float(head_objective(cand, emb, y, l2=l2, sample_weight=sample_weight, l2_bias=l2_bias))
            if cand_obj <= obj - 1e-4 * t * dec:
                break
            t /= 2
        else:  # no decrease possible at this precision: converged to rounding
            return head
        head, obj = cand, cand_obj
    raise RuntimeError(f"fit_head: Newton did not converge in {max_iter} iterations")


def newton_update_(model: nn.Module, dataset: GroupDataset, epsilon: torch.Tensor, *, l2: float | None = None,
                   l2_bias: bool = True, mode: Literal["influence", "newton"] = "influence", batch_size: int = 1024,
                   dense_max: int = 4096) -> LinearHead:
    """Apply ``newton_removal_step`` to ``model``'s head **in place** (the IF method on the last layer).

    ``dataset`` is the training set the head was fit on (its Hessian's samples) and ``epsilon`` one weight per
    sample of it: ``-1`` on ``D_f`` and 0 elsewhere removes the forget set (hard scheme), soft weights reweight.
    The embeddings are computed once (``head_data``); only the head's parameters change.

    Args:
        l2: L2 coefficient of the summed head objective; default ``1e-3 * len(dataset)`` (as ``soft_weights``).

    Returns:
        the new head parameters (float64), already copied into the model's ``nn.Linear``.
    """
    from ..models import find_head

    eps = torch.as_tensor(epsilon).flatten()
    if eps.numel() != len(dataset):
        raise ValueError(f"epsilon: expected one weight per sample of the dataset ({len(dataset)}), got {eps.numel()}")
    hd = head_data(model, dataset, batch_size=batch_size)
    if l2 is None:
        l2 = 1e-3 * len(dataset)
    new = newton_removal_step(hd.head, hd.emb, hd.y, eps.to(hd.emb.device), l2=l2, l2_bias=l2_bias, mode=mode,
                              dense_max=dense_max)
    if not bool(torch.isfinite(new.flat()).all()):
        raise ValueError("newton_update_: the Newton step produced non-finite parameters; increase l2")
    new.copy_to_(find_head(model)[1])
    return new
