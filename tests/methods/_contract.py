"""The behavioural contract every reference method is held to, shared by the method test modules.

A test module subclasses :class:`MethodContract`, names its methods with the measured bounds and fast
hyper-parameters, and gets, for each method, the four contract tests:

* it forgets the memorised samples (forget accuracy <= ``fa_max``) and keeps retain accuracy (>= ``ra_min``);
* it never mutates the original model (neither the setup's nor the context's copy, no gradients left on it);
* it is deterministic for a seed, and a different seed gives a different model;
* with :class:`SoftWeightContract` mixed in: hard soft-weights (``eps = -1`` on D_f, 0 elsewhere) reproduce the
  plain method bit for bit, and :meth:`SoftWeightContract.soft_perturbation` changes the result (for the methods
  in ``SOFT``, all of ``BOUNDS`` by default).

Usage::

    class TestFinetune(SoftWeightContract, MethodContract):
        BOUNDS = {"ft": (0.5, 0.97)}          # name -> (max forget accuracy, min retain accuracy)
        FAST = {"ft": {"epochs": 1}}          # hyper-parameters for the determinism / soft-weight runs
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar, NamedTuple

import pytest
import torch

from unlearn_audit.methods import get_method

from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

__all__ = ["DrawnBatch", "MethodContract", "SoftWeightContract", "UPWEIGHTED_CLASS", "assert_draws_follow_weights",
           "class_upweights", "spy_batches"]


class MethodContract:
    """Base class of a method test class; ``BOUNDS`` and ``FAST`` are set by the subclass."""

    BOUNDS: ClassVar[dict[str, tuple[float, float]]] = {}
    FAST: ClassVar[dict[str, dict[str, Any]]] = {}

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize every test of the class that takes ``name`` over the class's methods (the soft-weight
        test over ``SOFT`` where the class sets it)."""
        if "name" in metafunc.fixturenames:
            names = getattr(self, "SOFT", None) if metafunc.function.__name__ == SOFT_TEST else None
            metafunc.parametrize("name", list(names if names is not None else self.BOUNDS))

    @pytest.fixture(scope="class")
    def default_runs(self) -> dict[str, tuple]:
        """Each method with default hyper-parameters, seed 0: ``(model, ctx, hashes before, hashes after)``,
        the hashes being those of the setup's original and the context's original."""
        setup = memorisation_setup()
        out = {}
        for name in self.BOUNDS:
            ctx = context(0)
            before = (state_hash(setup.original), state_hash(ctx.original))
            model, _ = unlearn(name, ctx=ctx)
            out[name] = (model, ctx, before, (state_hash(setup.original), state_hash(ctx.original)))
        return out

    def test_forgets_memorised_samples_and_keeps_retain_accuracy(self, name, default_runs):
        setup = memorisation_setup()
        model, ctx, _, _ = default_runs[name]
        fa_max, ra_min = self.BOUNDS[name]
        assert accuracy(setup.original, ctx.forget) >= 0.95
        fa, ra = accuracy(model, ctx.forget), accuracy(model, ctx.retain)
        assert fa <= fa_max, f"{name}: forget accuracy {fa:.3f} > {fa_max}"
        assert ra >= ra_min, f"{name}: retain accuracy {ra:.3f} < {ra_min}"

    def test_never_mutates_the_original(self, name, default_runs):
        model, ctx, before, after = default_runs[name]
        assert before == after
        assert all(p.grad is None for p in ctx.original.parameters())
        assert state_hash(model) != before[0]

    def test_deterministic_for_a_seed(self, name):
        method = get_method(name, **self.FAST[name])
        a, _ = unlearn(method, seed=3)
        b, _ = unlearn(method, seed=3)
        c, _ = unlearn(method, seed=4)
        assert state_hash(a) == state_hash(b)
        assert state_hash(a) != state_hash(c)



SOFT_TEST = "test_hard_soft_weights_reproduce_the_plain_method"


class SoftWeightContract:
    """Mixin: the soft-weight test (spec C1) for the methods named in ``SOFT`` (default: all of ``BOUNDS``)."""

    SOFT: ClassVar[tuple[str, ...] | None] = None
    FAST: ClassVar[dict[str, dict[str, Any]]]

    def soft_perturbation(self, eps: torch.Tensor) -> torch.Tensor:
        """A genuinely soft weighting derived from the hard ``eps``: some retain samples up-weighted."""
        out = eps.clone()
        out[memorisation_setup().data.retain_idx[:50]] = 1.0
        return out

    def test_hard_soft_weights_reproduce_the_plain_method(self, name):
        setup = memorisation_setup()
        eps = torch.zeros(len(setup.data.train))
        eps[setup.data.forget_idx] = -1.0
        method = get_method(name, **self.FAST[name])
        plain, _ = unlearn(method, seed=0)
        soft, _ = unlearn(method, seed=0, sample_weights=eps)
        assert state_hash(plain) == state_hash(soft)
        other, _ = unlearn(method, seed=0, sample_weights=self.soft_perturbation(eps))
        assert state_hash(other) != state_hash(plain)


class DrawnBatch(NamedTuple):
    """One batch a method drew: the size of the dataset it came from, its indices, the sampling weights."""

    n: int
    idx: torch.Tensor
    weights: torch.Tensor | None


def spy_batches(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[DrawnBatch]:
    """Wrap ``module.batches`` so that every batch drawn through it is recorded, in order, as a ``DrawnBatch``."""
    seen: list[DrawnBatch] = []
    real = module.batches

    def spy(ds, batch_size, generator, *, weights=None, shuffle=True):
        for idx, x, y in real(ds, batch_size, generator, weights=weights, shuffle=shuffle):
            seen.append(DrawnBatch(len(ds), idx, weights))
            yield idx, x, y

    monkeypatch.setattr(module, "batches", spy)
    return seen


UPWEIGHTED_CLASS = 0


def class_upweights(factor: float = 10.0) -> torch.Tensor:
    """Retain weights of the memorisation setup: ``factor`` for class ``UPWEIGHTED_CLASS``, 1 elsewhere."""
    retain_y = memorisation_setup().data.retain.y
    return torch.where(retain_y == UPWEIGHTED_CLASS, factor, 1.0)


def assert_draws_follow_weights(drawn: torch.Tensor, weights: torch.Tensor, *, tol: float = 0.08) -> None:
    """The share of the up-weighted class among the drawn retain indices is its weight share (within ``tol``)
    and well above its share of the retain set: weighted sampling, not uniform, drew the batches."""
    retain_y = memorisation_setup().data.retain.y
    hit = retain_y == UPWEIGHTED_CLASS
    share = float(hit[drawn.cpu()].float().mean())
    expected = float(weights[hit].sum() / weights.sum())
    plain = float(hit.float().mean())
    assert abs(share - expected) < tol and share > plain + 0.2, (share, expected, plain)
