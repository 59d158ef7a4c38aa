"""The one training step: ``fit`` and every method go through ``training.Trainer``; recipe flags it honours."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from unlearn_audit.methods import UnlearnContext, get_method
from unlearn_audit.methods import Trainer as MethodsTrainer
from unlearn_audit.training import TrainRecipe, Trainer, fit, make_optimizer


def _count_steps(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = Trainer.step

    def step(self, loss, **kw):
        calls.append(1)
        return real(self, loss, **kw)

    monkeypatch.setattr(Trainer, "step", step)
    return calls


def test_methods_and_fit_share_one_trainer():
    assert MethodsTrainer is Trainer


def test_fit_steps_through_trainer(monkeypatch, digits_data, digits_model_factory):
    calls = _count_steps(monkeypatch)
    recipe = TrainRecipe(epochs=1, lr=0.05, batch_size=64)
    fit(digits_model_factory(0), digits_data.train, recipe, seed=0, device="cpu", progress=False)
    assert len(calls) == -(-len(digits_data.train) // 64)


@pytest.mark.parametrize("name", ["ft", "ga", "rl"])
def test_methods_step_through_trainer(monkeypatch, name, digits_data, digits_original, fast_recipe):
    calls = _count_steps(monkeypatch)
    ctx = UnlearnContext.build(data=digits_data, original=digits_original, recipe=fast_recipe, seed=0, device="cpu")
    get_method(name, epochs=1)(copy.deepcopy(digits_original), ctx)
    assert calls


def test_trainer_rejects_a_non_recipe(digits_model_factory):
    with pytest.raises(TypeError, match="recipe: expected a TrainRecipe"):
        Trainer(digits_model_factory(0), {"lr": 0.1}, device=torch.device("cpu"), steps_per_epoch=1)


def test_recipe_flags_are_bools():
    with pytest.raises(ValueError, match="TrainRecipe.compile"):
        TrainRecipe(compile="yes")
    assert TrainRecipe().compile is False and TrainRecipe(compile=True).compile is True


def test_cpu_optimizers_are_not_fused():
    params = [nn.Parameter(torch.zeros(3))]
    for opt in ("sgd", "adam", "adamw"):
        group = make_optimizer(params, TrainRecipe(optimizer=opt)).param_groups[0]
        assert not group.get("fused")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_optimizers_are_fused_and_channels_last(digits_model_factory):
    model = digits_model_factory(0)
    trainer = Trainer(model, TrainRecipe(), device=torch.device("cuda"), steps_per_epoch=1)
    assert trainer.optimizer.param_groups[0]["fused"]
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    off = Trainer(digits_model_factory(0), TrainRecipe(channels_last=False), device=torch.device("cuda"),
                  steps_per_epoch=1)
    assert not off.channels_last


def test_cpu_conv_nets_train_channels_last_and_score_the_same_in_either_layout(digits_model_factory, digits_data):
    """channels_last on CPU too (oneDNN runs it faster); evaluation feeds channels_last inputs, so a model whose
    weights came back contiguous (e.g. loaded from the cache into a fresh model) scores the same."""
    from unlearn_audit.metrics import MetricConfig, evaluate

    model = digits_model_factory(0)
    trainer = Trainer(model, TrainRecipe(), device=torch.device("cpu"), steps_per_epoch=1)
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert trainer.channels_last and conv.weight.is_contiguous(memory_format=torch.channels_last)
    plain = digits_model_factory(0)
    plain.load_state_dict({k: v.contiguous() for k, v in model.state_dict().items()})
    assert next(m for m in plain.modules() if isinstance(m, nn.Conv2d)).weight.is_contiguous()
    cfg = MetricConfig.preset("smoke")
    a, b = evaluate(model, digits_data, config=cfg).values, evaluate(plain, digits_data, config=cfg).values
    assert a.keys() == b.keys()
    # identical on x86 oneDNN; other backends may differ in the last bits, which can flip a borderline sample
    assert all(a[k] == pytest.approx(b[k], abs=0.5, nan_ok=True) for k in a)
    off = Trainer(digits_model_factory(0), TrainRecipe(channels_last=False), device=torch.device("cpu"),
                  steps_per_epoch=1)
    assert not off.channels_last


def test_trainer_step_matches_a_hand_written_sgd_step():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    ref = copy.deepcopy(model)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    recipe = TrainRecipe(epochs=1, lr=0.1, optimizer="sgd", momentum=0.0, weight_decay=0.0, schedule="constant")
    Trainer(model, recipe, device=torch.device("cpu"), steps_per_epoch=1).train_step(x, y)
    loss = nn.functional.cross_entropy(ref(x), y)
    loss.backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.1 * p.grad
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_compile_trains_like_eager(digits_data):
    """``TrainRecipe(compile=True)`` runs the forward through ``torch.compile``; it learns what eager learns."""
    torch.manual_seed(0)
    eager = nn.Sequential(nn.Flatten(), nn.Linear(digits_data.train.x[0].numel(), digits_data.n_classes))
    compiled = copy.deepcopy(eager)
    recipe = TrainRecipe(epochs=1, lr=0.05, batch_size=64, schedule="constant")
    fit(eager, digits_data.train, recipe, seed=0, device="cpu", progress=False)
    fit(compiled, digits_data.train, recipe.replace(compile=True), seed=0, device="cpu", progress=False)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        assert torch.allclose(a, b, atol=1e-4)
