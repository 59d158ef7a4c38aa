"""``AuditSpec``: everything that defines an audit, validated up front with errors that name the field."""

from __future__ import annotations

import math

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import torch
from torch import nn

from ..data import AuditData
from ..training import TrainRecipe
from ._profiles import DEFAULT_METHODS, DEFAULT_REFERENCES, PROFILES, REFERENCE_ALIASES, Profile
from ._thresholds import Check, Thresholds

__all__ = ["AuditSpec", "default_recipe", "DEFAULT_CACHE_DIR"]

DEFAULT_CACHE_DIR = ".unlearn-audit-cache"
#: Reference retrains are trained with at least this many seeds by default (their spread is the seed noise).
MIN_REFERENCE_SEEDS = 3


def default_recipe(data: AuditData) -> TrainRecipe:
    """The recipe used when ``AuditSpec.recipe`` is ``None``.

    Images: SGD (momentum 0.9), lr 0.05, cosine schedule, batch 64 up to 5k samples (128 above), and about 30k
    sample-steps: ``epochs = clip(ceil(30000 / n), 3, 10)`` (10 epochs of 1k samples, 3 of 10k, 3 above).
    Tabular: Adam, lr 1e-3, batch 128, 20 epochs. These train the reference models of ``colored_digits`` to a
    plateau that is stable across seeds in a few seconds on a CPU; pass your own recipe for real data.
    """
    n = len(data.train)
    if data.train.is_image:
        epochs = min(10, max(3, math.ceil(30_000 / max(n, 1))))
        return TrainRecipe(epochs=epochs, lr=0.05, batch_size=128 if n > 5_000 else 64)
    return TrainRecipe(epochs=20, lr=1e-3, batch_size=128, optimizer="adam", weight_decay=1e-4, schedule="cosine")


def _bad(field_name: str, expected: str, got: Any) -> TypeError:
    return TypeError(f"AuditSpec.{field_name}: expected {expected}, got {type(got).__name__}")


@dataclass(frozen=True, kw_only=True, eq=False)
class AuditSpec:
    """What to audit and how.

    Args:
        data: the ``AuditData`` (train / test / val splits and the forget request).
        model_factory: a zero-argument callable returning a fresh, untrained model (a function or the model class
            itself); the runner seeds torch before calling it.
        unlearn_fn: your unlearning method: ``fn(model, ctx) -> model``, ``fn(net, retain_loader, forget_loader,
            val_loader) -> net``, a registered method name, or a ``Method``; ``None`` audits the suite only.
        original: your trained original model (an ``nn.Module`` or its ``state_dict``); ``None`` trains one with
            ``recipe`` on the full train split (seed ``seeds[0]``).
        recipe: training recipe of the original and of the reference retrains; ``None`` = ``default_recipe(data)``.
        methods: suite methods compared with yours: ``"default"`` (``DEFAULT_METHODS``, a fast subset),
            ``"all"`` (every registered non-reference method), ``"none"``, or a list of registry names and
            configured ``Method`` s (e.g. ``["ft", "scrub+reweight", get_method("ga", lr=1e-4)]``); a configured
            method keeps its hyper-parameters through the audit.
        references: reference retrains, among ``"retrain"``, ``"retrain+reweight"``, ``"retrain_groupdro"``.
        seeds: the seeds of your method (the original is trained once, with ``seeds[0]``). Each is one
            independent run of your method; their spread and the references' enter every interval, so three seeds
            decide checks a single seed leaves INCONCLUSIVE.
        suite_seeds: the seeds of the suite methods; ``None`` = ``seeds``. The ``ci`` profile runs the suite
            with one seed: its rows are context for yours, no check gates on them.
        reference_seeds: the seeds of the reference retrains; ``None`` = ``seeds`` extended to at least
            ``MIN_REFERENCE_SEEDS`` (3) seeds, e.g. ``(0,)`` -> ``(0, 1, 2)``. Their spread is the training-seed
            noise every interval includes; with a single reference seed (and single-seed methods) no check can PASS.
        n_boot: replicates of the paired, group-stratified bootstrap over evaluation samples (>= 100).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
        thresholds: ``Thresholds``, a list of ``Check`` s / compact strings, or ``None`` for
            ``Thresholds.default()``.
        metric_config: ``MetricConfig``; ``None`` = ``MetricConfig()``.
        cache_dir: cache folder; ``None`` = ``./.unlearn-audit-cache`` (resolved when the audit runs), ``False``
            disables caching.
        unlearn_name: the name your method gets in the report (default: the function's name).
        method_timeout: seconds each method (yours, the suite's, the reference retrains) may run; a method still
            running then is stopped and recorded as failed with its elapsed time, and the audit goes on. With a
            limit every method runs in a worker process, so it must be importable by name (a top-level function
            of a module, not a lambda or a nested function). ``None`` (default): no limit, methods run in-process.

    Raises:
        TypeError / ValueError: a field has the wrong type or value; the message names the field, e.g.
            ``AuditSpec.model_factory: expected a callable returning an nn.Module, got int``.
    """

    data: AuditData
    model_factory: Callable[[], nn.Module]
    unlearn_fn: Any = None
    original: nn.Module | Mapping[str, torch.Tensor] | None = None
    recipe: TrainRecipe | None = None
    methods: Literal["default", "all", "none"] | Sequence[Any] = "default"
    references: Sequence[str] = DEFAULT_REFERENCES
    seeds: Sequence[int] = (0,)
    suite_seeds: Sequence[int] | None = None
    reference_seeds: Sequence[int] | None = None
    n_boot: int = 2000
    device: str | torch.device = "auto"
    thresholds: Thresholds | Sequence[Check | str] | str | None = None
    metric_config: Any = None
    cache_dir: str | os.PathLike | None | bool = None
    unlearn_name: str | None = None
    method_timeout: float | None = None
    _user: Any = field(default=None, init=False, repr=False)
    _suite: tuple[Any, ...] = field(default=(), init=False, repr=False)
    _unavailable: tuple[str, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        from .._device import resolve_device
        from ..metrics import MetricConfig

        set_ = object.__setattr__
        if not isinstance(self.data, AuditData):
            raise TypeError(f"AuditSpec.data: expected an AuditData (ua.AuditData(train=..., test=..., "
                            f"forget_idx=...)), got {type(self.data).__name__}")
        if isinstance(self.model_factory, nn.Module):
            raise TypeError(f"AuditSpec.model_factory: expected a callable returning a fresh nn.Module, got an "
                            f"nn.Module instance ({type(self.model_factory).__name__}); pass the class or a function, "
                            f"e.g. model_factory=lambda: {type(self.model_factory).__name__}(...)")
        if not callable(self.model_factory):
            raise _bad("model_factory", "a callable returning an nn.Module", self.model_factory)
        if self.original is not None and not isinstance(self.original, (nn.Module, Mapping)):
            raise _bad("original", "None, a trained nn.Module or its state_dict", self.original)
        if isinstance(self.original, Mapping):
            bad = [k for k, v in self.original.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
            if bad:
                raise TypeError(f"AuditSpec.original: a state_dict maps parameter names to tensors; entry "
                                f"{bad[0]!r} does not")
        recipe = self.recipe if self.recipe is not None else default_recipe(self.data)
        if not isinstance(recipe, TrainRecipe):
            raise _bad("recipe", "None or a TrainRecipe", self.recipe)
        set_(self, "recipe", recipe)
        set_(self, "seeds", self._check_seeds(self.seeds))
        set_(self, "suite_seeds", self.seeds if self.suite_seeds is None
             else self._check_seeds(self.suite_seeds, "suite_seeds"))
        if self.reference_seeds is None:
            extra = [s for s in range(max(self.seeds) + MIN_REFERENCE_SEEDS) if s not in self.seeds]
            need = max(0, MIN_REFERENCE_SEEDS - len(self.seeds))
            set_(self, "reference_seeds", tuple(self.seeds) + tuple(extra[:need]))
        else:
            set_(self, "reference_seeds", self._check_seeds(self.reference_seeds, "reference_seeds"))
        from ..stats import check_n_boot

        try:
            set_(self, "n_boot", check_n_boot(self.n_boot, source="AuditSpec.n_boot"))
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(self.device, (str, torch.device)):
            raise _bad("device", "a str ('auto', 'cpu', 'cuda', 'cuda:N', 'mps') or torch.device", self.device)
        try:
            resolve_device(self.device)
        except ValueError as exc:
            raise ValueError(f"AuditSpec.{exc}") from None
        cfg = self.metric_config if self.metric_config is not None else MetricConfig()
        if not isinstance(cfg, MetricConfig):
            raise _bad("metric_config", "None or a MetricConfig (e.g. MetricConfig.preset('ci'))", cfg)
        set_(self, "metric_config", cfg)
        set_(self, "thresholds", self._check_thresholds(self.thresholds))
        if not (self.cache_dir is None or isinstance(self.cache_dir, (bool, str, os.PathLike))):
            raise _bad("cache_dir", "None, False or a folder path", self.cache_dir)
        if self.cache_dir is True:
            set_(self, "cache_dir", None)
        if self.unlearn_name is not None and (not isinstance(self.unlearn_name, str) or not self.unlearn_name
                                              or "+" in self.unlearn_name):
            raise ValueError(f"AuditSpec.unlearn_name: expected a non-empty name without '+', got "
                             f"{self.unlearn_name!r}")
        set_(self, "method_timeout", self._check_timeout(self.method_timeout))
        set_(self, "references", self._check_references(self.references))
        set_(self, "_user", self._check_user(self.unlearn_fn))
        self._check_methods(self.methods)

    # ------------------------------------------------------------------ validation helpers
    @staticmethod
    def _check_seeds(seeds: Any, name: str = "seeds") -> tuple[int, ...]:
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = (seeds,)
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
            raise _bad(name, "a sequence of ints such as (0, 1, 2)", seeds)
        out = []
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"AuditSpec.{name}: expected non-negative ints, got {s!r}")
            out.append(int(s))
        if not out:
            raise ValueError(f"AuditSpec.{name}: is empty; give at least one seed")
        if len(set(out)) != len(out):
            raise ValueError(f"AuditSpec.{name}: seeds must be distinct, got {tuple(out)}")
        return tuple(out)

    @staticmethod
    def _check_timeout(value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad("method_timeout", "None or a number of seconds such as 600", value)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"AuditSpec.method_timeout: expected a positive number of seconds (or None for no "
                             f"limit), got {value!r}")
        return float(value)

    @staticmethod
    def _check_thresholds(th: Any) -> Thresholds:
        if th is None:
            return Thresholds.default()
        if isinstance(th, Thresholds):
            return th
        if isinstance(th, (str, Check)) or (isinstance(th, Sequence) and all(isinstance(c, (str, Check))
                                                                             for c in th)):
            items = [th] if isinstance(th, (str, Check)) else list(th)
            return Thresholds(items, source="AuditSpec.thresholds")
        raise _bad("thresholds", "None, a Thresholds, or a list of Check objects / strings like 'eo:abs<=5'", th)

    @staticmethod
    def _check_references(refs: Any) -> tuple[str, ...]:
        from ..methods import get_method

        if isinstance(refs, str):
            refs = (refs,)
        if not isinstance(refs, Sequence):
            raise _bad("references", "a sequence of reference names such as ('retrain', 'retrain+reweight')", refs)
        out: list[str] = []
        for r in refs:
            if not isinstance(r, str):
                raise TypeError(f"AuditSpec.references: expected names, got {type(r).__name__}")
            name = REFERENCE_ALIASES.get(r, r)
            try:
                method = get_method(name)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"AuditSpec.references: {r!r} is not a method ({exc.args[0]})") from None
            if not method.info.reference:
                raise ValueError(f"AuditSpec.references: {r!r} is not a reference retrain; use 'retrain', "
                                 f"'retrain+reweight' or 'retrain_groupdro' (list {r!r} in methods= instead)")
            if name in out:
                raise ValueError(f"AuditSpec.references: {r!r} is listed twice")
            out.append(name)
        return tuple(out)

    def _check_user(self, fn: Any) -> Any:
        from ..methods import METHODS, Method, as_method, get_method

        if fn is None:
            return None
        if isinstance(fn, str):
            try:
                method = get_method(fn)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"AuditSpec.unlearn_fn: {exc.args[0]}") from None
        elif isinstance(fn, Method):
            method = fn
        elif isinstance(fn, nn.Module) or not callable(fn):
            raise _bad("unlearn_fn", "None, a callable fn(model, ctx) -> model or fn(net, retain_loader, "
                       "forget_loader, val_loader) -> net, a registered method name or a Method", fn)
        else:
            try:
                method = as_method(fn)
            except TypeError as exc:
                raise TypeError(f"AuditSpec.{exc}") from None
        if isinstance(fn, (str, Method)) and self.unlearn_name is None:
            return method  # a registered method audited as the user's: keeps its registry name
        name = self.unlearn_name or method.name
        if name in ("<lambda>", "") or not name.isprintable():
            name = "user"
        if name == "original" or name in self.references or name in METHODS:
            name = f"user:{name}"  # never shadow a suite method or a reference in the report
        return dataclasses.replace(method, info=dataclasses.replace(method.info, name=name))

    def _check_methods(self, methods: Any) -> None:
        from ..methods import METHODS, Method, get_method, method_names

        set_ = object.__setattr__
        user = self._user.name if self._user is not None else None
        unavailable: list[str] = []
        if isinstance(methods, str) and methods in ("default", "all", "none"):
            if methods == "none":
                names: list[str] = []
            elif methods == "default":
                known = set(method_names())
                names = [m for m in DEFAULT_METHODS if m in known]
                unavailable = [m for m in DEFAULT_METHODS if m not in known]
            else:
                names = [n for n in method_names() if not n.startswith("_")
                         and not METHODS._methods[n].info.reference and METHODS._methods[n].info.family != "user"]
            resolved = [get_method(n) for n in names]
        elif isinstance(methods, str):
            raise ValueError(f"AuditSpec.methods: expected 'default', 'all', 'none' or a list of method names, got "
                             f"{methods!r} (for one method write [{methods!r}])")
        elif isinstance(methods, Sequence):
            resolved = []
            for m in methods:
                if isinstance(m, Method):
                    method = m
                elif isinstance(m, str):
                    try:
                        method = get_method(m)
                    except (KeyError, ValueError) as exc:
                        raise ValueError(f"AuditSpec.methods: {exc.args[0]}") from None
                else:
                    raise TypeError(f"AuditSpec.methods: expected method names or Method objects (e.g. "
                                    f"get_method('ft', lr=0.1)), got {type(m).__name__}")
                if method.info.reference:
                    raise ValueError(f"AuditSpec.methods: {method.name!r} is a reference retrain; list it in "
                                     f"references=")
                if any(r.name == method.name for r in resolved):
                    raise ValueError(f"AuditSpec.methods: {method.name!r} is listed twice (the report names models "
                                     f"by method name; audit one configuration of a method per spec)")
                resolved.append(method)
        else:
            raise _bad("methods", "'default', 'all', 'none' or a list of method names", methods)
        set_(self, "_suite", tuple(m for m in resolved if m.name != user))
        set_(self, "_unavailable", tuple(unavailable))

    # ------------------------------------------------------------------ resolved views
    @property
    def user_method(self) -> Any:
        """The user's method as a ``Method`` (``None`` when the audit has none)."""
        return self._user

    @property
    def suite(self) -> tuple[str, ...]:
        """The suite method names after resolving ``"default"`` / ``"all"`` (the user's method excluded)."""
        return tuple(m.name for m in self._suite)

    @property
    def suite_methods(self) -> tuple[Any, ...]:
        """The suite as ``Method`` s, each with the hyper-parameters it was given (the user's method excluded)."""
        return self._suite

    @property
    def unavailable_methods(self) -> tuple[str, ...]:
        """Default-suite names not registered in this installation (skipped)."""
        return self._unavailable

    def resolved_cache_dir(self) -> Path | None:
        """The cache folder (``None`` when caching is disabled)."""
        if self.cache_dir is False:
            return None
        if self.cache_dir is None:
            return Path.cwd() / DEFAULT_CACHE_DIR
        return Path(self.cache_dir).expanduser()

    def init_fields(self) -> dict[str, Any]:
        """The constructor arguments of this spec (as validated): ``AuditSpec(**spec.init_fields())`` rebuilds it."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def replace(self, **changes: Any) -> "AuditSpec":
        """A copy with ``changes`` (validated again)."""
        return AuditSpec(**{**self.init_fields(), **changes})

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # pickled as its constructor arguments, so the worker rebuilds the derived fields (the user's adapted
        # method included) from what the user gave: callables travel by reference to their importable module
        return _rebuild_spec, (self.init_fields(),)

    @classmethod
    def from_profile(cls, profile: str | Profile, **kwargs: Any) -> "AuditSpec":
        """A spec with the profile's methods, seeds, references and metric config; ``kwargs`` override them.

        Raises:
            ValueError: unknown profile name.
        """
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ValueError(f"AuditSpec.from_profile: unknown profile {profile!r}; use "
                                 f"{', '.join(PROFILES)}")
            profile = PROFILES[profile]
        base = profile.spec_kwargs()
        if "seeds" in kwargs and "reference_seeds" not in kwargs:
            base.pop("reference_seeds")  # derived from the given seeds (at least MIN_REFERENCE_SEEDS of them)
        return cls(**{**base, **kwargs})

    def describe(self) -> dict[str, Any]:
        """JSON-friendly configuration (stored in ``AuditReport.config``)."""
        user = self._user
        return {
            "methods": list(self.suite),
            "methods_requested": self.methods if isinstance(self.methods, str) else [
                m if isinstance(m, str) else m.name for m in self.methods],
            "unavailable_methods": list(self._unavailable),
            "references": list(self.references),
            "seeds": list(self.seeds),
            "suite_seeds": list(self.suite_seeds),  # type: ignore[arg-type]
            "reference_seeds": list(self.reference_seeds),  # type: ignore[arg-type]
            "n_boot": self.n_boot,
            "method_timeout": self.method_timeout,
            "device": str(self.device),
            "recipe": self.recipe.to_dict(),  # type: ignore[union-attr]
            "metric_config": self.metric_config.to_dict(),
            "thresholds": self.thresholds.to_list(),  # type: ignore[union-attr]
            "level": self.thresholds.level,  # type: ignore[union-attr]
            "inconclusive": self.thresholds.inconclusive,  # type: ignore[union-attr]
            "user_method": None if user is None else {"name": user.name, "hyperparams": user.hyperparams()},
            "original": "trained by the audit" if self.original is None else "provided",
            "model_factory": getattr(self.model_factory, "__qualname__", type(self.model_factory).__name__),
        }


def _rebuild_spec(fields: dict[str, Any]) -> AuditSpec:
    """Unpickle an ``AuditSpec`` (``AuditSpec.__reduce__``)."""
    return AuditSpec(**fields)
