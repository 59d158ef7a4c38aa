"""``run_audit``: original -> references -> suite -> the user's method, every model evaluated, findings computed.

Every trained artefact and every metric result goes through the content-addressed cache (``_cache``): a re-run
of an unchanged audit loads the stored metrics and trains nothing (not even the original is loaded).
"""

from __future__ import annotations

import copy
import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable

import torch
from torch import nn

from .._device import configure_threads, resolve_device
from .._json import jsonable
from ..metrics import evaluate
from ..methods import Method, UnlearnContext, get_method
from ..report import AuditReport, Finding, ModelRecord, Status
from ..training import fit
from ._cache import Cache, Entry, cache_key, code_fingerprint, source_identity, state_hash
from ._samples import samples_from_tensors, samples_to_tensors
from ._environment import collect_environment, package_versions
from ._guard import DataGuard, MethodFailure, call_method
from ._isolation import check_portable, run_step_isolated
from ._blind_spots import unchanged_findings
from ._spec import AuditSpec
from ._thresholds import checked_models
from ._uncertainty import assemble_uncertainty
from .._step_progress import report_step, reporting_to
from ..progress import ProgressEvent, ProgressSink
from ..progress_display import resolve_sink

__all__ = ["run_audit", "reference_for", "MethodFailure"]

log = logging.getLogger("unlearn_audit.audit")

#: How each model's reference is chosen (spec D5), recorded in the report's config.
REFERENCE_RULE = ("retrain+reweight for MIU and +reweight variants, retrain otherwise (spec A5/D5); the first "
                  "available reference when that one is not audited")


def reference_for(method: Method, available: tuple[str, ...]) -> str | None:
    """The reference a method's gaps and findings are computed against (spec D5)."""
    want = "retrain+reweight" if method.reweight or method.info.name == "miu" else "retrain"
    if want in available:
        return want
    for name in ("retrain", "retrain+reweight", *available):
        if name in available:
            return name
    return None


def run_audit(spec: AuditSpec, *, progress: bool | ProgressSink = True) -> AuditReport:
    """Run the audit described by ``spec`` and return its ``AuditReport``.

    Steps: train (or load) the original on the full train split (seed ``spec.seeds[0]``); for every seed, the
    reference retrains, the suite methods and the user's method, each given a private deep copy of the
    original; evaluate every model (``ModelMetrics.to_dict()`` into ``ModelRecord.metrics``); set each record's
    reference (spec D5); apply ``spec.thresholds``. Artefacts are cached (see ``AuditSpec.cache_dir``).

    A method that raises, returns something that is not an ``nn.Module``, returns a model of another
    architecture, or changes the original model in place is recorded with ``status="failed"`` and the reason (the
    user's method also gets a FAIL finding, ``check="runs"``); the rest of the audit completes.

    Args:
        spec: what to audit.
        progress: ``True``: a live line on stderr when it is a terminal (the current step, its epoch, steps done,
            ETA), one line per finished step otherwise, nothing on a pytest-xdist worker; ``False``: nothing; or
            a ``ProgressSink`` receiving every ``ProgressEvent`` (``unlearn_audit.progress_display``).

    Raises:
        TypeError / ValueError: ``spec`` is not an ``AuditSpec``, the model factory does not return a module, or
            the provided original does not fit the factory's architecture.
    """
    if not isinstance(spec, AuditSpec):
        raise TypeError(f"run_audit: expected an AuditSpec, got {type(spec).__name__}")
    configure_threads()
    return _Runner(spec, progress=progress).run()


class _Runner:
    def __init__(self, spec: AuditSpec, *, progress: bool | ProgressSink) -> None:
        self.spec = spec
        self.data = spec.data
        self.device = resolve_device(spec.device)
        cache_dir = spec.resolved_cache_dir()
        self.cache = Cache(cache_dir)
        self.progress = resolve_sink(progress)
        self.notes: list[str] = []
        self.guard = DataGuard(self.data)  # the data as audited: checked and restored after every method
        self.data_fingerprint = self.data.fingerprint()
        self._samples: dict[int, dict[str, Any] | None] = {}  # id(metrics dict) -> per-sample outcomes
        # architecture of the factory's model: checked against every returned model and the provided original
        fresh = self._fresh(spec.seeds[0])
        self.arch = _arch(fresh.state_dict())
        self.base_key = self._base_key(fresh)
        self._original: nn.Module | None = None
        self._original_state: dict[str, torch.Tensor] | None = None
        self._original_hash: str | None = None
        self.original_key = self._original_key()

    # ------------------------------------------------------------------ models and keys
    def _make(self) -> nn.Module:
        model = self.spec.model_factory()
        if not isinstance(model, nn.Module):
            raise TypeError(f"AuditSpec.model_factory: expected a callable returning an nn.Module, it returned "
                            f"{type(model).__name__}")
        return model

    def _fresh(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return self._make()

    def _base_key(self, fresh: nn.Module) -> dict[str, Any] | None:
        ident = source_identity(self.spec.model_factory)
        if ident is None:
            self.notes.append("cache off: the source of model_factory is unavailable, so a change to it could not "
                              "be detected")
            return None
        versions = package_versions()
        return {"layout": 1, "factory": ident, "architecture": cache_key({"repr": repr(fresh), "arch": self.arch}),
                "data": self.data_fingerprint, "dominant_groups": self.data.dominant_groups,
                "recipe": self.spec.recipe.to_dict(),  # type: ignore[union-attr]
                "versions": {"unlearn-audit": versions["unlearn-audit"], "torch": versions["torch"]},
                "device_type": self.device.type}

    def _key(self, **parts: Any) -> str | None:
        if self.base_key is None or any(v is None for v in parts.values()):
            return None
        return cache_key({**self.base_key, **parts})

    def _arch_diff(self, state: dict[str, torch.Tensor]) -> str | None:
        """How ``state``'s parameter names / shapes differ from the factory model's, or ``None``."""
        got = _arch(state)
        if got == self.arch:
            return None
        missing = sorted(set(self.arch) - set(got))
        extra = sorted(set(got) - set(self.arch))
        shapes = [f"{k}: {got[k][0]} instead of {self.arch[k][0]}" for k in sorted(set(got) & set(self.arch))
                  if got[k][0] != self.arch[k][0]]
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

    def _check_weights(self, entry: Entry) -> str | None:
        """Why cached weights do not fit model_factory's architecture (``None`` when they do)."""
        diff = self._arch_diff(entry.state or {})
        return f"weights of another architecture than model_factory's ({diff})" if diff else None

    def _original_key(self) -> str | None:
        given = self.spec.original
        if given is not None:
            state = given.state_dict() if isinstance(given, nn.Module) else dict(given)
            diff = self._arch_diff(state)
            if diff:  # before anything touches the cache folder
                raise ValueError(f"AuditSpec.original: does not fit model_factory's architecture ({diff})")
            return self._key(artefact="original", provided=state_hash(state))
        return self._key(artefact="original", seed=self.spec.seeds[0], code=code_fingerprint("training"))

    @property
    def original(self) -> nn.Module:
        """The original model (loaded, taken from the user or trained on first use)."""
        if self._original is None:
            self._load_original()
        assert self._original is not None
        return self._original

    def _load_original(self) -> None:
        given = self.spec.original
        seed = self.spec.seeds[0]
        if given is not None:
            state = given.state_dict() if isinstance(given, nn.Module) else dict(given)
            model = self._fresh(seed)
            model.load_state_dict(state)  # its architecture was checked by _original_key
            self.original_seconds, self.original_cached = 0.0, False
        else:
            trained: dict[str, nn.Module] = {}

            def compute() -> Entry:
                t0 = time.perf_counter()
                m = fit(self._fresh(seed), self.data.train, self.spec.recipe, seed=seed, device=self.device,
                        progress=False)
                trained["model"] = m
                return Entry(payload={"seconds": time.perf_counter() - t0}, state=m.state_dict())

            entry, cached = self.cache.fetch("model", self.original_key, compute, validate=self._check_weights)
            model = trained.get("model") or self._from_state(entry.state, seed)
            self.original_seconds, self.original_cached = float(entry.payload.get("seconds", 0.0)), cached
        model = model.to(self.device).eval()
        self._original = model
        self._original_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._original_hash = state_hash(model)

    def _from_state(self, state: dict[str, torch.Tensor] | None, seed: int) -> nn.Module:
        model = self._fresh(seed)
        assert state is not None
        model.load_state_dict(state)
        return model.to(self.device).eval()

    # ------------------------------------------------------------------ running one method
    def _method_key(self, method: Method, seed: int, *, user: bool) -> str | None:
        if user and not isinstance(self.spec.unlearn_fn, (str, Method)):
            ident = source_identity(self.spec.unlearn_fn)
        else:
            ident = source_identity(method.fn)
        if ident is None:
            self.notes.append(f"{method.name}: not cached (its source is unavailable)")
            return None
        return self._key(artefact="model", method=method.name, hyperparams=method.hyperparams(), source=ident,
                         seed=seed, original="not used" if method.info.reference else self.original_key,
                         code=code_fingerprint("methods", "training"))

    def _unlearn(self, method: Method, seed: int) -> tuple[nn.Module, dict[str, Any]]:
        """Run ``method`` on a private copy of the original; raise ``MethodFailure`` on anything unusable."""
        original = self.original
        given = self.spec.original if isinstance(self.spec.original, nn.Module) else None
        given_hash = state_hash(given) if given is not None else None
        ctx = UnlearnContext.build(data=self.data, original=original, recipe=self.spec.recipe, device=self.device,
                                   seed=seed, model_factory=self._make,
                                   progress=lambda f: report_step(f, f"{f:.0%}"))
        model = copy.deepcopy(original).to(self.device)
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        failure: MethodFailure | None = None
        out: nn.Module | None = None
        state: dict[str, torch.Tensor] | None = None  # what a worker process returned
        try:
            if self.spec.method_timeout is None:
                out = call_method(method, model, ctx, guard=self.guard)
                log, seconds = ctx.log, time.perf_counter() - t0
            else:  # in a worker process that is stopped at the time limit
                state, log, seconds = run_step_isolated(method=self._portable[method.name], model=model, ctx=ctx,
                                                        model_factory=self.spec.model_factory,
                                                        timeout=self.spec.method_timeout)
        except MethodFailure as exc:
            failure = exc
        finally:  # also on KeyboardInterrupt: never leave the original changed
            mutated = [what for what, obj, h in (("the original model", original, self._original_hash),
                                                 ("the original model passed as AuditSpec.original", given,
                                                  given_hash))
                       if obj is not None and state_hash(obj) != h]
            if mutated:
                self._restore_original(given)
        if mutated:
            raise MethodFailure(f"changed {mutated[0]} in place (its parameters or buffers differ after the call); "
                                f"a method must modify and return the copy it is given, never the original")
        if failure is not None:
            raise failure
        diff = self._arch_diff(state if out is None else out.state_dict())
        if diff:
            raise MethodFailure(f"returned a model of another architecture than model_factory's ({diff})")
        if out is None:
            out = self._from_state(state, seed)
        return out.to(self.device).eval(), {"seconds": seconds, "log": jsonable(log)}

    def _restore_original(self, given: nn.Module | None) -> None:
        assert self._original is not None and self._original_state is not None
        with torch.no_grad():
            self._original.load_state_dict(self._original_state)
            if given is not None:
                given.load_state_dict({k: v.to(next(iter(given.state_dict().values())).device)
                                       for k, v in self._original_state.items()})

    # ------------------------------------------------------------------ evaluation
    def _evaluate_entry(self, model_key: str | None, get_model: Callable[[], tuple[nn.Module, dict[str, Any]]]
                        ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """``(metrics, model_info, cached)`` for a model, from the cache or computed."""
        cfg = self.spec.metric_config
        key = None if model_key is None else cache_key({"artefact": "metrics", "model": model_key,
                                                        "config": cfg.to_dict(),
                                                        "code": code_fingerprint("metrics")})

        def compute() -> Entry:
            model, info = get_model()
            report_step(None, "evaluating")
            metrics = evaluate(model, self.data, config=cfg, device=self.device)
            return Entry(payload={"metrics": metrics.to_dict(), "model": info}, state=samples_to_tensors(metrics.samples))

        entry, cached = self.cache.fetch("metrics", key, compute)
        self._samples[id(entry.payload["metrics"])] = samples_from_tensors(entry.state)
        return entry.payload["metrics"], entry.payload.get("model", {}), cached

    def _run_original(self) -> ModelRecord:
        def get() -> tuple[nn.Module, dict[str, Any]]:
            model = self.original
            return model, {"seconds": self.original_seconds, "cached": self.original_cached,
                           "fingerprint": self._original_hash}

        metrics, info, cached = self._evaluate_entry(self.original_key, get)
        return ModelRecord(name="original", role="original", seed=self.spec.seeds[0], metrics=metrics,
                           fingerprint=info.get("fingerprint"),
                           samples=self._samples.pop(id(metrics), None),
                           seconds=0.0 if cached or info.get("cached") else float(info.get("seconds", 0.0)),
                           cached=cached or bool(info.get("cached")),
                           hyperparams={"provided": self.spec.original is not None,
                                        **({} if self.spec.original is not None
                                           else {"recipe": self.spec.recipe.to_dict()})})  # type: ignore[union-attr]

    def _run_method(self, name: str, method: Method, seed: int, role: str) -> ModelRecord:
        user = role == "user"
        reference = None if role == "reference" else reference_for(method, self.spec.references)
        record = ModelRecord(name=name, role=role, seed=seed, reference=reference,  # type: ignore[arg-type]
                             hyperparams=jsonable(method.hyperparams()))
        model_key = self._method_key(method, seed, user=user)

        def get() -> tuple[nn.Module, dict[str, Any]]:
            produced: dict[str, Any] = {}

            def compute() -> Entry:
                model, info = self._unlearn(method, seed)
                produced["model"] = model
                return Entry(payload=info, state=model.state_dict())

            entry, cached = self.cache.fetch("model", model_key, compute, validate=self._check_weights)
            model = produced.get("model") or self._from_state(entry.state, seed)
            return model, {**entry.payload, "cached": cached, "fingerprint": state_hash(model)}

        t0 = time.perf_counter()
        try:
            metrics, info, cached = self._evaluate_entry(model_key, get)
        except MethodFailure as exc:
            record.status, record.error = "failed", str(exc)
            record.seconds = time.perf_counter() - t0
            log.warning("unlearn-audit: %s (seed %d) failed: %s", name, seed, exc)
            return record
        except Exception as exc:  # noqa: BLE001 - evaluation of an odd model; keep the audit going
            record.status, record.error = "failed", f"could not be evaluated: {type(exc).__name__}: {exc}"
            record.seconds = time.perf_counter() - t0
            log.warning("unlearn-audit: %s (seed %d) could not be evaluated: %s", name, seed, exc)
            return record
        record.metrics = metrics
        record.samples = self._samples.pop(id(metrics), None)
        record.cached = cached or bool(info.get("cached"))
        record.seconds = 0.0 if record.cached else float(info.get("seconds", 0.0))
        record.log = info.get("log", {}) or {}
        record.fingerprint = info.get("fingerprint")
        return record

    # ------------------------------------------------------------------ the whole audit
    def plan(self) -> list[tuple[str, Method | None, int, str]]:
        spec = self.spec
        steps: list[tuple[str, Method | None, int, str]] = [("original", None, spec.seeds[0], "original")]
        for ref in spec.references:
            steps += [(ref, get_method(ref), s, "reference") for s in spec.reference_seeds]
        for name in spec.suite:
            steps += [(name, get_method(name), s, "method") for s in spec.seeds]
        if spec.user_method is not None:
            steps += [(spec.user_method.name, spec.user_method, s, "user") for s in spec.seeds]
        return steps

    def run(self) -> AuditReport:
        t_start = time.perf_counter()
        steps = self.plan()
        if self.spec.method_timeout is not None:  # every method must be importable by a worker process
            sample = self._make()
            self._portable = {m.name: check_portable(m, user_fn=self.spec.unlearn_fn if role == "user" else None,
                                                     model_factory=self.spec.model_factory, model=sample)
                              for _, m, _, role in steps if m is not None}
        rows: list[ModelRecord] = []
        sink = self.progress
        sink(ProgressEvent("plan", total=len(steps)))
        try:
            for name, method, seed, role in steps:
                step = name if role == "original" else f"{name}/seed{seed}"
                label = name if role == "original" else f"{name} (seed {seed})"
                sink(ProgressEvent("start", step=step, label=label))
                t0 = time.perf_counter()

                def advance(fraction: float | None, detail: str, step: str = step, label: str = label,
                            t0: float = t0) -> None:
                    sink(ProgressEvent("advance", step=step, label=label, fraction=fraction or 0.0, detail=detail,
                                       elapsed_s=time.perf_counter() - t0))

                with reporting_to(advance):
                    record = self._run_original() if method is None else self._run_method(name, method, seed, role)
                rows.append(record)
                sink(ProgressEvent("failed" if record.status == "failed" else "done", step=step, label=label,
                                   detail=record.error or "", elapsed_s=time.perf_counter() - t0,
                                   cached=record.cached))
            return self._assemble(rows, t_start)
        finally:
            sink(ProgressEvent("finish", elapsed_s=time.perf_counter() - t_start))

    def _assemble(self, rows: list[ModelRecord], t_start: float) -> AuditReport:
        user = self.spec.user_method.name if self.spec.user_method is not None else None
        report = AuditReport(rows=rows, data={**_describe_data(self.data), "fingerprint": self.data_fingerprint},
                             environment=collect_environment(self.device),
                             user_method=user, created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        report.config = {**self.spec.describe(), "reference_rule": REFERENCE_RULE,
                         "reference_of": {r.name: r.reference for r in rows if r.reference is not None},
                         "cache": {"dir": str(self.cache.root) if self.cache.root else None,
                                   "hits": self.cache.hits, "misses": self.cache.misses,
                                   "recovered": len(self.cache.recovered)},
                         "notes": list(dict.fromkeys(self.notes)),
                         "seconds": round(time.perf_counter() - t_start, 3)}
        thresholds = self.spec.thresholds
        report.uncertainty = assemble_uncertainty(report, self.data, n_boot=self.spec.n_boot,
                                                  level=thresholds.level)  # type: ignore[union-attr]
        findings: list[Finding] = []
        if user is not None:
            for r in report.records(user):
                if r.status == "failed":
                    findings.append(Finding(check="runs", metric="-", model=user, status=Status.FAIL,
                                            why=f"seed {r.seed}: {r.error}"))
        findings += thresholds.evaluate(report)  # type: ignore[union-attr]
        findings += unchanged_findings(report, checked_models(report))
        report.findings = findings
        report.config["seconds"] = round(time.perf_counter() - t_start, 3)
        return report


def _arch(state: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    return {k: (tuple(v.shape), str(v.dtype)) for k, v in state.items() if isinstance(v, torch.Tensor)}


def _describe_data(data: Any) -> dict[str, Any]:
    """Sizes, group counts, fingerprints and the forget request (``AuditReport.data``)."""
    train = data.train
    out: dict[str, Any] = {
        "name": (train.name or "").split("/")[0] or None,
        "n_train": len(train), "n_forget": len(data.forget_idx), "n_retain": len(train) - len(data.forget_idx),
        "n_test": len(data.test), "n_val": len(data.val) if data.val is not None else None,
        "n_classes": data.n_classes, "n_attrs": data.n_attrs,
        "classes": list(train.classes) if train.classes else None,
        "attr_names": list(train.attr_names) if train.attr_names else None,
        "input_shape": list(train.x.shape[1:]),
        "dominant_groups": [list(g) for g in data.dominant_groups],
        "dominant_group_names": [train.group_name(a + y * data.n_attrs) for y, a in data.dominant_groups],
        "group_counts": {split: ds.summary()["group_counts"] for split, ds in data.splits().items()},
        "fingerprint": data.fingerprint(),
    }
    return out
