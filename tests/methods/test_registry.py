"""The method protocol: registry lookups, +reweight composition, hyper-parameter overrides, as_method, context."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch

import unlearn_audit as ua
from unlearn_audit.methods import METHODS, UnlearnContext, as_method, get_method, method_names, register_method


@pytest.fixture(autouse=True)
def _forget_test_registrations():
    """Methods these tests register are removed afterwards, so the registry stays the built-in suite."""
    before = set(method_names())  # loads the built-ins first: a snapshot taken before would drop them afterwards
    yield
    for name in set(METHODS._methods) - before:
        del METHODS._methods[name]


@pytest.fixture(scope="module")
def ctx(digits_data, digits_original, digits_model_factory, fast_recipe):
    return UnlearnContext.build(data=digits_data, original=digits_original, recipe=fast_recipe,
                                model_factory=digits_model_factory, seed=0, device="cpu")


def test_registry_lists_and_resolves_builtin_references():
    for name in ("retrain", "retrain_reweight", "retrain_groupdro"):
        assert name in METHODS
        assert get_method(name).info.reference
    assert "retrain+reweight" in METHODS
    assert get_method("retrain+reweight").name == "retrain+reweight"


def test_unknown_method_lists_known_names():
    with pytest.raises(KeyError, match="unknown unlearning method 'nope'.*retrain"):
        get_method("nope")
    with pytest.raises(KeyError, match="only '\\+reweight'"):
        get_method("retrain+magic")


def test_reweight_refused_for_methods_that_do_not_train_on_retain():
    @register_method("_test_noop", needs={"forget"}, replace=True)
    def noop(model, ctx):
        return model

    with pytest.raises(ValueError, match="'_test_noop'.*cannot be combined with \\+reweight"):
        get_method("_test_noop+reweight")
    assert "_test_noop+reweight" not in method_names(include_reweight=True)


def test_duplicate_registration_is_refused_unless_replace():
    @register_method("_test_dup", replace=True)
    def one(model, ctx):
        return model

    with pytest.raises(ValueError, match="already registered"):
        register_method("_test_dup")(one)


def test_hyperparameter_overrides_are_validated():
    @dataclass(frozen=True)
    class P:
        steps: int = 1

    @register_method("_test_params", params=P(), replace=True)
    def with_params(model, ctx, params):
        return model

    assert get_method("_test_params", steps=3).hyperparams() == {"steps": 3}
    with pytest.raises(TypeError, match="unknown hyper-parameter\\(s\\) \\['stepz'\\]"):
        get_method("_test_params", stepz=3)
    with pytest.raises(TypeError, match="takes no hyper-parameters"):
        get_method("retrain", lr=1.0)


def test_sample_weights_refused_by_methods_without_support(ctx, digits_original):
    eps = torch.zeros(len(ctx.data.train))
    with pytest.raises(ValueError, match="method 'retrain': does not support sample_weights"):
        get_method("retrain")(copy.deepcopy(digits_original), ctx.replace(sample_weights=eps))


def test_context_validates_weight_lengths(digits_data, digits_original, fast_recipe):
    with pytest.raises(ValueError, match="retain_weights: expected"):
        UnlearnContext.build(data=digits_data, original=digits_original, recipe=fast_recipe,
                             retain_weights=torch.ones(3))
    with pytest.raises(ValueError, match="sample_weights: expected"):
        UnlearnContext.build(data=digits_data, original=digits_original, recipe=fast_recipe,
                             sample_weights=torch.ones(3))


@pytest.mark.parametrize("field, values, message", [
    ("retain_weights", lambda n_r, n: -torch.ones(n_r), "retain_weights: must be finite, >= 0 and not all zero"),
    ("retain_weights", lambda n_r, n: torch.zeros(n_r), "retain_weights: must be finite, >= 0 and not all zero"),
    ("retain_weights", lambda n_r, n: torch.full((n_r,), float("nan")), "retain_weights: must be finite"),
    ("sample_weights", lambda n_r, n: torch.full((n,), float("inf")), "sample_weights: the soft weights epsilon "
                                                                        "must be finite"),
])
def test_context_validates_weight_values(digits_data, digits_original, fast_recipe, field, values, message):
    weights = values(len(digits_data.retain), len(digits_data.train))
    with pytest.raises(ValueError, match=message):
        UnlearnContext.build(data=digits_data, original=digits_original, recipe=fast_recipe, **{field: weights})


def test_context_original_is_a_frozen_copy(ctx, digits_original):
    assert ctx.original is not digits_original
    assert not ctx.original.training
    assert all(not p.requires_grad for p in ctx.original.parameters())


def test_hard_soft_weights_give_exactly_retain_and_forget(ctx):
    eps = torch.zeros(len(ctx.data.train))
    eps[ctx.data.forget_idx] = -1.0
    retain, w, forget, r = ctx.replace(sample_weights=eps).weighted_sets()
    assert torch.equal(retain.x, ctx.retain.x) and torch.equal(forget.y, ctx.forget.y)
    assert torch.all(w == 1) and torch.all(r == 1)


def test_retrain_never_sees_forget_samples(ctx, digits_original, monkeypatch):
    """The gold standard trains on D_r only: record every batch fit draws and check none is a forget sample."""
    import unlearn_audit.methods._retrain as retrain_mod

    seen: list[torch.Tensor] = []
    real_fit = retrain_mod.fit

    def spy(model, dataset, recipe, **kw):
        seen.append(dataset.x)
        return real_fit(model, dataset, recipe, **kw)

    monkeypatch.setattr(retrain_mod, "fit", spy)
    get_method("retrain")(copy.deepcopy(digits_original), ctx)
    (trained_on,) = seen
    assert len(trained_on) == len(ctx.retain)
    flat_train = trained_on.flatten(1)
    flat_forget = ctx.forget.x.flatten(1)
    assert not (torch.cdist(flat_forget, flat_train).min(dim=1).values == 0).any()


def test_retrain_reweight_restores_group_shares(ctx):
    w = ctx.data.reweight_weights()
    g = ctx.retain.groups().cpu()
    share = torch.bincount(g, weights=w.double(), minlength=4) / w.double().sum()
    train_share = ctx.data.train.group_counts().double() / len(ctx.data.train)
    assert torch.allclose(share, train_share, atol=1e-9)


def test_as_method_adapts_loader_signature(ctx, digits_original):
    calls = {}

    def challenge_style(net, retain_loader, forget_loader, val_loader):
        calls["sizes"] = (len(retain_loader.dataset), len(forget_loader.dataset), len(val_loader.dataset))
        return net

    method = as_method(challenge_style)
    out = method(copy.deepcopy(digits_original), ctx)
    assert isinstance(out, torch.nn.Module)
    assert calls["sizes"] == (len(ctx.retain), len(ctx.forget), len(ctx.val))
    assert method.info.family == "user" and method.name == "challenge_style"


def test_as_method_rejects_bad_signatures():
    with pytest.raises(TypeError, match="expected a callable"):
        as_method(3)
    with pytest.raises(TypeError, match="got 3 required positional arguments"):
        as_method(lambda a, b, c: a)


def test_public_api_exports():
    assert ua.get_method is get_method and ua.UnlearnContext is UnlearnContext


def test_epochs_and_batch_size_none_take_the_recipes():
    from unlearn_audit.training import TrainRecipe

    recipe = TrainRecipe(epochs=3, batch_size=96)
    ft = get_method("ft")
    assert ft.hyperparams()["epochs"] is None and ft.hyperparams()["batch_size"] is None
    resolved = ft.for_recipe(recipe)
    assert resolved.hyperparams()["epochs"] == 3 and resolved.hyperparams()["batch_size"] == 96
    assert resolved.params.recipe().epochs == 3
    # explicit values win; miu keeps its batch of 32 and takes the recipe's epochs
    assert get_method("ft", epochs=7).for_recipe(recipe).hyperparams()["epochs"] == 7
    miu = get_method("miu").for_recipe(recipe).hyperparams()
    assert miu["epochs"] == 3 and miu["batch_size"] == 32
    with pytest.raises(ValueError, match=r"batch_size: None \(the recipe.s\) must be resolved"):
        ft.params.recipe()
    assert get_method("fisher").for_recipe(recipe) == get_method("fisher")   # no optimiser: unchanged
