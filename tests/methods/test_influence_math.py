"""Last-layer influence math: exact Hessian vs autograd, CG vs Cholesky, influence vs leave-one-out refits."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import spearmanr

from unlearn_audit.methods._fair_surrogates import validation_functional
from unlearn_audit.methods._influence_math import (HessianInverse, LinearHead, conjugate_gradient, fit_head,
                                                   functional_gradient, head_data, head_gradient, head_hessian,
                                                   head_hvp, head_objective, influence_scores, newton_removal_step,
                                                   per_sample_grads, weighted_grad_sum)

D64 = torch.float64


def _problem(n: int = 120, d: int = 4, k: int = 1, seed: int = 0, shift: float = 0.8):
    """Embeddings, labels and a binary attribute with a label/attribute correlation (so DP/EOP are non-zero)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 2, (n,), generator=g)
    emb = torch.randn(n, d, generator=g, dtype=D64)
    emb[:, 0] += shift * (2 * a - 1)
    n_cls = max(k, 2)
    w_true = torch.randn(n_cls, d, generator=g, dtype=D64)
    logits = emb @ w_true.T + 0.5 * torch.randn(n, n_cls, generator=g, dtype=D64)
    y = logits.argmax(1) if k > 1 else (logits[:, 1] > logits[:, 0]).long()
    return emb, y, a


@pytest.mark.parametrize("k,bias,l2_bias,weighted", [(1, True, True, False), (1, False, True, True),
                                                     (3, True, True, True), (3, True, False, False),
                                                     (2, False, True, False)])
def test_hessian_and_grads_match_autograd(k, bias, l2_bias, weighted):
    emb, y, _ = _problem(n=40, d=3, k=k)
    g = torch.Generator().manual_seed(1)
    head = LinearHead(torch.randn(k, 3, generator=g, dtype=D64),
                      torch.randn(k, generator=g, dtype=D64) if bias else None)
    w = torch.rand(40, generator=g, dtype=D64) * 2 if weighted else None
    l2 = 0.7

    def obj(theta):
        return head_objective(head.with_flat(theta), emb, y, l2=l2, sample_weight=w, l2_bias=l2_bias)

    ref_h = torch.autograd.functional.hessian(obj, head.flat())
    ours = head_hessian(head, emb, l2=l2, sample_weight=w, l2_bias=l2_bias)
    torch.testing.assert_close(ours, ref_h, rtol=1e-10, atol=1e-11)
    ref_g = torch.func.grad(obj)(head.flat())
    torch.testing.assert_close(head_gradient(head, emb, y, l2=l2, sample_weight=w, l2_bias=l2_bias), ref_g,
                               rtol=1e-10, atol=1e-12)
    # per-sample gradients: row i is the gradient of the unregularised loss of sample i alone
    psg = per_sample_grads(head, emb, y)
    for i in (0, 7, 39):
        one = torch.zeros(40, dtype=D64)
        one[i] = 1.0
        gi = torch.func.grad(lambda t: head_objective(head.with_flat(t), emb, y, l2=0.0, sample_weight=one))(
            head.flat())
        torch.testing.assert_close(psg[i], gi, rtol=1e-10, atol=1e-12)
    eps = torch.randn(40, generator=g, dtype=D64)
    torch.testing.assert_close(weighted_grad_sum(head, emb, y, eps), eps @ psg, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", [1, 4])
def test_cg_path_matches_cholesky_path(k):
    emb, y, _ = _problem(n=300, d=12, k=k, seed=3)
    head = fit_head(emb, y, n_outputs=k, l2=0.5)
    v = torch.randn(head.n_params, 3, generator=torch.Generator().manual_seed(0), dtype=D64)
    dense = head_hessian(head, emb, l2=0.5)
    torch.testing.assert_close(head_hvp(head, emb, v, l2=0.5), dense @ v, rtol=1e-11, atol=1e-10)
    chol = HessianInverse(head, emb, l2=0.5, method="cholesky")
    cg = HessianInverse(head, emb, l2=0.5, dense_max=head.n_params - 1)  # auto falls back to CG
    assert chol.method == "cholesky" and cg.method == "cg"
    x_chol, x_cg = chol.solve(v), cg.solve(v)
    torch.testing.assert_close(x_cg, x_chol, rtol=1e-8, atol=1e-11)
    torch.testing.assert_close(dense @ x_chol, v, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(chol.matvec(v), dense @ v, rtol=1e-10, atol=1e-10)
    grad_m = torch.randn(head.n_params, dtype=D64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(influence_scores(head, emb, y, grad_m, hinv=cg),
                               influence_scores(head, emb, y, grad_m, l2=0.5, method="cholesky"),
                               rtol=1e-7, atol=1e-10)


def test_conjugate_gradient_on_plain_spd_matrix():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(30, 30, generator=g, dtype=D64)
    a = m @ m.T + 30 * torch.eye(30, dtype=D64)
    b = torch.randn(30, generator=g, dtype=D64)
    x, it, rel = conjugate_gradient(lambda v: a @ v, b, tol=1e-12)
    assert rel <= 1e-12 and it <= 60
    torch.testing.assert_close(x, torch.linalg.solve(a, b), rtol=1e-10, atol=1e-12)


def test_fit_head_matches_sklearn_objective():
    from sklearn.linear_model import LogisticRegression

    emb, y, _ = _problem(n=200, d=5, seed=4)
    l2 = 2.0
    ours = fit_head(emb, y, n_outputs=1, l2=l2, bias=False)
    assert float(head_gradient(ours, emb, y, l2=l2).abs().max()) < 1e-8
    sk = LogisticRegression(C=1 / l2, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(emb.numpy(), y.numpy())
    torch.testing.assert_close(ours.weight, torch.as_tensor(sk.coef_, dtype=D64), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target", ["utility", "dp", "eop", "robust"])
def test_influence_tracks_leave_one_out_refits(target):
    """Spec C3 first-order check: predicted change of M for single removals vs exact refits (Spearman >= 0.9)."""
    emb, y, a = _problem(n=160, d=4, seed=5)
    val_emb, val_y, val_a = _problem(n=200, d=4, seed=6)
    l2 = 1.0
    head = fit_head(emb, y, n_outputs=1, l2=l2)
    func = validation_functional(target, val_emb, val_y, val_a, head.weight, head.bias)
    scores = influence_scores(head, emb, y, functional_gradient(func.fn, head), l2=l2)
    idx = torch.randperm(len(emb), generator=torch.Generator().manual_seed(0))[:40]
    m0 = float(func(head.weight, head.bias))
    actual = []
    for i in idx.tolist():
        w = torch.ones(len(emb), dtype=D64)
        w[i] = 0.0
        refit = fit_head(emb, y, n_outputs=1, l2=l2, sample_weight=w, init=head)
        actual.append(float(func(refit.weight, refit.bias)) - m0)
    rho = spearmanr(scores[idx].numpy(), actual).statistic
    assert rho >= 0.9, f"{target}: Spearman {rho:.3f}"
    # the estimates are also close in value, not only in rank
    act = torch.tensor(actual, dtype=D64)
    assert float((scores[idx] - act).norm() / act.norm()) < 0.2


def test_influence_tracks_refits_on_softmax_head():
    emb, y, _ = _problem(n=150, d=3, k=3, seed=8)
    val_emb, val_y, val_a = _problem(n=120, d=3, k=3, seed=9)
    head = fit_head(emb, y, n_outputs=3, l2=1.0)
    func = validation_functional("utility", val_emb, val_y, val_a, head.weight, head.bias)
    scores = influence_scores(head, emb, y, functional_gradient(func.fn, head), l2=1.0)
    m0, idx, actual = float(func(head.weight, head.bias)), list(range(0, 150, 5)), []
    for i in idx:
        w = torch.ones(150, dtype=D64)
        w[i] = 0.0
        refit = fit_head(emb, y, n_outputs=3, l2=1.0, sample_weight=w, init=head)
        actual.append(float(func(refit.weight, refit.bias)) - m0)
    assert spearmanr(scores[idx].numpy(), actual).statistic >= 0.9


@pytest.mark.parametrize("k", [1, 3])
def test_newton_step_removes_samples(k):
    emb, y, _ = _problem(n=200, d=4, k=k, seed=10)
    l2 = 1.0
    head = fit_head(emb, y, n_outputs=k, l2=l2)
    eps = torch.zeros(200, dtype=D64)
    removed = torch.arange(0, 200, 17)
    eps[removed] = -1.0
    step = newton_removal_step(head, emb, y, eps, l2=l2)
    # influence mode: theta + H^-1 sum_{removed} g_i, with H and g formed independently
    expected = head.flat() + torch.linalg.solve(head_hessian(head, emb, l2=l2),
                                                per_sample_grads(head, emb, y)[removed].sum(0))
    torch.testing.assert_close(step.flat(), expected, rtol=1e-10, atol=1e-12)
    # it approximates the exact removal; iterated Newton steps of the reweighted objective reach it
    refit = fit_head(emb, y, n_outputs=k, l2=l2, sample_weight=1 + eps, init=head)
    move = refit.flat() - head.flat()
    assert float((step.flat() - refit.flat()).norm() / move.norm()) < 0.1
    cur = head
    for _ in range(6):
        cur = newton_removal_step(cur, emb, y, eps, l2=l2, mode="newton")
    torch.testing.assert_close(cur.flat(), refit.flat(), rtol=1e-9, atol=1e-10)


def test_head_data_extracts_embeddings_in_one_pass():
    from unlearn_audit.data import GroupDataset
    from unlearn_audit.models import TabularMLP

    torch.manual_seed(0)
    model = TabularMLP(6, 3, hidden=(5,))
    model.train()
    ds = GroupDataset(torch.randn(50, 6), torch.randint(0, 3, (50,)), torch.randint(0, 2, (50,)))
    hd = head_data(model, ds, batch_size=16)
    assert model.training and hd.emb.dtype == D64 and hd.emb.shape == (50, 5) and len(hd) == 50
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(hd.emb, model.embed(ds.x).double())
        torch.testing.assert_close(hd.head.logits(hd.emb), model(ds.x).double(), rtol=1e-5, atol=1e-5)
    assert torch.equal(hd.y, ds.y) and torch.equal(hd.a, ds.a)
    # a model without ``embed``: the forward hook captures the head input
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    hd2 = head_data(net, ds)
    with torch.no_grad():
        torch.testing.assert_close(hd2.head.logits(hd2.emb), net(ds.x).double(), rtol=1e-5, atol=1e-5)
    # LinearHead round-trips into the nn.Linear
    lin = torch.nn.Linear(4, 2)
    hd2.head.copy_to_(lin)
    torch.testing.assert_close(lin.weight.double(), hd2.head.weight)


def test_errors_are_explicit():
    emb, y, _ = _problem(n=20, d=3)
    head = LinearHead(torch.zeros(1, 3, dtype=D64), None)
    with pytest.raises(ValueError, match="not positive definite"):
        HessianInverse(head, torch.zeros(20, 3, dtype=D64), l2=0.0, method="cholesky")
    with pytest.raises(ValueError, match="labels in \\{0, 1\\}"):
        per_sample_grads(head, emb, y + 1)
    with pytest.raises(ValueError, match="emb: expected shape"):
        head_hessian(head, emb[:, :2], l2=1.0)
    with pytest.raises(ValueError, match="mode"):
        newton_removal_step(head, emb, y, torch.zeros(20), l2=1.0, mode="bogus")
    with pytest.raises(ValueError, match="l2"):
        influence_scores(head, emb, y, torch.zeros(3, dtype=D64))


def test_newton_update_writes_the_step_into_the_model_head():
    from unlearn_audit.data import GroupDataset
    from unlearn_audit.methods._influence_math import newton_update_
    from unlearn_audit.models import TabularMLP

    torch.manual_seed(1)
    model = TabularMLP(5, 2, hidden=(6,))
    ds = GroupDataset(torch.randn(80, 5), torch.randint(0, 2, (80,)), torch.randint(0, 2, (80,)))
    body = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.")}
    before = head_data(model, ds)
    eps = torch.zeros(80, dtype=D64)
    eps[:8] = -1.0
    new = newton_update_(model, ds, eps, l2=2.0)
    expected = newton_removal_step(before.head, before.emb, before.y, eps, l2=2.0)
    torch.testing.assert_close(new.flat(), expected.flat())
    torch.testing.assert_close(model.head.weight.double(), expected.weight, rtol=1e-6, atol=1e-7)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in body.items())  # only the head moved
    with pytest.raises(ValueError, match="one weight per sample"):
        newton_update_(model, ds, eps[:10])
