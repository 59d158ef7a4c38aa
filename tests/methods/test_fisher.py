"""``fisher`` (Fisher forgetting, spec B9 / D12) and the diagonal-Fisher estimator ``diag_fisher``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unlearn_audit.data import AuditData
from unlearn_audit.methods import UnlearnContext, get_method
from unlearn_audit.methods._fisher import FisherParams, diag_fisher

from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

# Measured on the memorisation setup (setup seed 0, CPU, one thread; original FA 1.000 / RA 1.000 / test 0.872,
# mean CE on D_f 0.070, on D_r 0.0065; retrain FA 0.000 / RA 1.000), method seeds 0 / 1 / 2 (/ 3):
#   alpha 1e-6            FA 0.925 / 1.000 / 1.000 / 1.000   RA 1.000 (all)   CE(D_f) 0.176 / 0.114 / 0.131 / 0.152
#   alpha 3e-6            FA 0.850 / 0.900 / 0.875           RA 0.985 / 0.985 / 0.996   test 0.79 / 0.82 / 0.79
#   alpha 5e-6            FA 0.725 (all)                     RA 0.943 / 0.950 / 0.952
#   alpha 1e-5            FA 0.550 / 0.400 / 0.550           RA 0.798 / 0.787 / 0.709
# Fisher noise is weakly selective on this tiny net: forget accuracy only falls as retain / test accuracy start to
# fall too. Alpha 1e-6 (and the default 1.5e-6, measured on the default scenario: studies/method_defaults.py) mostly
# raises the loss on D_f; the behavioural test uses 3e-6 from the recommended grid. Bounds keep a margin for thread-count / platform differences.
ALPHA = 3e-6
FAST = {"per_sample": False}  # the mini-batch estimator: same code paths for weights / seeds, a few times faster


def _ce(model, ds) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(model.eval()(ds.x), ds.y))


@pytest.fixture(scope="module")
def run():
    setup = memorisation_setup()
    ctx = context(0)
    before = (state_hash(setup.original), state_hash(ctx.original))
    model, _ = unlearn(get_method("fisher", alpha=ALPHA), ctx=ctx)
    return model, ctx, before, (state_hash(setup.original), state_hash(ctx.original))


def test_noise_lowers_forget_accuracy_and_keeps_retain_accuracy(run):
    setup = memorisation_setup()
    model, ctx, _, _ = run
    fa, ra = accuracy(model, ctx.forget), accuracy(model, ctx.retain)
    assert accuracy(setup.original, ctx.forget) >= 0.95
    assert fa <= 0.95, f"fisher: forget accuracy {fa:.3f}"
    assert ra >= 0.95, f"fisher: retain accuracy {ra:.3f}"
    assert _ce(model, ctx.forget) > 2 * _ce(setup.original, ctx.forget)
    assert ctx.log["fisher_noise_norm"] > 0 and ctx.log["fisher_forgotten_classes"] == []


def test_default_alpha_raises_the_forget_loss_only_mildly():
    setup = memorisation_setup()
    model, ctx = unlearn("fisher", seed=0)
    assert accuracy(model, ctx.retain) >= 0.97
    assert _ce(model, ctx.forget) > 1.3 * _ce(setup.original, ctx.forget)


def test_never_mutates_the_original(run):
    model, ctx, before, after = run
    assert before == after
    assert all(p.grad is None for p in ctx.original.parameters())
    assert state_hash(model) != before[0]
    # buffers (BN running statistics) are untouched: only parameters receive noise
    orig_buffers = dict(memorisation_setup().original.named_buffers())
    assert all(torch.equal(b, orig_buffers[n]) for n, b in model.named_buffers())


def test_deterministic_for_a_seed():
    method = get_method("fisher", **FAST)
    a, _ = unlearn(method, seed=3)
    b, _ = unlearn(method, seed=3)
    c, _ = unlearn(method, seed=4)
    assert state_hash(a) == state_hash(b) != state_hash(c)


def test_hard_soft_weights_reproduce_the_plain_method():
    setup = memorisation_setup()
    eps = torch.zeros(len(setup.data.train))
    eps[setup.data.forget_idx] = -1.0
    method = get_method("fisher", **FAST)
    plain, _ = unlearn(method, seed=0)
    soft, _ = unlearn(method, seed=0, sample_weights=eps)
    assert state_hash(plain) == state_hash(soft)
    eps[setup.data.retain_idx[:100]] = 1.0  # doubles those samples' weight in the Fisher
    other, _ = unlearn(method, seed=0, sample_weights=eps)
    assert state_hash(other) != state_hash(plain)


def test_reweight_takes_the_fisher_under_the_reweight_weights(monkeypatch):
    import unlearn_audit.methods._fisher as mod

    setup = memorisation_setup()
    seen = []
    real = mod.diag_fisher

    def spy(model, ds, **kw):
        seen.append(kw["weights"])
        return real(model, ds, **kw)

    monkeypatch.setattr(mod, "diag_fisher", spy)
    via_name, _ = unlearn(get_method("fisher+reweight", **FAST), seed=0)
    plain, _ = unlearn(get_method("fisher", **FAST), seed=0)
    assert torch.equal(seen[0].cpu(), setup.data.reweight_weights()) and seen[1] is None
    assert state_hash(via_name) != state_hash(plain)


def test_per_sample_fisher_equals_batch_size_one_and_a_plain_loop():
    setup = memorisation_setup()
    model = setup.original
    ds = setup.data.train.subset(torch.arange(12))
    for labels in ("given", "expected"):
        exact = diag_fisher(model, ds, labels=labels, per_sample=True)
        batch1 = diag_fisher(model, ds, labels=labels, per_sample=False, batch_size=1)
        assert exact.keys() == batch1.keys()
        for name in exact:
            assert torch.allclose(exact[name], batch1[name], rtol=1e-4, atol=1e-10), (labels, name)
    # "given": mean over samples of the squared per-sample gradient, computed here one sample at a time
    params = dict(model.named_parameters())
    manual = {n: torch.zeros_like(p) for n, p in params.items()}
    for i in range(len(ds)):
        with torch.enable_grad():
            p_req = {n: p.detach().requires_grad_(True) for n, p in params.items()}
            out = torch.func.functional_call(model, p_req, (ds.x[i:i + 1],))
            grads = torch.autograd.grad(F.cross_entropy(out, ds.y[i:i + 1]), list(p_req.values()))
        for n, g in zip(p_req, grads):
            manual[n] += g.square() / len(ds)
    exact = diag_fisher(model, ds, labels="given")
    assert all(torch.allclose(exact[n], manual[n], rtol=1e-4, atol=1e-10) for n in manual)


def test_weighted_fisher_equals_duplicating_samples():
    setup = memorisation_setup()
    ds = setup.data.train.subset(torch.arange(10))
    w = torch.ones(10)
    w[:3] = 2.0
    weighted = diag_fisher(setup.original, ds, labels="expected", weights=w)
    dup = diag_fisher(setup.original, setup.data.train.subset(torch.cat([torch.arange(10), torch.arange(3)])),
                      labels="expected")
    assert all(torch.allclose(weighted[n], dup[n], rtol=1e-4, atol=1e-10) for n in dup)


def test_class_forgetting_zeroes_the_forgotten_class_row():
    setup = memorisation_setup()
    train = setup.data.train
    cls = 3
    data = AuditData(train=train, test=setup.data.test, val=setup.data.val,
                     forget_idx=(train.y == cls).nonzero().flatten())
    ctx = UnlearnContext.build(data=data, original=setup.original, recipe=setup.recipe, device="cpu", seed=0)
    import copy

    model = get_method("fisher", **FAST)(copy.deepcopy(setup.original), ctx)
    assert ctx.log["fisher_forgotten_classes"] == [cls]
    # mean 0, variance 1e-4 * boost 10: |w| of the row is a few times 0.03
    assert model.head.weight[cls].abs().max() < 0.2 and model.head.bias[cls].abs() < 0.2
    assert setup.original.head.weight[cls].abs().max() > 0.3  # it was not near zero before
    off_ctx = ctx.replace(log={})
    off = get_method("fisher", class_forgetting="off", **FAST)(copy.deepcopy(setup.original), off_ctx)
    assert off_ctx.log["fisher_forgotten_classes"] == []
    assert torch.allclose(off.head.weight[cls], setup.original.head.weight[cls], atol=0.3)


def test_unusable_inputs_fail_with_clear_messages():
    with pytest.raises(ValueError, match="FisherParams.alpha"):
        FisherParams(alpha=0.0)
    with pytest.raises(ValueError, match="FisherParams.class_forgetting"):
        get_method("fisher", class_forgetting="always")
    with pytest.raises(ValueError, match="FisherParams.batch_size"):
        get_method("fisher", batch_size=0)
    with pytest.raises(ValueError, match="diag_fisher: the dataset is empty"):
        diag_fisher(memorisation_setup().original, memorisation_setup().data.train.subset(torch.arange(0)))
