"""``l1_sparse`` (spec B3 / C3 / D11) on the memorisation setup, and its L1 schedule."""

from __future__ import annotations

import pytest
import torch

from unlearn_audit.methods import get_method
from unlearn_audit.methods._l1_sparse import L1SparseParams, l1_schedule

from ._contract import MethodContract, assert_draws_follow_weights, class_upweights, spy_batches
from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

# Measured on the memorisation setup (setup seed 0, method seed 0, CPU; original FA 1.000 / RA 1.000):
#   l1_sparse  FA 0.025  RA 0.998  (method seeds 1, 2: FA 0.050 / 0.025, RA 1.000 / 0.996)
BOUNDS = {"l1_sparse": (0.4, 0.95)}
FAST = {"l1_sparse": {"epochs": 1}}


class TestL1SparseContract(MethodContract):
    BOUNDS = BOUNDS
    FAST = FAST

    def test_logs_the_l1_schedule_from_its_default_alpha(self, default_runs):
        _, ctx, _, _ = default_runs["l1_sparse"]
        assert ctx.log["l1_alphas"][0] == 5e-4


def test_schedule_endpoints_and_decay():
    """Spec C3: alpha_0 = alpha, alpha_{E-1} = alpha / E; linear in between; zero in the no-L1 tail."""
    alpha, epochs = 5e-4, 10
    values = [l1_schedule(alpha, t, epochs) for t in range(epochs)]
    assert values[0] == alpha
    assert values[-1] == pytest.approx(alpha / epochs, rel=1e-12)
    assert all(a > b for a, b in zip(values, values[1:]))
    assert [l1_schedule(1.0, t, 4, no_l1_epochs=2) for t in range(4)] == [1.0, 0.5, 0.0, 0.0]
    assert l1_schedule(1.0, 0, 1) == 1.0
    with pytest.raises(ValueError, match="epoch: expected an int in \\[0, epochs=3\\)"):
        l1_schedule(1.0, 3, 3)
    with pytest.raises(ValueError, match="no_l1_epochs"):
        l1_schedule(1.0, 0, 3, no_l1_epochs=3)


def test_zero_alpha_is_exactly_ft_and_alpha_shrinks_the_l1_norm():
    plain_ft, _ = unlearn(get_method("ft", epochs=2), seed=0)
    no_l1, ctx = unlearn(get_method("l1_sparse", epochs=2, alpha=0.0), seed=0)
    assert state_hash(plain_ft) == state_hash(no_l1)
    assert ctx.log["l1_alphas"] == [0.0, 0.0]
    sparse, _ = unlearn(get_method("l1_sparse", epochs=2, alpha=5e-3), seed=0)

    def l1(m):
        return float(sum(p.detach().abs().sum() for p in m.parameters()))

    assert l1(sparse) < 0.95 * l1(no_l1)


def test_reweight_samples_retain_batches_with_the_weights(monkeypatch):
    import unlearn_audit.methods._finetune as mod

    setup = memorisation_setup()
    seen = spy_batches(monkeypatch, mod)
    unlearn(get_method("l1_sparse+reweight", epochs=1), seed=0)
    assert seen and torch.equal(seen[0].weights.cpu(), setup.data.reweight_weights())

    seen.clear()
    w = class_upweights()
    unlearn(get_method("l1_sparse", epochs=2), seed=0, retain_weights=w)
    assert_draws_follow_weights(torch.cat([b.idx.cpu() for b in seen]), w)


def test_errors_name_the_method_and_argument():
    setup = memorisation_setup()
    with pytest.raises(ValueError, match="method 'l1_sparse': does not support sample_weights"):
        unlearn("l1_sparse", seed=0, sample_weights=torch.zeros(len(setup.data.train)))
    with pytest.raises(ValueError, match="L1SparseParams.alpha: expected a number >= 0"):
        L1SparseParams(alpha=-1.0)
    with pytest.raises(ValueError, match="L1SparseParams.no_l1_epochs"):
        get_method("l1_sparse", epochs=3, no_l1_epochs=3)
