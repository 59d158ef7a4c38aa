"""``rl`` and ``salun`` (spec B5 / C3 / D6 / D13) on the memorisation setup."""

from __future__ import annotations

import copy

import pytest
import torch

from unlearn_audit.methods import get_method
from unlearn_audit.methods._relabel import SalunParams, random_labels, saliency_mask

from ._contract import MethodContract, assert_draws_follow_weights, class_upweights
from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

# Measured on the memorisation setup (setup seed 0, method seed 0, CPU; original FA 1.000 / RA 1.000):
#   rl     FA 0.050  RA 1.000  (method seeds 1, 2: FA 0.075 / 0.150, RA 1.000 / 0.998)
#   salun  FA 0.050  RA 1.000  (seeds 1, 2: FA 0.100 / 0.050, RA 1.000 / 0.993)
BOUNDS = {"rl": (0.4, 0.97), "salun": (0.4, 0.97)}
FAST = {"rl": {"epochs": 1}, "salun": {"epochs": 1}}


class TestRelabelContract(MethodContract):
    BOUNDS = BOUNDS
    FAST = FAST



@pytest.mark.parametrize("overrides", [{}, {"labels": "per_batch"}, {"order": "mixed"}, {"salun_strict": False}])
def test_salun_with_rho_one_is_exactly_rl(overrides):
    """Spec C3: a mask of all ones makes SalUn the RL update, bit for bit (every label / order variant)."""
    rl_kw = {k: v for k, v in overrides.items() if k != "salun_strict"}
    rl_model, _ = unlearn(get_method("rl", epochs=2, **rl_kw), seed=0)
    salun_model, ctx = unlearn(get_method("salun", epochs=2, rho=1.0, **overrides), seed=0)
    assert ctx.log["mask_fraction"] == 1.0
    assert state_hash(rl_model) == state_hash(salun_model)


@pytest.mark.parametrize("rho", [0.01, 0.1, 0.29, 0.5, 0.77, 1.0])
def test_saliency_mask_keeps_exactly_floor_rho_p(rho):
    model = copy.deepcopy(memorisation_setup().original)
    forget = memorisation_setup().data.forget
    before = state_hash(model)
    mask = saliency_mask(model, forget.x, forget.y, rho=rho, batch_size=16)
    total = sum(p.numel() for p in model.parameters())
    ones = sum(int(m.sum()) for m in mask.values())
    assert ones == (round(rho * 100) * total) // 100
    assert all(bool(((m == 0) | (m == 1)).all()) for m in mask.values())
    assert state_hash(model) == before and all(p.grad is None for p in model.parameters())
    if rho < 1.0:  # the kept entries are the largest |grad| scores
        params = list(model.parameters())
        loss = -torch.nn.functional.cross_entropy(model.eval()(forget.x[:16]), forget.y[:16])
        for start in range(16, len(forget), 16):
            loss = loss - torch.nn.functional.cross_entropy(model(forget.x[start:start + 16]),
                                                            forget.y[start:start + 16])
        grads = torch.autograd.grad(loss, params)
        score = torch.cat([g.abs().flatten() for g in grads])
        kept = torch.cat([mask[p].flatten() for p in params]).bool()
        assert score[kept].min() >= score[~kept].max() - 1e-5 * score.max()


def test_strict_salun_restores_masked_weights_and_grmu_mode_does_not():
    setup = memorisation_setup()
    forget = setup.data.forget
    probe = copy.deepcopy(setup.original)
    mask = saliency_mask(probe, forget.x, forget.y, rho=0.3, batch_size=32)
    off = {n: mask[p] == 0 for n, p in probe.named_parameters()}
    theta_o = dict(setup.original.named_parameters())
    for strict, frozen_expected in ((True, True), (False, False)):
        model, _ = unlearn(get_method("salun", epochs=1, rho=0.3, salun_strict=strict), seed=0)
        params = dict(model.named_parameters())
        frozen = all(torch.equal(params[n][off[n]], theta_o[n].detach()[off[n]]) for n in params)
        assert frozen is frozen_expected
        moved = any(not torch.equal(params[n][~off[n]], theta_o[n].detach()[~off[n]]) for n in params)
        assert moved


def test_fixed_random_labels_differ_from_y_and_are_uniform():
    y = torch.arange(10).repeat(2000)
    labels = random_labels(y, 10, torch.Generator().manual_seed(0))
    assert not bool((labels == y).any())
    counts = torch.bincount((labels - y) % 10, minlength=10)
    assert counts[0] == 0 and counts[1:].min() > 0.8 * len(y) / 9
    assert torch.equal(labels, random_labels(y, 10, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="at least 2 classes"):
        random_labels(torch.zeros(3, dtype=torch.long), 1, torch.Generator())


@pytest.mark.parametrize("name", list(BOUNDS))
def test_reweight_samples_retain_batches_with_the_weights(name, monkeypatch):
    import unlearn_audit.methods._relabel as mod

    setup = memorisation_setup()
    seen: list[tuple[int, torch.Tensor, torch.Tensor | None]] = []
    real = mod.batch_indices

    def spy(n, batch_size, *, generator, shuffle=True, weights=None, **kw):
        for idx in real(n, batch_size, generator=generator, shuffle=shuffle, weights=weights, **kw):
            seen.append((n, idx, weights))
            yield idx

    monkeypatch.setattr(mod, "batch_indices", spy)
    n_retain = len(setup.data.retain)
    unlearn(get_method(f"{name}+reweight", **FAST[name]), seed=0)
    retain_calls = [(idx, w) for n, idx, w in seen if n == n_retain]
    assert retain_calls and torch.equal(retain_calls[0][1].cpu(), setup.data.reweight_weights())
    assert all(w is None for n, _, w in seen if n != n_retain)  # the forget pass is not reweighted

    seen.clear()
    w = class_upweights()
    unlearn(get_method(name, epochs=2), seed=0, retain_weights=w)
    assert_draws_follow_weights(torch.cat([idx for n, idx, _ in seen if n == n_retain]), w)


def test_errors_name_the_method_and_argument():
    setup = memorisation_setup()
    eps = torch.zeros(len(setup.data.train))
    for name in BOUNDS:
        with pytest.raises(ValueError, match=f"method '{name}': does not support sample_weights"):
            unlearn(name, seed=0, sample_weights=eps)
    with pytest.raises(ValueError, match="SalunParams.rho: expected a fraction in \\(0, 1\\]"):
        SalunParams(rho=0.0)
    with pytest.raises(ValueError, match="RlParams.labels: expected 'fixed' or 'per_batch'"):
        get_method("rl", labels="sometimes")
    with pytest.raises(ValueError, match="SalunParams.order"):
        get_method("salun", order="random")
