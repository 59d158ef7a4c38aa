"""Membership inference: the loss-threshold sweep against sklearn's ROC (ties included) and the three attack
protocols against their spec definitions."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.svm import SVC

from unlearn_audit.metrics import (loss_threshold_attack, mia_efficacy, mia_grmu, mia_svc_confidence,
                                   modified_entropy, roc_auc)


def _losses(seed: int):
    """Members / non-members with overlapping losses; a third of the cases rounded hard so that ties abound."""
    rng = np.random.default_rng(seed)
    n_m, n_n = int(rng.integers(1, 400)), int(rng.integers(1, 1500))
    m = rng.gamma(1.0, 0.3 + 0.4 * rng.uniform(), n_m)
    nm = rng.gamma(1.5, 0.5, n_n)
    if seed % 3 == 0:
        m, nm = np.round(m, 1), np.round(nm, 1)
    elif seed % 3 == 1:
        m = np.r_[m, nm[: max(1, n_n // 10)]]  # exact duplicates across the two sides
    return m, nm


def _oracle(m: np.ndarray, nm: np.ndarray):
    labels = np.r_[np.ones(m.size), np.zeros(nm.size)]
    scores = -np.r_[m, nm]
    fpr, tpr, _ = roc_curve(labels, scores)
    return 100 * roc_auc_score(labels, scores), 100 * tpr[fpr <= 0.01].max()


def test_loss_threshold_attack_matches_sklearn_with_ties():
    for seed in range(120):
        m, nm = _losses(seed)
        if seed % 2:  # float32 tensors, as the engine passes them
            m, nm = m.astype(np.float32).astype(np.float64), nm.astype(np.float32).astype(np.float64)
            auc, tpr = loss_threshold_attack(torch.as_tensor(m, dtype=torch.float32), torch.as_tensor(nm).float())
        else:
            auc, tpr = loss_threshold_attack(m, nm)
        want_auc, want_tpr = _oracle(m, nm)
        assert auc == pytest.approx(want_auc, abs=1e-9), seed
        assert tpr == pytest.approx(want_tpr, abs=1e-9), seed
        assert roc_auc(-m, -nm) == pytest.approx(want_auc / 100, abs=1e-11)


def test_loss_threshold_attack_extremes():
    assert loss_threshold_attack([0.0, 0.1], [1.0, 2.0, 3.0]) == (100.0, 100.0)
    assert loss_threshold_attack([5.0, 6.0], [1.0, 2.0]) == (0.0, 0.0)
    auc, tpr = loss_threshold_attack(np.ones(50), np.ones(70))  # all tied: chance, nothing below 1% FPR
    assert auc == 50.0 and tpr == 0.0
    auc, tpr = loss_threshold_attack(torch.zeros(0), torch.ones(3))
    assert math.isnan(auc) and math.isnan(tpr)
    assert math.isnan(roc_auc([], [1.0]))
    with pytest.raises(ValueError, match="NaN"):
        loss_threshold_attack([float("nan")], [1.0])


def test_loss_threshold_attack_is_fast():
    rng = np.random.default_rng(0)
    m, nm = torch.as_tensor(rng.exponential(0.2, 100_000)), torch.as_tensor(rng.exponential(0.5, 100_000))
    t = time.perf_counter()
    loss_threshold_attack(m, nm)
    assert time.perf_counter() - t < 2.0  # milliseconds normally; generous for a loaded CI box


def test_mia_efficacy_is_the_project_default_protocol():
    """One seeded RandomForest(50, gini, balanced) on the loss, D_r vs D_val; efficacy on D_f, AUC D_f vs D_te."""
    rng = np.random.default_rng(1)
    retain, val = rng.exponential(0.05, 300), rng.exponential(0.8, 80)
    forget, test = rng.exponential(0.3, 40), rng.exponential(0.8, 90)
    res = mia_efficacy(train_member_losses=torch.as_tensor(retain), train_nonmember_losses=val,
                       forget_losses=forget, test_losses=test, seed=3)
    clf = RandomForestClassifier(n_estimators=50, criterion="gini", class_weight="balanced", random_state=3)
    clf.fit(np.r_[retain, val].reshape(-1, 1), np.r_[np.ones(300), np.zeros(80)])
    assert res["efficacy"] == pytest.approx(100 * (1 - clf.predict(forget.reshape(-1, 1)).mean()))
    pf, pt = clf.predict_proba(forget.reshape(-1, 1))[:, 1], clf.predict_proba(test.reshape(-1, 1))[:, 1]
    assert res["auc"] == pytest.approx(100 * roc_auc_score(np.r_[np.ones(40), np.zeros(90)], np.r_[pf, pt]))
    again = mia_efficacy(train_member_losses=retain, train_nonmember_losses=val, forget_losses=forget,
                         test_losses=test, seed=3)
    assert again == res  # deterministic


def test_mia_efficacy_direction_and_empty_sets():
    rng = np.random.default_rng(2)
    retain, val = rng.uniform(0, 0.1, 200), rng.uniform(1, 2, 200)
    kw = dict(train_member_losses=retain, train_nonmember_losses=val, test_losses=rng.uniform(1, 2, 50))
    assert mia_efficacy(forget_losses=rng.uniform(0, 0.1, 30), **kw)["efficacy"] == 0.0  # look like members
    assert mia_efficacy(forget_losses=rng.uniform(1, 2, 30), **kw)["efficacy"] == 100.0  # look like non-members
    res = mia_efficacy(forget_losses=np.zeros(0), **kw)
    assert math.isnan(res["efficacy"]) and math.isnan(res["auc"])
    with pytest.raises(ValueError, match="NaN"):
        mia_efficacy(forget_losses=np.array([np.nan]), **kw)


def test_mia_grmu_is_best_of_six_on_the_forget_set():
    rng = np.random.default_rng(4)
    retain, val = rng.exponential(0.2, 150), rng.exponential(0.5, 60)
    forget, test = rng.exponential(0.35, 30), rng.exponential(0.5, 60)
    res = mia_grmu(train_member_losses=retain, train_nonmember_losses=val, forget_losses=forget, test_losses=test)
    x, lab = np.r_[retain, val].reshape(-1, 1), np.r_[np.ones(150), np.zeros(60)]
    effs = {(n, c): 100 * (1 - RandomForestClassifier(n_estimators=n, criterion=c, random_state=0).fit(x, lab)
                           .predict(forget.reshape(-1, 1)).mean())
            for n in (20, 50, 100) for c in ("gini", "entropy")}
    best = max(effs.values())
    assert res["efficacy"] == pytest.approx(best)
    first_best = next(k for k, v in effs.items() if v == best)
    assert (res["config"]["n_estimators"], res["config"]["criterion"]) == first_best
    assert 0.0 <= res["auc"] <= 100.0


def _naive_mentr(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = []
    for row, yi in zip(p, y):
        v = -(1 - row[yi]) * np.log(max(row[yi], 1e-30))
        v -= sum(row[k] * np.log(max(1 - row[k], 1e-30)) for k in range(len(row)) if k != yi)
        out.append(v)
    return np.array(out)


def test_modified_entropy_is_song_mittal_form():
    rng = np.random.default_rng(5)
    p = torch.softmax(torch.as_tensor(rng.normal(size=(40, 5)) * 3), 1)
    p[0] = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0], dtype=p.dtype)  # clamped logs stay finite
    y = torch.as_tensor(rng.integers(0, 5, 40))
    got = modified_entropy(p, y).numpy()
    assert np.allclose(got, _naive_mentr(p.numpy(), y.numpy()), rtol=1e-12, atol=1e-12)
    assert np.isfinite(got).all() and (got >= 0).all()


def test_mia_svc_confidence_follows_salun_protocol():
    g = torch.Generator().manual_seed(6)
    retain_p = torch.softmax(torch.randn(120, 3, generator=g) * 4, 1)
    test_p = torch.softmax(torch.randn(50, 3, generator=g), 1)
    forget_p = torch.softmax(torch.randn(20, 3, generator=g) * 2, 1)
    ry, ty, fy = (torch.randint(0, 3, (n,), generator=g) for n in (120, 50, 20))
    res = mia_svc_confidence(retain_probs=retain_p, retain_y=ry, test_probs=test_p, test_y=ty, forget_probs=forget_p,
                             forget_y=fy, features=("confidence", "m_entropy", "prob", "correctness", "entropy"))
    conf = lambda p, y: p.gather(1, y.view(-1, 1)).numpy()  # noqa: E731
    x = np.vstack([conf(retain_p[:50], ry[:50]), conf(test_p, ty)])  # n = min(|D_r|, |D_te|) = 50, balanced
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x, np.r_[np.ones(50), np.zeros(50)])
    assert res["confidence"] == pytest.approx(100 * (1 - clf.predict(conf(forget_p, fy)).mean()))
    assert set(res) == {"confidence", "m_entropy", "prob", "correctness", "entropy"}
    assert all(0.0 <= v <= 100.0 for v in res.values())
    empty = mia_svc_confidence(retain_probs=retain_p, retain_y=ry, test_probs=test_p, test_y=ty,
                               forget_probs=forget_p[:0], forget_y=fy[:0])
    assert math.isnan(empty["confidence"])
