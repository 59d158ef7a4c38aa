"""The side of a worker (a spawned process or a Ray actor): rebuild the audit from its spec, then run steps.

A worker never prints: its progress events and results go back to the controller (a queue, or Ray).
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Callable

import torch

from ...progress import ProgressSink
from ...report import ModelRecord
from .._cache import Cache
from .._execute import StepRunner
from .._plan import plan as make_plan

__all__ = ["WorkerState", "process_main", "plan_keys"]


def plan_keys(plan: Any) -> list[tuple[str, str | None, str | None]]:
    """``(id, model_key, metrics_key)`` of every step: what a worker's plan must agree on with the controller's."""
    return [(s.id, s.model_key, s.metrics_key) for s in plan.steps]


class WorkerState:
    """A worker's audit: the spec rebuilt from its pickle, its plan (checked against the controller's keys) and
    a ``StepRunner`` on the worker's device with its thread count.

    Args:
        spec_pickle: ``executors._base.spec_bytes(spec)``.
        device: e.g. ``"cpu"`` or ``"cuda:1"``.
        threads: torch CPU threads (also exported as ``UNLEARN_AUDIT_THREADS`` for code that configures threads).
        expected_keys: the controller's ``plan_keys``.
        cache: the cache to use (``None``: the spec's cache folder).
    """

    def __init__(self, spec_pickle: bytes, *, device: str, threads: int, expected_keys: list[Any],
                 cache: Cache | None = None) -> None:
        os.environ["UNLEARN_AUDIT_THREADS"] = str(threads)
        torch.set_num_threads(threads)
        self.threads = threads
        spec = pickle.loads(spec_pickle)
        dev = torch.device(device)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        plan = make_plan(spec, device=dev)
        self.mismatch: str | None = None
        got = plan_keys(plan)
        if got != [tuple(k) for k in expected_keys]:
            self.mismatch = ("the spec is not the same once imported in the worker (its plan or cache keys "
                             "differ from the controller's: is a model factory or method defined differently "
                             "there, or does the data depend on the process?)")
        self.runner = StepRunner(spec, plan, device=dev, cache=cache, threads=threads)

    def execute(self, step_id: str, *, sink: ProgressSink, worker: str,
                original_state: dict[str, torch.Tensor] | None = None
                ) -> tuple[ModelRecord, dict[str, int], bytes | None]:
        """Run one step; returns its record, this worker's cache counters so far and, for the original when the
        worker has no cache to leave it in, the original's weights (pickled) for the other workers."""
        from ._base import failed_record

        step = self.runner.plan[step_id]
        if self.mismatch is not None:
            record = failed_record(step, f"worker {worker}: {self.mismatch}")
        else:
            if original_state is not None and self.runner._original is None:
                self.runner._original_state = original_state
            record = self.runner.execute(step, sink=sink, worker=worker)
        cache = self.runner.cache
        weights = None
        if step.role == "original" and record.status == "ok" and not cache.enabled:
            weights = pickle.dumps(self.runner.original_state, protocol=pickle.HIGHEST_PROTOCOL)
        return record, {"hits": cache.hits, "misses": cache.misses, "recovered": len(cache.recovered)}, weights


def process_main(worker: str, device: str, threads: int, tasks: Any, results: Any) -> None:
    """Entry point of a spawned worker process: first ``("spec", spec_pickle, expected_keys)`` in ``tasks`` (not
    in the process arguments: those go through a pipe that blocks the parent if the child dies while reading),
    then ``("task", step_id, original_state)``;
    ``("event", ProgressEvent)`` and ``("result", worker, step_id, record, counters, weights)`` out in ``results``;
    ``None`` in ``tasks`` ends it. Tensors travel as plain pickles (``bytes``), not through torch's shared-memory
    reductions, so nothing outlives the worker that produced it."""
    put: Callable[[Any], None] = results.put
    _, spec_pickle, expected_keys = tasks.get()
    try:
        state = WorkerState(spec_pickle, device=device, threads=threads, expected_keys=expected_keys)
    except BaseException as exc:  # noqa: BLE001 - tell the controller why this worker cannot run anything
        put(("broken", worker, f"{type(exc).__name__}: {exc}"))
        return
    put(("ready", worker))
    while True:
        msg = tasks.get()
        if msg is None:
            return
        _, step_id, original_pickle = msg
        original_state = pickle.loads(original_pickle) if original_pickle is not None else None
        record, counters, weights = state.execute(step_id, sink=lambda ev: put(("event", ev)), worker=worker,
                                                  original_state=original_state)
        put(("result", worker, step_id, pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL), counters, weights))
