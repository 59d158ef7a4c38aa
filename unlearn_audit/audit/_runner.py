"""``run_audit``: plan the audit's steps, execute them (serially or on workers), assemble the report.

``_plan`` lists the steps with their cache keys (original -> reference retrains -> suite -> the user's method),
an executor (``executors``) runs each one through ``_execute`` (train or load, evaluate, cache; a failure is that
step's record), and ``_assemble`` builds the report, its intervals and findings. Every trained artefact and
every metric result goes through the content-addressed cache (``_cache``): a re-run of an unchanged audit loads
the stored metrics and trains nothing (not even the original is loaded).
"""

from __future__ import annotations

import time
from typing import Any

from .._device import configure_threads, resolve_device
from ..progress import ProgressEvent, ProgressSink
from ..progress_display import resolve_sink
from ..report import AuditReport
from ._assemble import REFERENCE_RULE, assemble
from ._cache import Cache
from ._guard import MethodFailure
from ._isolation import check_portable
from ._plan import ORIGINAL, fresh_model, plan, reference_for
from ._spec import AuditSpec
from .executors import Execution, ExecutorError, Job, get_executor
from .executors._claim import claimed_report

__all__ = ["run_audit", "reference_for", "MethodFailure", "REFERENCE_RULE", "ExecutorError"]


def run_audit(spec: AuditSpec, *, progress: bool | ProgressSink = True, executor: Any = "serial",
              workers: int | None = None, ray_address: str | None = None) -> AuditReport:
    """Run the audit described by ``spec`` and return its ``AuditReport``.

    Steps: train (or load) the original on the full train split (seed ``spec.seeds[0]``); for every seed, the
    reference retrains, the suite methods and the user's method, each given a private deep copy of the
    original; evaluate every model (``ModelMetrics.to_dict()`` into ``ModelRecord.metrics``); set each record's
    reference; apply ``spec.thresholds``. Artefacts are cached (see ``AuditSpec.cache_dir``).

    A method that raises, returns something that is not an ``nn.Module``, returns a model of another
    architecture, or changes the original model in place is recorded with ``status="failed"`` and the reason (the
    user's method also gets a FAIL finding, ``check="runs"``); so is a step whose worker process dies. The rest of
    the audit completes.

    Args:
        spec: what to audit.
        progress: ``True``: a live line on stderr when it is a terminal (the running steps, their epoch, steps
            done, ETA), one line per finished step otherwise, nothing on a pytest-xdist worker; ``False``: nothing;
            or a ``ProgressSink`` receiving every ``ProgressEvent`` (``unlearn_audit.progress_display``), whatever
            the executor (workers forward their events to it).
        executor: ``"serial"`` (default), ``"processes"`` (worker processes on this machine), ``"ray"`` (a Ray
            cluster; ``unlearn-audit[ray]``), ``"xdist"`` (pytest-xdist workers sharing the plan through the
            cache), or an executor object (``executors.Executor``). Every executor gives the report of a serial
            run when each step runs with the same torch thread count (``ModelRecord.threads``).
        workers: worker count of ``processes`` / ``ray`` (default: one per GPU with CUDA, else the cores).
        ray_address: ``ray`` only: ``None`` starts a local Ray, ``"auto"`` joins this machine's cluster,
            ``"ray://host:port"`` a remote one.

    Raises:
        TypeError / ValueError: ``spec`` is not an ``AuditSpec``, the model factory does not return a module, or
            the provided original does not fit the factory's architecture.
        ExecutorError: unknown executor, workers < 1, Ray missing or not answering, a spec that cannot be sent to
            workers in other processes.
        RuntimeError: the original model could not be trained or evaluated (nothing else can run).
    """
    if not isinstance(spec, AuditSpec):
        raise TypeError(f"run_audit: expected an AuditSpec, got {type(spec).__name__}")
    chosen = get_executor(executor, workers=workers, ray_address=ray_address, source="run_audit(executor=...)")
    t_start = time.perf_counter()
    configure_threads()
    device = resolve_device(spec.device)
    the_plan = plan(spec, device=device)
    cache = Cache(spec.resolved_cache_dir())
    if getattr(chosen, "name", None) in ("processes", "ray") and cache.enabled and all(
            s.metrics_key is not None and cache.contains("metrics", s.metrics_key) for s in the_plan.steps):
        chosen = get_executor("serial", source="run_audit")   # all cached: starting workers would cost seconds
    job = Job(spec=spec, plan=the_plan, device=device, cache=cache)
    if spec.method_timeout is not None:   # every method must be importable by the process that runs it
        sample = fresh_model(spec, spec.seeds[0])
        for step in the_plan.steps:
            if step.method is not None:
                check_portable(step.method, user_fn=spec.unlearn_fn if step.role == "user" else None,
                               model_factory=spec.model_factory, model=sample)
    sink = resolve_sink(progress)
    sink(ProgressEvent("plan", total=len(the_plan.steps)))
    try:
        done: Execution = chosen.run(job, sink=sink)
        original = done.records[ORIGINAL]
        if original.status == "failed":
            raise RuntimeError(f"unlearn-audit: the original model could not be produced, so nothing else can run: "
                               f"{original.error}")

        def build() -> AuditReport:
            return assemble(spec, the_plan, [done.records[s.id] for s in the_plan.steps], device=device,
                            cache={"dir": str(cache.root) if cache.root else None, "hits": done.hits,
                                   "misses": done.misses, "recovered": done.recovered},
                            execution={"executor": done.executor, "workers": done.workers,
                                       "threads_per_step": done.threads_per_step, **done.details},
                            t_start=t_start)

        if done.executor == "xdist":   # processes sharing the plan: the first to claim it assembles the report
            report = claimed_report(cache, the_plan, {"spec": spec.describe()}, build)
        else:
            report = build()
    finally:
        sink(ProgressEvent("finish", elapsed_s=time.perf_counter() - t_start))
    return report
