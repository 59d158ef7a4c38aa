"""The audit as a plan: every model the audit produces is one ``Step`` with its cache keys and dependencies.

``plan(spec)`` lists the steps in the order a serial run executes them: the original (trained once, with
``spec.seeds[0]``, or the one the user provided), each reference retrain x reference seed, each suite method x
suite seed, the user's method x seed. Every unlearning step depends on the original (it starts from a copy of it);
the reference retrains do not (they train from scratch and never load it), so a pool worker starts them while
another trains the original, which is trained once, by one worker, and loaded from the cache by the others.

Cache keys are computed here, once, from the spec (the model factory's architecture and source, the data's
fingerprint, the recipe, the library's code): every executor's workers agree on them, which is what lets
workers that share a cache folder share the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..methods import Method, get_method
from ._cache import cache_key, code_fingerprint, source_identity, state_hash
from ._environment import package_versions
from ._spec import AuditSpec

__all__ = ["Step", "Plan", "plan", "reference_for", "arch_of", "arch_diff", "estimated_cost", "ORIGINAL"]

ORIGINAL = "original"


def reference_for(method: Method, available: tuple[str, ...]) -> str | None:
    """The reference a method's gaps and findings are computed against: ``retrain+reweight`` for MIU and the
    ``+reweight`` variants, ``retrain`` otherwise; the first available reference when that one is not audited."""
    want = "retrain+reweight" if method.reweight or method.info.name == "miu" else "retrain"
    if want in available:
        return want
    for name in ("retrain", "retrain+reweight", *available):
        if name in available:
            return name
    return None


@dataclass(frozen=True)
class Step:
    """One model of the audit.

    Attributes:
        id: unique within the plan: ``"original"``, ``"<name>/seed<k>"`` (e.g. ``"ft/seed0"``).
        name: the model's name in the report (``"original"``, a reference, a suite method, the user's).
        role: ``original`` / ``reference`` / ``method`` / ``user``.
        seed: the seed the model is produced with.
        method: the configured ``Method`` (``None`` for the original).
        model_key: cache key of the produced weights (``None``: not cacheable, e.g. source unavailable).
        metrics_key: cache key of its evaluation (``None`` when ``model_key`` is).
        deps: ids of the steps that must be done first.
        reference: the reference its gaps are computed against (``None`` for references and the original).
        cost: estimated work in passes over the data (``estimated_cost``); pool executors start the costliest
            ready step first, so a long step is not left for the end while other workers idle.
    """

    id: str
    name: str
    role: str
    seed: int
    method: Method | None
    model_key: str | None
    metrics_key: str | None
    deps: tuple[str, ...] = ()
    reference: str | None = None
    cost: float = 1.0

    @property
    def label(self) -> str:
        """``"ft (seed 0)"``; ``"original"``."""
        return self.name if self.role == ORIGINAL else f"{self.name} (seed {self.seed})"


@dataclass(frozen=True)
class Plan:
    """The steps of an audit (serial order) and what every worker must agree on.

    Attributes:
        steps: in the order a serial run executes them.
        arch: parameter name -> (shape, dtype) of the factory's model (every produced model must match it).
        notes: what the report's config should mention (e.g. what could not be cached and why).
    """

    steps: tuple[Step, ...]
    arch: dict[str, tuple[tuple[int, ...], str]]
    notes: tuple[str, ...] = field(default=())

    def __getitem__(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(f"no step {step_id!r} in the plan")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps)


def estimated_cost(method: Method | None, recipe_epochs: int) -> float:
    """The estimated work of producing a model, in passes over the data: ``recipe_epochs`` for the original and
    the reference retrains (a full training), else the method's ``epochs`` plus ``forget_epochs`` hyper-parameters
    (``epochs=None``: the recipe's; at least 1: a method without epochs, e.g. a one-shot Fisher or influence update, makes about one pass).

    Only the order in which pool executors start ready steps depends on it, never a result."""
    if method is None or method.info.reference:
        return float(max(1, recipe_epochs))
    hyper = method.hyperparams()
    if "epochs" in hyper and hyper["epochs"] is None:   # epochs=None: as many as the recipe's
        hyper["epochs"] = recipe_epochs
    passes = sum(float(v) for k in ("epochs", "forget_epochs")
                 if isinstance(v := hyper.get(k), (int, float)) and not isinstance(v, bool))
    return max(1.0, passes)


def arch_of(state: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    """Parameter / buffer name -> (shape, dtype) of a state dict."""
    return {k: (tuple(v.shape), str(v.dtype)) for k, v in state.items() if isinstance(v, torch.Tensor)}


def arch_diff(arch: dict[str, tuple[tuple[int, ...], str]], state: Any) -> str | None:
    """How ``state``'s parameter names / shapes differ from ``arch``, or ``None`` when they match."""
    got = arch_of(state)
    if got == arch:
        return None
    missing = sorted(set(arch) - set(got))
    extra = sorted(set(got) - set(arch))
    shapes = [f"{k}: {got[k][0]} instead of {arch[k][0]}" for k in sorted(set(got) & set(arch))
              if got[k][0] != arch[k][0]]
    parts = []
    if missing:
        parts.append(f"missing {missing[:3]}" + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    if extra:
        parts.append(f"unexpected {extra[:3]}" + (f" and {len(extra) - 3} more" if len(extra) > 3 else ""))
    if shapes:
        parts.append("shape " + "; ".join(shapes[:3]))
    if not parts:
        parts.append("parameter dtypes differ")
    return ", ".join(parts)


def fresh_model(spec: AuditSpec, seed: int) -> nn.Module:
    """``spec.model_factory()`` after ``torch.manual_seed(seed)``.

    Raises:
        TypeError: the factory does not return an ``nn.Module``.
    """
    torch.manual_seed(seed)
    model = spec.model_factory()
    if not isinstance(model, nn.Module):
        raise TypeError(f"AuditSpec.model_factory: expected a callable returning an nn.Module, it returned "
                        f"{type(model).__name__}")
    return model


def provided_state(spec: AuditSpec) -> dict[str, torch.Tensor] | None:
    """The state dict of ``spec.original`` (``None`` when the audit trains the original)."""
    given = spec.original
    if given is None:
        return None
    return given.state_dict() if isinstance(given, nn.Module) else dict(given)


def plan(spec: AuditSpec, *, device: torch.device) -> Plan:
    """The steps of the audit ``spec`` describes, with their cache keys (computed for ``device``'s type).

    Raises:
        TypeError: the model factory does not return a module.
        ValueError: the provided original does not fit the factory's architecture.
    """
    seed0 = spec.seeds[0]
    fresh = fresh_model(spec, seed0)
    arch = arch_of(fresh.state_dict())
    notes: list[str] = []
    given = provided_state(spec)
    if given is not None:
        diff = arch_diff(arch, given)
        if diff:
            raise ValueError(f"AuditSpec.original: does not fit model_factory's architecture ({diff})")
    base = _base_key(spec, fresh, arch, device)
    if base is None:
        notes.append("cache off: the source of model_factory is unavailable, so a change to it could not be "
                     "detected")

    def key(**parts: Any) -> str | None:
        if base is None or any(v is None for v in parts.values()):
            return None
        return cache_key({**base, **parts})

    epochs = int(spec.recipe.epochs)  # type: ignore[union-attr]
    if given is not None:
        original_key = key(artefact="original", provided=state_hash(given))
    else:
        original_key = key(artefact="original", seed=seed0, code=code_fingerprint("training"))
    steps = [Step(id=ORIGINAL, name=ORIGINAL, role=ORIGINAL, seed=seed0, method=None, model_key=original_key,
                  metrics_key=_metrics_key(spec, original_key), cost=estimated_cost(None, epochs))]
    jobs: list[tuple[Method, int, str]] = []
    for ref in spec.references:
        jobs += [(get_method(ref), s, "reference") for s in spec.reference_seeds]  # type: ignore[union-attr]
    for method in spec.suite_methods:
        jobs += [(method, s, "method") for s in spec.suite_seeds]  # type: ignore[union-attr]
    if spec.user_method is not None:
        jobs += [(spec.user_method, s, "user") for s in spec.seeds]
    for method, seed, role in jobs:
        method = method.for_recipe(spec.recipe)
        if role == "user" and not isinstance(spec.unlearn_fn, (str, Method)):
            ident = source_identity(spec.unlearn_fn)
        else:
            ident = source_identity(method.fn)
        if ident is None:
            notes.append(f"{method.name}: not cached (its source is unavailable)")
        model_key = None if ident is None else key(
            artefact="model", method=method.name, hyperparams=method.hyperparams(), source=ident, seed=seed,
            original="not used" if method.info.reference else original_key,
            code=code_fingerprint("methods", "training"))
        steps.append(Step(id=f"{method.name}/seed{seed}", name=method.name, role=role, seed=seed, method=method,
                          model_key=model_key, metrics_key=_metrics_key(spec, model_key),
                          deps=() if method.info.reference else (ORIGINAL,),
                          reference=None if role == "reference" else reference_for(method, spec.references),
                          cost=estimated_cost(method, epochs)))
    return Plan(steps=tuple(steps), arch=arch, notes=tuple(dict.fromkeys(notes)))


def _metrics_key(spec: AuditSpec, model_key: str | None) -> str | None:
    if model_key is None:
        return None
    return cache_key({"artefact": "metrics", "model": model_key, "config": spec.metric_config.to_dict(),
                      "code": code_fingerprint("metrics")})


def _base_key(spec: AuditSpec, fresh: nn.Module, arch: dict[str, Any], device: torch.device) -> dict[str, Any] | None:
    ident = source_identity(spec.model_factory)
    if ident is None:
        return None
    versions = package_versions()
    return {"layout": 1, "factory": ident, "architecture": cache_key({"repr": repr(fresh), "arch": arch}),
            "data": spec.data.fingerprint(), "dominant_groups": spec.data.dominant_groups,
            "recipe": spec.recipe.to_dict(),  # type: ignore[union-attr]
            "versions": {"unlearn-audit": versions["unlearn-audit"], "torch": versions["torch"]},
            "device_type": device.type}
