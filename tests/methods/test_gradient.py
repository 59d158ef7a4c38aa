"""``ga`` and ``ga_ft`` (NegGrad+, spec B4) on the memorisation setup."""

from __future__ import annotations

import pytest
import torch

from unlearn_audit.methods import get_method
from unlearn_audit.methods._gradient import GaFtParams, cycled_batches

from ._contract import MethodContract, SoftWeightContract, assert_draws_follow_weights, class_upweights, spy_batches
from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

# Measured on the memorisation setup (setup seed 0, method seed 0, CPU; original FA 1.000 / RA 1.000):
#   ga     FA 0.300  RA 0.954  (method seeds 1, 2: FA 0.200 / 0.225, RA 0.917 / 0.863) - ascent costs retain acc.
#   ga_ft  FA 0.000  RA 1.000  (seeds 1, 2: FA 0.000, RA 1.000)
BOUNDS = {"ga": (0.6, 0.8), "ga_ft": (0.3, 0.97)}
FAST = {"ga": {"epochs": 2}, "ga_ft": {"epochs": 1}}


class TestGradientContract(SoftWeightContract, MethodContract):
    BOUNDS = BOUNDS
    FAST = FAST
    SOFT = ("ga_ft",)

    def soft_perturbation(self, eps):
        return eps * 0.5  # forget strength 0.5, forget samples kept with weight 0.5: a different objective


def test_ga_ft_reweight_samples_retain_batches_with_the_weights(monkeypatch):
    import unlearn_audit.methods._gradient as mod

    setup = memorisation_setup()
    seen = spy_batches(monkeypatch, mod)
    unlearn(get_method("ga_ft+reweight", **FAST["ga_ft"]), seed=0)
    assert seen and torch.equal(seen[0].weights.cpu(), setup.data.reweight_weights())

    seen.clear()
    w = class_upweights()
    unlearn(get_method("ga_ft", epochs=2), seed=0, retain_weights=w)
    assert_draws_follow_weights(torch.cat([b.idx.cpu() for b in seen]), w)


def test_cycled_batches_cover_every_sample_per_cycle():
    gen = torch.Generator().manual_seed(0)
    out = list(cycled_batches(10, 4, 7, gen))
    assert len(out) == 7 and [len(b) for b in out] == [4, 4, 2, 4, 4, 2, 4]
    assert sorted(torch.cat(out[:3]).tolist()) == list(range(10))
    assert sorted(torch.cat(out[3:6]).tolist()) == list(range(10))
    assert list(cycled_batches(0, 4, 3, gen)) == []


def test_errors_name_the_method_and_argument():
    setup = memorisation_setup()
    eps = torch.zeros(len(setup.data.train))
    with pytest.raises(ValueError, match="method 'ga': does not support sample_weights"):
        unlearn("ga", seed=0, sample_weights=eps)
    with pytest.raises(ValueError, match="method 'ga': does not support retain_weights"):
        unlearn("ga", seed=0, retain_weights=torch.ones(len(setup.data.retain)))
    with pytest.raises(ValueError, match="method 'ga': cannot be combined with \\+reweight"):
        get_method("ga+reweight")
    with pytest.raises(ValueError, match="GaFtParams.alpha: expected a number in \\[0, 1\\]"):
        GaFtParams(alpha=1.5)
    with pytest.raises(ValueError, match="forget_batch_size"):
        get_method("ga_ft", forget_batch_size=0)
