"""Shared fixtures: small deterministic data and models, built once per session (per xdist worker)."""

from __future__ import annotations

import pytest
import torch

from unlearn_audit._device import configure_threads

configure_threads()


@pytest.fixture(scope="session")
def digits_data():
    """The embedded default at 8x8 (fast): binary target, colour attribute, half of group (1, 0) forgotten."""
    from unlearn_audit.datasets import colored_digits

    return colored_digits(scale=1, majority=0.9, size=8, seed=0)


@pytest.fixture(scope="session")
def digits_model_factory(digits_data):
    """A fresh small conv net for ``digits_data`` (seeded init)."""
    from unlearn_audit.models import SmallConvNet

    def make(seed: int = 0) -> torch.nn.Module:
        torch.manual_seed(seed)
        return SmallConvNet(digits_data.n_classes, width=8, mean=digits_data.train.mean, std=digits_data.train.std)

    return make


@pytest.fixture(scope="session")
def fast_recipe():
    from unlearn_audit.training import TrainRecipe

    return TrainRecipe(epochs=4, lr=0.05, batch_size=64)


@pytest.fixture(scope="session")
def digits_original(digits_data, digits_model_factory, fast_recipe):
    """A model trained on the full train split (forget set included), on the CPU (the suite's exact /
    reproducibility assertions are CPU contracts; the CUDA path has its own tests, skipped without a GPU);
    treat as read-only (deep-copy it)."""
    from unlearn_audit.training import fit

    return fit(digits_model_factory(0), digits_data.train, fast_recipe, seed=0, device="cpu", progress=False).eval()
