"""Executing one step: train or load the model, evaluate it, cache both; a failure is that step's record.

``StepRunner(spec, plan)`` is what a worker holds (in the controller's process for the serial executor, one per
worker process or Ray task otherwise); ``runner.execute(step)`` returns the step's ``ModelRecord`` and never
raises for a method that misbehaves. The user's (or a suite method's) code is called in one place,
``_unlearn``: through ``_guard.call_method`` (the data checked and restored), or in a worker process stopped at
``AuditSpec.method_timeout`` (``_isolation``).
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any, Callable

import torch
from torch import nn

from .._device import resolve_device
from .._json import jsonable
from ..methods import Method, UnlearnContext
from ..metrics import evaluate
from .._step_progress import report_step, reporting_to
from ..progress import ProgressEvent, ProgressSink, null_sink
from ..report import ModelRecord
from ..training import fit
from ._cache import Cache, Entry, state_hash
from ._guard import DataGuard, MethodFailure, call_method
from ._isolation import check_portable, run_step_isolated
from ._plan import ORIGINAL, Plan, Step, arch_diff, fresh_model, provided_state
from ._samples import samples_from_tensors, samples_to_tensors
from ._spec import AuditSpec

__all__ = ["StepRunner", "MethodFailure"]

log = logging.getLogger("unlearn_audit.audit")


class StepRunner:
    """Executes the steps of ``plan`` for ``spec`` on ``device`` with the cache at ``spec``'s cache folder.

    Args:
        spec: the audit.
        plan: ``plan(spec, device=...)``.
        device: where to train and evaluate (``None``: ``spec.device`` resolved).
        cache: the cache to use (``None``: ``Cache(spec.resolved_cache_dir())``).
        original_state: the original's weights when the worker cannot read them from the cache (no cache).
        threads: the torch thread count steps run with (recorded with every computed model).
    """

    def __init__(self, spec: AuditSpec, plan: Plan, *, device: torch.device | None = None, cache: Cache | None = None,
                 original_state: dict[str, torch.Tensor] | None = None, threads: int | None = None) -> None:
        self.spec = spec
        self.plan = plan
        self.data = spec.data
        self.device = device if device is not None else resolve_device(spec.device)
        self.cache = cache if cache is not None else Cache(spec.resolved_cache_dir())
        self.threads = threads if threads is not None else torch.get_num_threads()
        self._original: nn.Module | None = None
        self._original_state = original_state
        self._original_hash: str | None = None
        self._original_info: dict[str, Any] = {"seconds": 0.0, "cached": False}
        self.guard = DataGuard(self.data)   # the data as audited: checked and restored after every method
        self._portable: dict[str, dict[str, Any]] = {}   # method name -> what a time-limited worker is sent

    # ------------------------------------------------------------------ the original
    @property
    def original(self) -> nn.Module:
        """The original model (taken from the user, loaded, or trained on first use)."""
        if self._original is None:
            self._load_original()
        assert self._original is not None
        return self._original

    @property
    def original_state(self) -> dict[str, torch.Tensor]:
        """A copy of the original's weights as it was produced (sent to workers that have no cache)."""
        self.original  # noqa: B018 - loads it
        assert self._original_state is not None
        return self._original_state

    def _load_original(self) -> None:
        seed = self.spec.seeds[0]
        given = provided_state(self.spec)
        if given is not None or self._original_state is not None:
            model = fresh_model(self.spec, seed)
            model.load_state_dict(given if given is not None else self._original_state)
        else:
            trained: dict[str, nn.Module] = {}

            def compute() -> Entry:
                t0 = time.perf_counter()
                m = fit(fresh_model(self.spec, seed), self.data.train, self.spec.recipe, seed=seed,
                        device=self.device, progress=False)
                trained["model"] = m
                return Entry(payload={"seconds": time.perf_counter() - t0, "threads": self.threads},
                             state=m.state_dict())

            entry, cached = self.cache.fetch("model", self.plan[ORIGINAL].model_key, compute,
                                             validate=self._check_weights)
            model = trained.get("model") or self._from_state(entry.state, seed)
            self._original_info = {"seconds": float(entry.payload.get("seconds", 0.0)), "cached": cached,
                                   "threads": entry.payload.get("threads")}
        model = model.to(self.device).eval()
        self._original = model
        self._original_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._original_hash = state_hash(model)

    def _check_weights(self, entry: Entry) -> str | None:
        """Why cached weights do not fit model_factory's architecture (``None`` when they do)."""
        diff = arch_diff(self.plan.arch, entry.state or {})
        return f"weights of another architecture than model_factory's ({diff})" if diff else None

    def _from_state(self, state: dict[str, torch.Tensor] | None, seed: int) -> nn.Module:
        model = fresh_model(self.spec, seed)
        assert state is not None
        model.load_state_dict(state)
        return model.to(self.device).eval()

    # ------------------------------------------------------------------ one step
    def execute(self, step: Step, *, sink: ProgressSink = null_sink, worker: str = "") -> ModelRecord:
        """The record of ``step``: its metrics (from the cache or computed), or ``status="failed"`` and the reason.

        Emits ``start`` and then ``done`` or ``failed`` to ``sink``.
        """
        t0 = time.perf_counter()
        sink(ProgressEvent("start", step=step.id, label=step.label, worker=worker))

        def advance(fraction: float | None, detail: str) -> None:
            sink(ProgressEvent("advance", step=step.id, label=step.label, worker=worker, fraction=fraction or 0.0,
                               detail=detail, elapsed_s=time.perf_counter() - t0))

        with reporting_to(advance):
            record = self._run_original(step) if step.role == ORIGINAL else self._run_method(step)
        elapsed = time.perf_counter() - t0
        if record.status == "failed":
            sink(ProgressEvent("failed", step=step.id, label=step.label, worker=worker, detail=record.error or "",
                               elapsed_s=elapsed))
        else:
            sink(ProgressEvent("done", step=step.id, label=step.label, worker=worker, elapsed_s=elapsed,
                               cached=record.cached))
        return record

    def _evaluate_entry(self, step: Step, get_model: Callable[[], tuple[nn.Module, dict[str, Any]]]
                        ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any], bool]:
        """``(metrics, samples, model_info, cached)`` for a step's model, from the cache or computed."""
        def compute() -> Entry:
            model, info = get_model()
            report_step(None, "evaluating")
            metrics = evaluate(model, self.data, config=self.spec.metric_config, device=self.device)
            return Entry(payload={"metrics": metrics.to_dict(), "model": info},
                         state=samples_to_tensors(metrics.samples))

        entry, cached = self.cache.fetch("metrics", step.metrics_key, compute)
        return entry.payload["metrics"], samples_from_tensors(entry.state), entry.payload.get("model", {}), cached

    def _run_original(self, step: Step) -> ModelRecord:
        def get() -> tuple[nn.Module, dict[str, Any]]:
            model = self.original
            return model, {**self._original_info, "fingerprint": self._original_hash}

        record = ModelRecord(name=ORIGINAL, role="original", seed=step.seed,
                             hyperparams={"provided": self.spec.original is not None,
                                          **({} if self.spec.original is not None
                                             else {"recipe": self.spec.recipe.to_dict()})})  # type: ignore[union-attr]
        try:
            metrics, samples, info, cached = self._evaluate_entry(step, get)
        except Exception as exc:  # noqa: BLE001 - reported; the runner stops the audit on it
            record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
            return record
        record.metrics, record.samples = metrics, samples
        record.cached = cached or bool(info.get("cached"))
        record.seconds = 0.0 if record.cached else float(info.get("seconds", 0.0))
        record.threads = info.get("threads")
        record.fingerprint = info.get("fingerprint")
        return record

    def _run_method(self, step: Step) -> ModelRecord:
        method = step.method
        assert method is not None
        record = ModelRecord(name=step.name, role=step.role, seed=step.seed,  # type: ignore[arg-type]
                             reference=step.reference, hyperparams=jsonable(method.hyperparams()))

        def get() -> tuple[nn.Module, dict[str, Any]]:
            produced: dict[str, Any] = {}

            def compute() -> Entry:
                model, info = self._unlearn(method, step.seed)
                produced["model"] = model
                return Entry(payload=info, state=model.state_dict())

            entry, cached = self.cache.fetch("model", step.model_key, compute, validate=self._check_weights)
            model = produced.get("model") or self._from_state(entry.state, step.seed)
            return model, {**entry.payload, "cached": cached, "fingerprint": state_hash(model)}

        t0 = time.perf_counter()
        try:
            metrics, samples, info, cached = self._evaluate_entry(step, get)
        except MethodFailure as exc:
            record.status, record.error = "failed", str(exc)
            record.seconds = time.perf_counter() - t0
            log.warning("unlearn-audit: %s (seed %d) failed: %s", step.name, step.seed, exc)
            return record
        except Exception as exc:  # noqa: BLE001 - evaluation of an odd model; keep the audit going
            record.status, record.error = "failed", f"could not be evaluated: {type(exc).__name__}: {exc}"
            record.seconds = time.perf_counter() - t0
            log.warning("unlearn-audit: %s (seed %d) could not be evaluated: %s", step.name, step.seed, exc)
            return record
        record.metrics, record.samples = metrics, samples
        record.cached = cached or bool(info.get("cached"))
        record.seconds = 0.0 if record.cached else float(info.get("seconds", 0.0))
        record.log = info.get("log", {}) or {}
        record.threads = info.get("threads")
        record.fingerprint = info.get("fingerprint")
        return record

    def _unlearn(self, method: Method, seed: int) -> tuple[nn.Module, dict[str, Any]]:
        """Run ``method`` on a private copy of the original; raise ``MethodFailure`` on anything unusable.

        A reference retrain trains from scratch and never reads the original, so it gets a fresh model in its
        place: it neither waits for the original nor loads it (a pool worker starts it while another trains the
        original), and the result is the same."""
        if method.info.reference:
            original, given, original_hash = fresh_model(self.spec, seed), None, None
        else:
            original, original_hash = self.original, self._original_hash
            given = self.spec.original if isinstance(self.spec.original, nn.Module) else None
        given_hash = state_hash(given) if given is not None else None
        ctx = UnlearnContext.build(data=self.data, original=original, recipe=self.spec.recipe, device=self.device,
                                   seed=seed, model_factory=self.spec.model_factory,
                                   progress=lambda f: report_step(f, f"{f:.0%}"))
        model = copy.deepcopy(original).to(self.device)
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        failure: MethodFailure | None = None
        out: nn.Module | None = None
        state: dict[str, torch.Tensor] | None = None  # what a time-limited worker process returned
        mutated: list[str] = []
        try:
            if self.spec.method_timeout is None:
                out = call_method(method, model, ctx, guard=self.guard)
                log, seconds = ctx.log, time.perf_counter() - t0
            else:  # in a worker process that is stopped at the time limit
                state, log, seconds = run_step_isolated(method=self._portable_method(method), model=model, ctx=ctx,
                                                        model_factory=self.spec.model_factory,
                                                        timeout=self.spec.method_timeout)
        except MethodFailure as exc:
            failure = exc
        finally:  # also on KeyboardInterrupt: never leave the original changed
            mutated = [what for what, obj, h in (("the original model", original, original_hash),
                                                 ("the original model passed as AuditSpec.original", given,
                                                  given_hash))
                       if obj is not None and h is not None and state_hash(obj) != h]
            if mutated:
                self._restore_original(given)
        if mutated:
            raise MethodFailure(f"changed {mutated[0]} in place (its parameters or buffers differ after the call); "
                                f"a method must modify and return the copy it is given, never the original")
        if failure is not None:
            raise failure
        diff = arch_diff(self.plan.arch, state if out is None else out.state_dict())
        if diff:
            raise MethodFailure(f"returned a model of another architecture than model_factory's ({diff})")
        if out is None:
            out = self._from_state(state, seed)
        return out.to(self.device).eval(), {"seconds": seconds, "log": jsonable(log), "threads": self.threads}

    def _portable_method(self, method: Method) -> dict[str, Any]:
        """What a time-limited worker is sent for ``method`` (checked up front by ``run_audit``)."""
        if method.name not in self._portable:
            user = self.spec.user_method is not None and method.name == self.spec.user_method.name
            self._portable[method.name] = check_portable(method, user_fn=self.spec.unlearn_fn if user else None,
                                                         model_factory=self.spec.model_factory)
        return self._portable[method.name]

    def _restore_original(self, given: nn.Module | None) -> None:
        assert self._original is not None and self._original_state is not None
        with torch.no_grad():
            self._original.load_state_dict(self._original_state)
            if given is not None:
                given.load_state_dict({k: v.to(next(iter(given.state_dict().values())).device)
                                       for k, v in self._original_state.items()})
