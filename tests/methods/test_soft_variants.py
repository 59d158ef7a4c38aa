"""``influence`` (last-layer Newton step) and the ``sw_`` soft-weighted variants."""

from __future__ import annotations

import copy
import hashlib

import pytest
import torch

from unlearn_audit.data import AuditData
from unlearn_audit.methods import METHODS, UnlearnContext, get_method
from unlearn_audit.methods._soft_variants import SW_BASES
from unlearn_audit.metrics import MetricConfig, evaluate


def _digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for t in list(model.state_dict().values()):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def ctx(digits_data, digits_original, digits_model_factory, fast_recipe):
    return UnlearnContext.build(data=digits_data, original=digits_original, recipe=fast_recipe,
                                model_factory=digits_model_factory, seed=0, device="cpu")


def test_every_soft_base_is_registered_and_supports_weights():
    for base in SW_BASES:
        assert f"sw_{base}" in METHODS
        assert get_method(base).info.supports_sample_weights
        assert "val" in get_method(f"sw_{base}").info.needs


def test_influence_changes_only_the_head_and_moves_forget_loss_up(ctx, digits_original):
    before = _digest(digits_original)
    out = get_method("influence")(copy.deepcopy(digits_original), ctx.replace(log={}))
    assert _digest(digits_original) == before
    body_orig = {k: v for k, v in digits_original.state_dict().items() if not k.startswith("head")}
    body_new = {k: v for k, v in out.state_dict().items() if not k.startswith("head")}
    assert all(torch.equal(body_orig[k], body_new[k]) for k in body_orig)
    assert not torch.equal(out.head.weight, digits_original.head.weight)
    ce = torch.nn.functional.cross_entropy
    with torch.no_grad():
        loss_before = ce(digits_original(ctx.forget.x), ctx.forget.y)
        loss_after = ce(out(ctx.forget.x), ctx.forget.y)
    assert loss_after > loss_before  # removing D_f raises its loss


def test_influence_with_hard_sample_weights_equals_plain_influence(ctx, digits_original):
    eps = torch.zeros(len(ctx.data.train))
    eps[ctx.data.forget_idx] = -1.0
    a = get_method("influence")(copy.deepcopy(digits_original), ctx.replace(log={}))
    b = get_method("influence")(copy.deepcopy(digits_original), ctx.replace(sample_weights=eps, log={}))
    assert torch.allclose(a.head.weight, b.head.weight, atol=1e-6)


def test_sw_influence_loses_less_utility_than_hard_influence(ctx, digits_data, digits_original):
    """Seed 003's main claim on the small setup: measured TA 81.9 (soft) vs 78.0 (hard), DP 36.4 vs 44.2."""
    cfg = MetricConfig(pgd=False, fgsm=False)
    hard = evaluate(get_method("influence")(copy.deepcopy(digits_original), ctx.replace(log={})), digits_data,
                    config=cfg)
    log: dict = {}
    soft = evaluate(get_method("sw_influence")(copy.deepcopy(digits_original), ctx.replace(log=log)), digits_data,
                    config=cfg)
    assert soft["TA"] >= hard["TA"] - 0.5
    assert soft["DP"] <= hard["DP"] + 0.5
    assert log["sw_soft_case"] in (1, 2, 3, 4) and "sw_soft_pred_delta_task" in log


def test_sw_pins_the_forget_set(ctx, digits_original, monkeypatch):
    """Erasure audits pin epsilon = -1 on D_f by default: the base method sees every forget sample fully removed."""
    seen = {}
    real = get_method("ft")

    import unlearn_audit.methods._soft_variants as sv

    def spy(name, **kw):
        method = real if name == "ft" else get_method(name, **kw)

        def run(model, c):
            seen["eps"] = c.sample_weights.clone()
            return model
        return run if name == "ft" else method

    monkeypatch.setattr(sv, "get_method", spy)
    sv._make("ft")(copy.deepcopy(digits_original), ctx.replace(log={}), sv.SoftParams())
    eps = seen["eps"]
    assert torch.all(eps[ctx.data.forget_idx] == -1.0)
    assert eps.min() >= -1.0 and eps.max() <= 1.0


def test_sw_needs_a_validation_split(digits_data, digits_original, fast_recipe):
    no_val = AuditData(train=digits_data.train, test=digits_data.test, forget_idx=digits_data.forget_idx)
    c = UnlearnContext.build(data=no_val, original=digits_original, recipe=fast_recipe)
    with pytest.raises(ValueError, match="sw_influence.*validation split"):
        get_method("sw_influence")(copy.deepcopy(digits_original), c)


def test_soft_params_are_validated():
    with pytest.raises(ValueError, match="sw.target"):
        get_method("sw_ft", target="fairness")
    with pytest.raises(ValueError, match="influence.mode"):
        get_method("influence", mode="exact")
