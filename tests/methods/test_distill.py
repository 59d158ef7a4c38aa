"""``scrub`` (spec B6) and ``bad_teacher`` (spec B8 / D10) on the memorisation setup."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import unlearn_audit.methods._distill
from unlearn_audit.methods import Trainer, UnlearnContext, get_method
from unlearn_audit.methods._distill import SCRUB_PRESETS, BadTeacherParams, ScrubParams, kl_per_sample

from ._contract import MethodContract, SoftWeightContract, assert_draws_follow_weights, class_upweights, spy_batches
from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

# Measured on the memorisation setup (setup seed 0, CPU, one thread; original FA 1.000 / RA 1.000, mean CE on D_f
# 0.070; retrain FA 0.000 / RA 1.000), default hyper-parameters, method seeds 0 / 1 / 2:
#   scrub        FA 0.000 / 0.000 / 0.000   RA 0.993 / 0.991 / 0.991   CE(D_f) 16.8 / 15.9 / 16.1
#   bad_teacher  FA 0.200 / 0.250 / 0.250   RA 0.998 / 1.000 / 0.998   CE(D_f) 1.89 / 1.83 / 1.81
#   scrub+reweight FA 0.000 (all seeds), RA >= 0.996; bad_teacher+reweight FA 0.350 / 0.175 / 0.225, RA >= 0.998
# Bounds keep a wide margin for thread-count / platform differences.
BOUNDS = {"scrub": (0.3, 0.95), "bad_teacher": (0.6, 0.95)}
FAST = {"scrub": {"epochs": 2, "msteps": 1}, "bad_teacher": {"epochs": 2}}


class TestDistillContract(SoftWeightContract, MethodContract):
    BOUNDS = BOUNDS
    FAST = FAST

    def soft_perturbation(self, eps):
        out = eps.clone()
        out[memorisation_setup().data.forget_idx[:10]] = -0.5  # weaker forgetting strength, partial loss weight
        return out

    def test_forget_loss_moves_towards_the_retrain(self, name, default_runs):
        """The loss signal on D_f moves towards the retrain's (which mislabels every forget sample)."""
        model, ctx, _, _ = default_runs[name]
        assert _forget_loss(model, ctx.forget) > 10 * _forget_loss(memorisation_setup().original, ctx.forget)


def _forget_loss(model, ds) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(model.eval()(ds.x), ds.y))


def test_scrub_max_steps_do_the_forgetting():
    """Without max-steps SCRUB is a (distillation-regularised) fine-tune and keeps most memorised samples.
    Measured with 3 epochs: msteps=2 FA 0.075, msteps=0 FA 0.925 (RA 0.980 / 1.000)."""
    with_max, ctx = unlearn(get_method("scrub", epochs=3, msteps=2), seed=0)
    without, _ = unlearn(get_method("scrub", epochs=3, msteps=0), seed=0)
    assert accuracy(with_max, ctx.forget) <= 0.4
    assert accuracy(without, ctx.forget) >= 0.7
    assert "scrub_last_max_step_kl" in ctx.log


def test_kl_is_sum_over_classes_then_divided_by_batch_times_t_squared():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    temp = 4.0
    reference = F.kl_div(F.log_softmax(s / temp, 1), F.softmax(t / temp, 1), reduction="sum") * temp ** 2 / 7
    assert torch.allclose(temp ** 2 * kl_per_sample(s, t, temp).sum() / 7, reference, atol=1e-6)
    assert torch.all(kl_per_sample(t, t, temp).abs() < 1e-6)


def test_scrub_reweight_samples_retain_batches_with_the_weights(monkeypatch):
    setup = memorisation_setup()
    n_retain = len(setup.data.retain)
    seen = spy_batches(monkeypatch, unlearn_audit.methods._distill)
    unlearn(get_method("scrub+reweight", **FAST["scrub"]), seed=0)
    retain_calls = [(idx, w) for n, idx, w in seen if n == n_retain]
    forget_calls = [(idx, w) for n, idx, w in seen if n != n_retain]
    assert retain_calls and forget_calls
    assert all(w is not None and torch.equal(w.cpu(), setup.data.reweight_weights()) for _, w in retain_calls)
    assert all(w is None for _, w in forget_calls)  # only the retain loader is reweighted (spec B1)

    # explicit weights: up-weight one class 10x and check its share among the sampled retain samples
    seen.clear()
    w = class_upweights()
    unlearn(get_method("scrub", **FAST["scrub"]), seed=0, retain_weights=w)
    assert_draws_follow_weights(torch.cat([idx.cpu() for n, idx, _ in seen if n == n_retain]), w, tol=0.1)


def test_bad_teacher_draws_its_retain_part_with_the_weights(monkeypatch):
    import unlearn_audit.methods._distill as mod

    setup = memorisation_setup()
    inputs: list[torch.Tensor] = []
    real = mod.logits_of

    def spy(model, x, **kw):
        inputs.append(x)
        return real(model, x, **kw)

    monkeypatch.setattr(mod, "logits_of", spy)
    j = 7
    w = torch.zeros(len(setup.data.retain))
    w[j] = 1.0  # all REWEIGHT mass on one retain sample
    _, ctx = unlearn(get_method("bad_teacher", epochs=1), seed=0, retain_weights=w)
    forget_x, retain_x = inputs
    assert torch.equal(forget_x, ctx.forget.x)
    assert len(retain_x) == round(0.3 * len(ctx.retain)) and torch.equal(retain_x, ctx.retain.x[j].expand_as(retain_x))

    # "+reweight" is the same method run with the data's REWEIGHT weights
    via_name, _ = unlearn(get_method("bad_teacher+reweight", epochs=1), seed=0)
    explicit, _ = unlearn(get_method("bad_teacher", epochs=1), seed=0,
                          retain_weights=setup.data.reweight_weights())
    plain, _ = unlearn(get_method("bad_teacher", epochs=1), seed=0)
    assert state_hash(via_name) == state_hash(explicit) != state_hash(plain)


def test_bad_teacher_kl_reduction_scales_the_loss(monkeypatch):
    losses: dict[str, float] = {}
    real_step = Trainer.step

    for reduction in ("mean", "batchmean", "sum"):
        def step(self, loss, *, _r=reduction, **kw):
            losses.setdefault(_r, float(loss.detach()))
            return real_step(self, loss, **kw)

        monkeypatch.setattr(Trainer, "step", step)
        unlearn(get_method("bad_teacher", epochs=1, optimizer="sgd", kl_reduction=reduction), seed=0)
    batch, n_classes = BadTeacherParams().batch_size, memorisation_setup().data.n_classes
    assert losses["sum"] == pytest.approx(losses["batchmean"] * batch, rel=1e-5)
    assert losses["batchmean"] == pytest.approx(losses["mean"] * n_classes, rel=1e-5)


def test_unusable_inputs_fail_with_clear_messages():
    setup = memorisation_setup()
    no_factory = UnlearnContext.build(data=setup.data, original=setup.original, recipe=setup.recipe, device="cpu")
    with pytest.raises(ValueError, match="method 'bad_teacher': needs model_factory"):
        get_method("bad_teacher")(torch.nn.Identity(), no_factory)
    bad_factory = no_factory.replace(model_factory=lambda: "not a model")
    with pytest.raises(TypeError, match="method 'bad_teacher': model_factory must return an nn.Module"):
        get_method("bad_teacher")(torch.nn.Identity(), bad_factory)
    with pytest.raises(ValueError, match="ScrubParams.msteps"):
        ScrubParams(msteps=-1)
    with pytest.raises(ValueError, match="ScrubParams.temperature"):
        get_method("scrub", temperature=0.0)
    with pytest.raises(ValueError, match="BadTeacherParams.kl_reduction"):
        get_method("bad_teacher", kl_reduction="avg")
    with pytest.raises(ValueError, match="BadTeacherParams.retain_fraction"):
        BadTeacherParams(retain_fraction=1.5)
    with pytest.raises(TypeError, match="method 'scrub': unknown hyper-parameter"):
        get_method("scrub", beta=1.0)


def test_scrub_presets_are_valid_hyper_parameters():
    for name, preset in SCRUB_PRESETS.items():
        method = get_method("scrub", **preset)
        assert all(method.hyperparams()[k] == v for k, v in preset.items()), name
