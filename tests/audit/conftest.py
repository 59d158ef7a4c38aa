"""Fixtures for the audit tests: a tiny model factory and a spec builder on the 8x8 colored digits."""

from __future__ import annotations

import pytest
import torch

from unlearn_audit.audit import AuditSpec
from unlearn_audit.metrics import MetricConfig
from unlearn_audit.models import SmallConvNet

SMOKE = MetricConfig.preset("smoke", attack_max_samples=128)


def tiny_model() -> torch.nn.Module:
    """Same architecture as the session fixture ``digits_model_factory`` (so ``digits_original`` fits)."""
    return SmallConvNet(2, width=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def one_epoch_ft(model, ctx):
    """A cheap user method: one epoch of fine-tuning on the retain set."""
    from unlearn_audit.training import fit

    return fit(model, ctx.retain, ctx.recipe.replace(epochs=1), seed=ctx.seed, device=ctx.device, progress=False)


@pytest.fixture
def make_spec(digits_data, fast_recipe, tmp_path):
    """``make_spec(**overrides)``: a small CPU audit (retrain only, no suite, smoke metrics, private cache)."""

    def make(**overrides) -> AuditSpec:
        kwargs = dict(data=digits_data, model_factory=tiny_model, unlearn_fn=one_epoch_ft, recipe=fast_recipe,
                      methods="none", references=("retrain",), seeds=(0,), metric_config=SMOKE,
                      cache_dir=tmp_path / "cache", device="cpu")
        kwargs.update(overrides)
        kwargs.setdefault("reference_seeds", kwargs["seeds"])  # as many retrains as seeds: fits stay countable
        return AuditSpec(**kwargs)

    return make
