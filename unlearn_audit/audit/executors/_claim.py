"""``xdist``: processes that each run the whole audit (pytest-xdist workers) share its plan through the cache.

Every process walks the same plan. A step is claimed by taking its claim lock in the shared cache folder
without waiting; the process that holds it trains and evaluates the step, the others move on to the next step
nobody holds. When every step left is held by others, a process waits for the first of them and then loads it
from the cache. Each process ends with every record (most loaded, not computed), so N processes finish in
about 1/N of the time; the report is then assembled once (``claimed_report``) and loaded by the others.

Without a cache folder nothing can be shared: every process runs the plan on its own (as ``serial``).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import torch

from ...progress import ProgressSink
from ...report import AuditReport, ModelRecord
from .._cache import Cache, Entry, cache_key
from .._execute import StepRunner
from .._plan import Plan, Step
from ._base import Execution, Job, blocked_record, ready

__all__ = ["ClaimExecutor", "claimed_report"]


def _worker_name() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", f"pid{os.getpid()}")


class ClaimExecutor:
    """Runs the plan in this process, computing only steps no other process sharing the cache has claimed."""

    name = "xdist"

    def run(self, job: Job, *, sink: ProgressSink) -> Execution:
        threads = torch.get_num_threads()
        runner = StepRunner(job.spec, job.plan, device=job.device, cache=job.cache, threads=threads)
        worker = _worker_name()
        records: dict[str, ModelRecord] = {}
        computed = 0
        waiting = list(job.plan.steps)
        while waiting:
            step, lock = self._next(waiting, records, job.cache)
            if step is None:   # every ready step is held by another process: wait for the first one
                step = next(s for s in waiting if ready(s, records))
                lock = _claim(job.cache, step)
                if lock is not None:
                    lock.acquire()
            waiting.remove(step)
            try:
                blocked = blocked_record(step, records)
                records[step.id] = blocked if blocked is not None else runner.execute(step, sink=sink, worker=worker)
                computed += not records[step.id].cached
            finally:
                if lock is not None and lock.is_locked:
                    lock.release()
        return Execution(records={s.id: records[s.id] for s in job.plan.steps}, executor=self.name, workers=1,
                         threads_per_step=threads, details={"worker": worker, "computed_here": computed},
                         hits=job.cache.hits, misses=job.cache.misses, recovered=len(job.cache.recovered))

    @staticmethod
    def _next(waiting: list[Step], records: dict[str, ModelRecord], cache: Cache) -> tuple[Step | None, Any]:
        """The first ready step, costliest first (``Step.cost``, ties in the plan's order, as the pool executors),
        that is done already (no claim needed) or that this process could claim (with its held lock);
        ``(None, None)`` when every ready step is held by another process."""
        for step in sorted(waiting, key=lambda s: -s.cost):
            if not ready(step, records):
                continue
            lock = _claim(cache, step)
            if lock is None or (step.metrics_key is not None and cache.contains("metrics", step.metrics_key)):
                return step, None
            if _try(lock):
                return step, lock
        return None, None


def _claim(cache: Cache, step: Step) -> Any:
    """The claim lock of ``step`` (``None`` when it cannot be shared: no cache, or not cacheable)."""
    if not cache.enabled or step.metrics_key is None:
        return None
    return cache.claim(step.metrics_key)


def _try(lock: Any) -> bool:
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
        return True
    except Timeout:
        return False


def claimed_report(cache: Cache, plan: Plan, extra: dict[str, Any],
                   build: Callable[[], AuditReport]) -> AuditReport:
    """The report assembled once by whichever process claims it first and loaded from the cache by the others.

    ``extra`` holds what else the report depends on (thresholds, bootstrap size, level): with the plan's keys
    it forms the report's cache key. Without a cache (or an uncacheable step) every process builds its own.
    """
    keys = [s.metrics_key for s in plan.steps]
    if not cache.enabled or any(k is None for k in keys):
        return build()
    # one pytest-xdist run shares its uid; another run assembles afresh (its own timings and cache counters)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    key = cache_key({"artefact": "report", "steps": keys, "run": run, **extra})

    def compute() -> Entry:
        return Entry(payload={"report": build().to_json()})

    entry, _ = cache.fetch("report", key, compute)
    return AuditReport.from_json(entry.payload["report"])
