"""``ft``, ``cf_k``, ``eu_k`` (spec B4 / B11) on the memorisation setup, plus the last-k layer walk."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import unlearn_audit.methods._finetune
from unlearn_audit.methods import get_method
from unlearn_audit.methods._finetune import last_k_layers
from unlearn_audit.models import SmallConvNet, TabularMLP, resnet18_small

from ._contract import MethodContract, SoftWeightContract, assert_draws_follow_weights, class_upweights, spy_batches
from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

# Measured on the memorisation setup (setup seed 0, method seed 0, CPU; original FA 1.000 / RA 1.000):
#   ft    FA 0.075  RA 1.000   (method seeds 1, 2: FA 0.300 / 0.025, RA 1.000 / 0.993)
#   cf_k  FA 0.350  RA 1.000   (seeds 1, 2: FA 0.675 / 0.200, RA 1.000)
#   eu_k  FA 0.000  RA 1.000   (seeds 1, 2: FA 0.000, RA 1.000)
# Bounds below keep a wide margin for thread-count / platform differences.
BOUNDS = {"ft": (0.5, 0.97), "cf_k": (0.7, 0.97), "eu_k": (0.3, 0.97)}
FAST = {"ft": {"epochs": 1}, "cf_k": {"epochs": 1}, "eu_k": {"epochs": 1, "from_recipe": False}}


class TestFinetuneContract(SoftWeightContract, MethodContract):
    BOUNDS = BOUNDS
    FAST = FAST


@pytest.mark.parametrize("name", list(BOUNDS))
def test_reweight_samples_retain_batches_with_the_weights(name, monkeypatch):
    setup = memorisation_setup()
    seen = spy_batches(monkeypatch, unlearn_audit.methods._finetune)
    unlearn(get_method(f"{name}+reweight", **FAST[name]), seed=0)
    assert seen and all(b.weights is not None for b in seen)
    assert torch.equal(seen[0].weights.cpu(), setup.data.reweight_weights())

    # explicit weights: up-weight one class 10x and check its share among the sampled retain samples
    seen.clear()
    w = class_upweights()
    unlearn(get_method(name, **FAST[name]), seed=0, retain_weights=w)
    assert_draws_follow_weights(torch.cat([b.idx.cpu() for b in seen]), w)


def test_last_k_layers_walks_from_the_output():
    net = SmallConvNet(10, width=8)
    layers, norms = last_k_layers(net, 1)
    assert [n for n, _ in layers] == ["head"] and norms == []
    layers, norms = last_k_layers(net, 3)
    assert [n for n, _ in layers] == ["head", "features.5.0", "features.3.0"]
    assert [n for n, _ in norms] == ["features.5.1", "features.3.1"]
    layers, _ = last_k_layers(net, 99)  # more than there are: all 5
    assert len(layers) == 5
    # resnet18_small registers its head first: the walk must still start at the head
    layers, norms = last_k_layers(resnet18_small(10), 2)
    assert [n for n, _ in layers] == ["head", "backbone.layer4.1.conv2"]
    assert [n for n, _ in norms] == ["backbone.layer4.1.bn2"]
    layers, norms = last_k_layers(TabularMLP(5, 2, hidden=(8, 8)), 2)
    assert [n for n, _ in layers] == ["head", "features.3"] and [n for n, _ in norms] == ["features.4"]


def test_cf_k_moves_only_the_last_k_layers():
    setup = memorisation_setup()
    model, ctx = unlearn(get_method("cf_k", k=2, epochs=1), seed=0)
    before = dict(setup.original.state_dict())
    after = model.state_dict()
    moved = {k for k in after if not torch.equal(after[k], before[k])}
    assert moved and all(k.startswith(("head.", "features.5.")) for k in moved), sorted(moved)
    assert ctx.log["trainable_layers"] == ["head", "features.5.0"]
    assert all(p.requires_grad for p in model.parameters())  # flags restored


def test_eu_k_reinitialises_the_last_k_layers_only():
    setup = memorisation_setup()
    model, _ = unlearn(get_method("eu_k", k=1, epochs=1, from_recipe=False), seed=0)
    before, after = setup.original.state_dict(), model.state_dict()
    moved = {k for k in after if not torch.equal(after[k], before[k])}
    assert moved == {"head.weight", "head.bias"}
    # one epoch from a fresh init ends far from the original head
    assert (after["head.weight"] - before["head.weight"]).abs().max() > 0.1


def test_errors_name_the_method_and_argument():
    with pytest.raises(ValueError, match="k: expected a positive int"):
        get_method("cf_k", k=0)
    with pytest.raises(TypeError, match="method 'eu_k': unknown hyper-parameter"):
        get_method("eu_k", kk=1)

    class NoLayers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(3))

        def forward(self, x):
            return x.flatten(1)[:, :10] + self.w.sum()

    with pytest.raises(ValueError, match="method 'cf_k': model: NoLayers has no Conv/Linear layer"):
        get_method("cf_k")(NoLayers(), context(0))
