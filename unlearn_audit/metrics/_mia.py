"""Membership-inference attacks (spec A2): the project default, GRMU's and SalUn's protocols, and the
attacker-free loss-threshold sweep."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["loss_threshold_attack", "roc_auc", "mia_efficacy", "mia_grmu", "mia_svc_confidence",
           "modified_entropy"]


def _np(v: Any) -> np.ndarray:
    return (v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64))


def roc_auc(member_scores: Any, nonmember_scores: Any) -> float:
    """ROC AUC of ``score`` separating members (positives) from non-members, ties counted as 1/2
    (Mann-Whitney U with average ranks); ``nan`` if either side is empty."""
    pos, neg = _np(member_scores).ravel(), _np(nonmember_scores).ravel()
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # average ranks over ties, vectorised: boundaries of runs of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [scores.size]])
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each run
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def loss_threshold_attack(member_losses: Any, nonmember_losses: Any, *, max_fpr: float = 0.01) -> tuple[float, float]:
    """Loss-threshold attack: predict "member" when ``loss <= tau``, swept exactly over every threshold.

    Returns:
        ``(auc, tpr_at_fpr)`` in percent: the ROC AUC of score ``-loss`` and the largest TPR over thresholds whose
        FPR is ``<= max_fpr`` (the convention of ``sklearn.metrics.roc_curve``). ``nan`` when a side is empty.
    """
    pos, neg = -_np(member_losses).ravel(), -_np(nonmember_losses).ravel()
    if pos.size == 0 or neg.size == 0:
        return float("nan"), float("nan")
    auc = roc_auc(pos, neg)
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-scores, kind="mergesort")
    s, lab = scores[order], labels[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # thresholds between distinct scores
    tp = np.cumsum(lab)[last_of_run]
    fp = np.cumsum(1 - lab)[last_of_run]
    tpr, fpr = tp / pos.size, fp / neg.size
    ok = fpr <= max_fpr
    tpr_at = float(tpr[ok].max()) if ok.any() else 0.0
    return 100.0 * auc, 100.0 * tpr_at


def _forest(seed: int, n_estimators: int = 100, criterion: str = "gini", balanced: bool = True):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_estimators, criterion=criterion, random_state=seed,
                                  class_weight="balanced" if balanced else None, n_jobs=1)


def mia_efficacy(*, train_member_losses: Any, train_nonmember_losses: Any, forget_losses: Any,
                 test_losses: Any, seed: int = 0) -> dict[str, float]:
    """Project default MIA (spec A2 decision): one seeded RandomForest (100 trees, gini, balanced classes) on the
    per-sample loss, trained on members = ``D_r`` vs non-members = ``D_val`` (or ``D_te`` without val).

    Returns:
        ``{"efficacy": 100 * share of D_f predicted non-member, "auc": 100 * AUC of the attack's member
        probability on D_f (members) vs D_te (non-members)}``; ``nan`` entries when a set is empty.
    """
    m, nm, f, te = (_np(v).reshape(-1, 1) for v in (train_member_losses, train_nonmember_losses, forget_losses,
                                                     test_losses))
    if m.size == 0 or nm.size == 0:
        return {"efficacy": float("nan"), "auc": float("nan")}
    clf = _forest(seed).fit(np.vstack([m, nm]), np.r_[np.ones(len(m)), np.zeros(len(nm))])
    eff = float("nan") if f.size == 0 else 100.0 * float(1.0 - clf.predict(f).mean())
    auc = float("nan")
    if f.size and te.size:
        auc = 100.0 * roc_auc(clf.predict_proba(f)[:, 1], clf.predict_proba(te)[:, 1])
    return {"efficacy": eff, "auc": auc}


def mia_grmu(*, train_member_losses: Any, train_nonmember_losses: Any, forget_losses: Any, test_losses: Any,
             ) -> dict[str, Any]:
    """Seed 004's "basic MIA" exactly (spec A2a): RandomForest grid n_estimators in {20, 50, 100} x criterion in
    {gini, entropy}, ``random_state=0``, unbalanced; the configuration with the highest efficacy on ``D_f`` is kept
    (optimistic best-of-6). Unlike the reference code, the AUC is always that of the kept configuration."""
    m, nm, f, te = (_np(v).reshape(-1, 1) for v in (train_member_losses, train_nonmember_losses, forget_losses,
                                                     test_losses))
    if m.size == 0 or nm.size == 0 or f.size == 0:
        return {"efficacy": float("nan"), "auc": float("nan"), "config": None}
    x = np.vstack([m, nm])
    lab = np.r_[np.ones(len(m)), np.zeros(len(nm))]
    best: dict[str, Any] = {"efficacy": -1.0}
    for n in (20, 50, 100):
        for crit in ("gini", "entropy"):
            from sklearn.ensemble import RandomForestClassifier

            clf = RandomForestClassifier(n_estimators=n, criterion=crit, random_state=0, n_jobs=1).fit(x, lab)
            eff = 100.0 * float(1.0 - clf.predict(f).mean())
            if eff > best["efficacy"]:
                auc = 100.0 * roc_auc(clf.predict_proba(f)[:, 1], clf.predict_proba(te)[:, 1]) if te.size else \
                    float("nan")
                best = {"efficacy": eff, "auc": auc, "config": {"n_estimators": n, "criterion": crit}}
    return best


def modified_entropy(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Song & Mittal's modified entropy, correct form (spec A2 pitfall):
    ``Mentr(p, y) = -(1 - p_y) log p_y - sum_{k != y} p_k log(1 - p_k)``, logs clamped at 1e-30."""
    p = probs.double()
    log_p = p.clamp_min(1e-30).log()
    log_1mp = (1 - p).clamp_min(1e-30).log()
    py = p.gather(1, y.view(-1, 1)).squeeze(1)
    onehot = torch.nn.functional.one_hot(y, p.shape[1]).bool()
    other = torch.where(onehot, torch.zeros_like(p), p * log_1mp).sum(1)
    return -(1 - py) * log_p.gather(1, y.view(-1, 1)).squeeze(1) - other


def _svc_features(probs: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    p = probs.double()
    conf = p.gather(1, y.view(-1, 1))
    entropy = -(p * p.clamp_min(1e-30).log()).sum(1, keepdim=True)
    return {"correctness": (p.argmax(1) == y).double().view(-1, 1).numpy(), "confidence": conf.numpy(),
            "entropy": entropy.numpy(), "m_entropy": modified_entropy(p, y).view(-1, 1).numpy(), "prob": p.numpy()}


def mia_svc_confidence(*, retain_probs: torch.Tensor, retain_y: torch.Tensor, test_probs: torch.Tensor,
                       test_y: torch.Tensor, forget_probs: torch.Tensor, forget_y: torch.Tensor,
                       features: tuple[str, ...] = ("confidence",)) -> dict[str, float]:
    """SalUn / Sparse "SVC_MIA_forget_efficacy" (spec A2b): shadow members = the first ``|D_te|`` retain samples,
    shadow non-members = ``D_te`` (subsampled to ``|D_r|`` if larger); ``SVC(C=3, gamma="auto")`` per feature;
    efficacy = ``100 * (1 - mean pred(D_f))``. Returns ``{feature: efficacy}``."""
    from sklearn.svm import SVC

    n = min(len(retain_y), len(test_y))
    if n == 0 or len(forget_y) == 0:
        return {f: float("nan") for f in features}
    shadow_in = _svc_features(retain_probs[:n].cpu(), retain_y[:n].cpu())
    shadow_out = _svc_features(test_probs[:n].cpu(), test_y[:n].cpu())
    target = _svc_features(forget_probs.cpu(), forget_y.cpu())
    out = {}
    for name in features:
        x = np.vstack([shadow_in[name], shadow_out[name]])
        lab = np.r_[np.ones(n), np.zeros(n)]
        clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x, lab)
        out[name] = 100.0 * float(1.0 - clf.predict(target[name]).mean())
    return out
