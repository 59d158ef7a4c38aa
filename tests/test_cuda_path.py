"""The CUDA path end to end: training, unlearning and evaluation on a GPU (skipped without one).

The rest of the suite pins the CPU, whose results are exact and reproducible; these tests check that the same
code runs on CUDA with bf16 autocast and channels_last, leaves the caller's CPU tensors alone, and learns
(metrics/test_engine.py compares CUDA and CPU metric values).
"""

from __future__ import annotations

import copy

import pytest
import torch

from unlearn_audit.metrics import MetricConfig, evaluate
from unlearn_audit.methods import UnlearnContext, get_method
from unlearn_audit.training import TrainRecipe, fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def test_fit_on_cuda_uses_channels_last_and_learns(digits_data, digits_model_factory, fast_recipe):
    model = fit(digits_model_factory(0), digits_data.train, fast_recipe, seed=0, device="cuda", progress=False)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.device.type == "cuda"
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert digits_data.train.x.device.type == "cpu"  # the caller's dataset was not moved
    cfg = MetricConfig(fgsm=False, pgd=False, mia_protocols=())
    metrics = evaluate(model, digits_data, config=cfg, device="cuda")
    assert metrics["RA"] > 85 and metrics["TA"] > 70


@pytest.mark.parametrize("name", ["ft", "ga", "scrub", "fisher", "influence", "miu"])
def test_methods_on_cuda_leave_the_original_alone(name, digits_data, digits_original, digits_model_factory):
    original = copy.deepcopy(digits_original)          # CPU
    before = _state(original)
    recipe = TrainRecipe(epochs=2, lr=0.05, batch_size=64)
    ctx = UnlearnContext.build(data=digits_data, original=original, recipe=recipe,
                               model_factory=digits_model_factory, seed=0, device="cuda")
    out = get_method(name)(copy.deepcopy(original), ctx)
    assert next(out.parameters()).device.type == "cuda"
    after = _state(original)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(torch.isfinite(p).all() for p in out.parameters())
    changed = _state(out)
    assert any(not torch.equal(before[k], changed[k]) for k in before)

