"""The method protocol, method metadata and the registry (``METHODS``, ``get_method``, ``register_method``)."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol, runtime_checkable

from torch import nn

from ._context import UnlearnContext

__all__ = ["UnlearningMethod", "MethodInfo", "Method", "METHODS", "register_method", "get_method", "method_names"]

DATA_NEEDS = frozenset({"forget", "retain", "val", "groups", "factory"})


@runtime_checkable
class UnlearningMethod(Protocol):
    """``method(model, ctx) -> model``: ``model`` is a private deep copy of the original; modify and return it."""

    def __call__(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module: ...


@dataclass(frozen=True, kw_only=True)
class MethodInfo:
    """Metadata every method declares.

    Attributes:
        name: registry key.
        family: ``"reference"`` (gold standard), ``"finetune"``, ``"gradient"``, ``"relabel"``, ``"distill"``,
            ``"influence"``, ``"noise"``, ``"group-robust"``, ``"user"``...
        paper: short citation.
        needs: data the method uses, a subset of ``{"forget", "retain", "val", "groups", "factory"}``.
        supports_retain_weights: trains on ``D_r`` and can sample it with REWEIGHT weights (``name+reweight``).
        supports_sample_weights: consumes soft weights ``epsilon`` (``sw_`` variants).
        reference: a gold-standard retrain (a valid reference model for gaps).
        cost: rough cost in passes over the data, for the README table.
        description: one line.
    """

    name: str
    family: str
    paper: str = ""
    needs: frozenset[str] = frozenset({"forget", "retain"})
    supports_retain_weights: bool = False
    supports_sample_weights: bool = False
    reference: bool = False
    cost: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.needs) - DATA_NEEDS
        if unknown:
            raise ValueError(f"MethodInfo.needs: unknown entries {sorted(unknown)}; expected a subset of "
                             f"{sorted(DATA_NEEDS)}")


@dataclass(frozen=True)
class Method:
    """A registered method: metadata, an implementation and its (overridable) hyper-parameters.

    Calling it runs ``fn(model, ctx, params)``. ``with_params(**kw)`` returns a copy with hyper-parameters changed
    (validated by the method's frozen params dataclass); ``reweight=True`` samples the retain set with the
    REWEIGHT weights of ``ctx.data`` (the ``name+reweight`` registry form).
    """

    info: MethodInfo
    fn: Callable[..., nn.Module]
    params: Any = None
    reweight: bool = False

    @property
    def name(self) -> str:
        return self.info.name + ("+reweight" if self.reweight else "")

    def with_params(self, **overrides: Any) -> "Method":
        if not overrides:
            return self
        if self.params is None:
            raise TypeError(f"method {self.name!r}: takes no hyper-parameters, got {sorted(overrides)}")
        names = {f.name for f in dataclasses.fields(self.params)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"method {self.name!r}: unknown hyper-parameter(s) {unknown}; known: {sorted(names)}")
        return dataclasses.replace(self, params=dataclasses.replace(self.params, **overrides))

    def for_recipe(self, recipe: Any) -> "Method":
        """This method with the hyper-parameters that defer to the training recipe (``epochs=None``,
        ``batch_size=None``) resolved against ``recipe``, so reports and cache keys show what actually runs."""
        resolve = getattr(self.params, "for_recipe", None)
        return self if resolve is None else dataclasses.replace(self, params=resolve(recipe))

    def hyperparams(self) -> dict[str, Any]:
        """JSON-friendly hyper-parameters (part of cache keys and reports)."""
        out = dataclasses.asdict(self.params) if self.params is not None else {}
        if self.reweight:
            out["reweight"] = True
        return out

    def check_context(self, ctx: UnlearnContext) -> None:
        """Refuse combinations the method cannot honour, with a message naming the method and the argument."""
        if ctx.sample_weights is not None and not self.info.supports_sample_weights:
            raise ValueError(f"method {self.name!r}: does not support sample_weights (soft weights); use one of the "
                             f"sw_ variants or drop sample_weights")
        if ctx.retain_weights is not None and not self.info.supports_retain_weights:
            raise ValueError(f"method {self.name!r}: does not support retain_weights (REWEIGHT): it does not train "
                             f"on the retain set")
        if "factory" in self.info.needs and ctx.model_factory is None:
            raise ValueError(f"method {self.name!r}: needs model_factory (a callable returning a fresh model)")
        if "val" in self.info.needs and ctx.val is None:
            raise ValueError(f"method {self.name!r}: needs a validation split (AuditData.val is None)")

    def __call__(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        if self.reweight and ctx.retain_weights is None:
            ctx = ctx.replace(retain_weights=ctx.data.reweight_weights().to(ctx.device))
        self.check_context(ctx)
        if self.params is None:
            return self.fn(model, ctx)
        resolve = getattr(self.params, "for_recipe", None)   # batch_size=None: the recipe's (OptimParams)
        return self.fn(model, ctx, resolve(ctx.recipe) if resolve is not None else self.params)


class _Registry(Mapping[str, Method]):
    """Name → ``Method``; ``"x+reweight"`` resolves to ``x`` with REWEIGHT sampling when ``x`` supports it."""

    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}

    def __getitem__(self, name: str) -> Method:
        return get_method(name)

    def __iter__(self) -> Iterator[str]:
        _load_builtins()
        return iter(list(self._methods))

    def __len__(self) -> int:
        _load_builtins()
        return len(self._methods)

    def __contains__(self, name: object) -> bool:
        try:
            get_method(str(name))
        except KeyError:
            return False
        return True

    def add(self, method: Method, *, replace: bool = False) -> None:
        if method.info.name in self._methods and not replace:
            raise ValueError(f"register_method: a method named {method.info.name!r} is already registered "
                             f"(pass replace=True to override it)")
        self._methods[method.info.name] = method


METHODS = _Registry()


def _load_builtins() -> None:
    from . import _builtins  # noqa: F401  (importing it registers the built-in suite)


def method_names(*, include_reweight: bool = False) -> list[str]:
    """Registered names, optionally with every valid ``+reweight`` composition."""
    _load_builtins()
    names = list(METHODS._methods)
    if include_reweight:
        names += [f"{n}+reweight" for n, m in METHODS._methods.items() if m.info.supports_retain_weights
                  and not m.info.reference]
    return names


def get_method(name: str, **overrides: Any) -> Method:
    """The registered method ``name`` (``"scrub+reweight"`` composes REWEIGHT), with hyper-parameter overrides.

    Raises:
        KeyError: unknown name (the message lists the known ones).
        ValueError: ``+reweight`` on a method that does not train on the retain set.
    """
    if not isinstance(name, str):
        raise TypeError(f"method name: expected a str, got {type(name).__name__}")
    _load_builtins()

    base, _, suffix = name.partition("+")
    method = METHODS._methods.get(base)
    if method is None:
        raise KeyError(f"unknown unlearning method {name!r}; known: {', '.join(sorted(METHODS._methods))}")
    if suffix:
        if suffix != "reweight":
            raise KeyError(f"unknown composition {'+' + suffix!r} in {name!r}; only '+reweight' exists")
        if not method.info.supports_retain_weights:
            raise ValueError(f"method {base!r}: cannot be combined with +reweight (it does not train on the retain "
                             f"set)")
        method = dataclasses.replace(method, reweight=True)
    return method.with_params(**overrides)


def register_method(name: str, *, family: str = "user", paper: str = "", needs: frozenset[str] | set[str] = frozenset(
        {"forget", "retain"}), supports_retain_weights: bool = False, supports_sample_weights: bool = False,
        reference: bool = False, cost: str = "", description: str = "", params: Any = None,
        replace: bool = False) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``fn(model, ctx[, params]) -> model`` under ``name``.

    Example:
        >>> @register_method("my_ft", description="fine-tune on the retain set")
        ... def my_ft(model, ctx):
        ...     return model
    """
    if not isinstance(name, str) or not name or "+" in name:
        raise ValueError(f"register_method: name must be a non-empty str without '+', got {name!r}")

    def decorate(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if not callable(fn):
            raise TypeError(f"register_method({name!r}): expected a callable, got {type(fn).__name__}")
        n_params = len(inspect.signature(fn).parameters)
        if params is not None and n_params < 3:
            raise TypeError(f"register_method({name!r}): with params=, fn must take (model, ctx, params)")
        info = MethodInfo(name=name, family=family, paper=paper, needs=frozenset(needs),
                          supports_retain_weights=supports_retain_weights,
                          supports_sample_weights=supports_sample_weights, reference=reference, cost=cost,
                          description=description or (inspect.getdoc(fn) or "").split("\n")[0])
        METHODS.add(Method(info=info, fn=fn, params=params), replace=replace)
        return fn

    return decorate
