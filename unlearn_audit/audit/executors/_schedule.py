"""The controller's bookkeeping shared by the pool executors (processes, Ray): which step goes next, what came back."""

from __future__ import annotations

import pickle
import time
from typing import Any, Iterator

from ...progress import ProgressEvent, ProgressSink
from ...report import ModelRecord
from .._plan import Plan, Step
from ._base import blocked_record, failed_record, ready

__all__ = ["Schedule"]


class Schedule:
    """Steps of ``plan`` waiting, running and done; the original's weights when workers need them sent.

    Longest first: of the steps whose dependencies are done, the one with the largest estimated cost
    (``Step.cost``) goes next, ties in the plan's order, so the longest steps start while the short ones fill the
    gaps at the end instead of one long step running alone while the other workers idle (longest-processing-time
    scheduling). The order depends only on the plan, never on timings; a step's result does not depend on it.
    A step whose dependency failed is recorded failed without running.
    """

    def __init__(self, plan: Plan, sink: ProgressSink) -> None:
        self.plan = plan
        self.sink = sink
        self.waiting: list[Step] = list(plan.steps)
        self.running: dict[str, tuple[Step, float]] = {}   # worker -> (step, start time)
        self.records: dict[str, ModelRecord] = {}
        self.original_weights: bytes | None = None
        self.counters: dict[str, dict[str, int]] = {}        # worker -> cache counters (latest)
        self.retired: dict[str, int] = {"hits": 0, "misses": 0, "recovered": 0}  # of replaced workers

    @property
    def finished(self) -> bool:
        return not self.waiting and not self.running

    def next_step(self) -> Step | None:
        """The costliest waiting step whose dependencies are done, the earliest in the plan among equal costs
        (recording blocked ones as failed on the way), or ``None`` when no waiting step is ready."""
        for step in sorted((s for s in self.waiting if ready(s, self.records)), key=lambda s: -s.cost):
            self.waiting.remove(step)
            blocked = blocked_record(step, self.records)
            if blocked is not None:
                self.records[step.id] = blocked
                self.sink(ProgressEvent("failed", step=step.id, label=step.label, detail=blocked.error or ""))
                continue
            return step
        return None

    def start(self, worker: str, step: Step, now: float) -> None:
        self.running[worker] = (step, now)

    def assign(self, idle: list[str]) -> Iterator[tuple[str, Step]]:
        """Hand ready steps to the ``idle`` workers (first idle first, costliest step first), marking each started:
        yields ``(worker, step)`` until no worker is idle or no step is ready; ``idle`` loses the busy ones."""
        while idle:
            step = self.next_step()
            if step is None:
                return
            worker = idle.pop(0)
            self.start(worker, step, time.perf_counter())
            yield worker, step

    def finish(self, worker: str, step_id: str, record: ModelRecord | bytes, counters: dict[str, int] | None,
               weights: bytes | None = None) -> None:
        """A worker's result for ``step_id``."""
        self.running.pop(worker, None)
        if isinstance(record, bytes):
            record = pickle.loads(record)
        self.records[step_id] = record  # type: ignore[assignment]
        if counters is not None:
            self.counters[worker] = counters
        if weights is not None:
            self.original_weights = weights

    def lost(self, worker: str, reason: str, now: float) -> None:
        """The worker running a step died or was stopped: that step fails with ``reason``."""
        step, t0 = self.running.pop(worker)
        record = failed_record(step, reason)
        self.records[step.id] = record
        self.sink(ProgressEvent("failed", step=step.id, label=step.label, worker=worker, detail=reason,
                                elapsed_s=now - t0))
        for k, v in self.counters.pop(worker, {}).items():
            self.retired[k] = self.retired.get(k, 0) + v

    def totals(self) -> dict[str, int]:
        """Cache counters over every worker, replaced ones included."""
        out = dict(self.retired)
        for c in self.counters.values():
            for k, v in c.items():
                out[k] = out.get(k, 0) + v
        return out

    def in_order(self) -> dict[str, ModelRecord]:
        return {s.id: self.records[s.id] for s in self.plan.steps}

    def task_weights(self) -> Any:
        """What to send with a task: the original's weights when no shared cache holds them."""
        return self.original_weights
