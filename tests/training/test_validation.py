"""Bad input -> clear error for TrainRecipe, fit and device strings."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unlearn_audit._device import resolve_device
from unlearn_audit.data import GroupDataset
from unlearn_audit.training import TrainRecipe, fit


def _tiny() -> GroupDataset:
    return GroupDataset(torch.randn(8, 3), torch.arange(8) % 2, torch.zeros(8, dtype=torch.long))


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("epochs", -3), ("epochs", 2.5), ("epochs", True),
    ("lr", 0), ("lr", -0.1), ("lr", float("nan")),
    ("batch_size", 0), ("batch_size", -64), ("batch_size", 32.0),
])
def test_recipe_non_positive(field, value):
    with pytest.raises(ValueError, match=rf"^TrainRecipe\.{field}: expected a positive (int|number), got"):
        TrainRecipe(**{field: value})


@pytest.mark.parametrize("field, value", [
    ("optimizer", "rmsprop"), ("momentum", 1.0), ("weight_decay", -1e-4), ("schedule", "linear"),
    ("warmup_epochs", 10), ("augment", "mixup"), ("grad_clip", 0.0), ("group_dro_step", 0.0),
])
def test_recipe_other_fields(field, value):
    with pytest.raises(ValueError, match=rf"^TrainRecipe\.{field}: expected"):
        TrainRecipe(**{field: value})


def test_recipe_is_keyword_only_frozen_and_replaceable():
    with pytest.raises(TypeError):
        TrainRecipe(10)  # type: ignore[misc]
    recipe = TrainRecipe(epochs=3)
    with pytest.raises(AttributeError):
        recipe.epochs = 4  # type: ignore[misc]
    assert recipe.replace(lr=0.1).lr == 0.1 and recipe.lr == 0.05
    with pytest.raises(ValueError, match=r"^TrainRecipe\.lr"):
        recipe.replace(lr=-1.0)
    assert recipe.to_dict()["epochs"] == 3


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda0", "meta"])
def test_unknown_device(device):
    with pytest.raises(ValueError, match=rf"^device: '{device}' is not"):
        resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda(device):
    with pytest.raises(ValueError, match=rf"^device: '{device}' was asked for but CUDA is not available"):
        resolve_device(device)
    with pytest.raises(ValueError, match=r"^device: "):
        fit(nn.Linear(3, 2), _tiny(), TrainRecipe(epochs=1), device=device, progress=False)


def test_device_type():
    with pytest.raises(TypeError, match=r"^device: expected a str or torch.device, got int"):
        resolve_device(0)  # type: ignore[arg-type]
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda"}


def test_fit_bad_device_before_any_training():
    model = nn.Linear(3, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"^device: 'tpu'"):
        fit(model, _tiny(), TrainRecipe(epochs=1), device="tpu", progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fit_bad_arguments():
    recipe = TrainRecipe(epochs=1, batch_size=4)
    with pytest.raises(TypeError, match=r"^recipe: expected a TrainRecipe, got dict"):
        fit(nn.Linear(3, 2), _tiny(), {"epochs": 1}, progress=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^model: expected a torch.nn.Module"):
        fit(lambda x: x, _tiny(), recipe, progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^group_dro: cannot be combined with sample_weights"):
        fit(nn.Linear(3, 2), _tiny(), recipe, sample_weights=torch.ones(8), group_dro=True, progress=False)
    with pytest.raises(ValueError, match=r"^sample_weights: expected 8 weights"):
        fit(nn.Linear(3, 2), _tiny(), recipe, sample_weights=torch.ones(7), progress=False)
    for bad in (torch.full((8,), -1.0), torch.zeros(8), torch.full((8,), float("nan"))):
        with pytest.raises(ValueError, match=r"^sample_weights: must be finite, >= 0 and not all zero"):
            fit(nn.Linear(3, 2), _tiny(), recipe, sample_weights=bad, progress=False)
