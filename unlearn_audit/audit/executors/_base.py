"""What every executor shares: the job it is given, what it returns, and the rules of the schedule.

An executor runs the steps of a ``Plan`` and returns one ``ModelRecord`` per step. Every executor follows the
same rules: a step starts once its dependencies are done; a step whose dependency failed is recorded as failed
(never run); a step that fails, or whose worker dies, is that step's failed record and the others go on.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ...progress import ProgressSink
from ...report import ModelRecord
from .._cache import Cache
from .._plan import Plan, Step
from .._spec import AuditSpec

__all__ = ["Job", "Execution", "Executor", "ExecutorError", "blocked_record", "failed_record", "ready",
           "spec_bytes", "available_cores", "check_workers"]


class ExecutorError(ValueError):
    """An executor cannot be used as asked (unknown name, bad worker count, Ray missing or not answering, a spec
    that cannot be sent to workers); the message says what to change."""


@dataclass
class Job:
    """What an executor is given.

    Attributes:
        spec: the audit (its cache folder resolved to an absolute path, or ``False``).
        plan: its steps and cache keys.
        device: the controller's device.
        cache: the controller's cache (the serial executor uses it; others report into its counters).
    """

    spec: AuditSpec
    plan: Plan
    device: torch.device
    cache: Cache


@dataclass
class Execution:
    """What an executor returns.

    Attributes:
        records: step id -> record, for every step of the plan.
        executor: the executor's name.
        workers: how many workers ran steps.
        threads_per_step: torch CPU threads every step ran with.
        details: anything else worth a line in the report (devices, Ray address, ...).
        hits, misses, recovered: cache counters summed over the workers.
    """

    records: dict[str, ModelRecord]
    executor: str
    workers: int
    threads_per_step: int
    details: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    recovered: int = 0


class Executor(Protocol):
    """Runs a plan's steps: ``run(job, sink=...) -> Execution``; emits ``ProgressEvent`` s to ``sink`` from the
    controller's process (workers forward theirs)."""

    name: str

    def run(self, job: Job, *, sink: ProgressSink) -> Execution: ...


def ready(step: Step, records: dict[str, ModelRecord]) -> bool:
    """Whether every dependency of ``step`` has a record."""
    return all(d in records for d in step.deps)


def blocked_record(step: Step, records: dict[str, ModelRecord]) -> ModelRecord | None:
    """A failed record for ``step`` when one of its dependencies failed (``None`` otherwise)."""
    failed = [d for d in step.deps if d in records and records[d].status == "failed"]
    if not failed:
        return None
    return failed_record(step, f"not run: it starts from {failed[0]!r}, which failed")


def failed_record(step: Step, reason: str) -> ModelRecord:
    """The record of a step that failed for ``reason`` before producing a model."""
    hyper: dict[str, Any] = {}
    if step.method is not None:
        from ..._json import jsonable

        hyper = jsonable(step.method.hyperparams())
    return ModelRecord(name=step.name, role=step.role, seed=step.seed, reference=step.reference,  # type: ignore[arg-type]
                       status="failed", error=reason, hyperparams=hyper)


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)


def check_workers(workers: Any, *, source: str = "workers") -> int | None:
    """``workers`` validated: ``None`` (the executor decides) or an int >= 1.

    Raises:
        ExecutorError: not an int, or < 1.
    """
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ExecutorError(f"{source}: expected a whole number of workers >= 1, got {workers!r}")
    if workers < 1:
        raise ExecutorError(f"{source}: expected at least 1 worker, got {workers}")
    return workers


def spec_bytes(spec: AuditSpec, *, executor: str) -> bytes:
    """``spec`` pickled for workers in other processes or machines.

    Callables travel by reference (module and name), so they must be importable there: functions and classes
    defined at module level, not lambdas or functions defined inside other functions.

    Raises:
        ExecutorError: a field cannot be pickled; the message names the field and what to change.
    """
    root = spec.resolved_cache_dir()   # workers may run elsewhere (another cwd): give them the absolute folder
    spec = spec.replace(cache_dir=root.resolve() if root is not None else False)
    try:
        return pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - pickle raises PicklingError, AttributeError, TypeError
        culprit = "?"
        for name, value in spec.init_fields().items():
            try:
                pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001
                culprit = name
                break
        what = getattr(spec.init_fields().get(culprit), "__qualname__", None)
        raise ExecutorError(
            f"AuditSpec.{culprit}{f' ({what})' if what else ''} cannot be sent to the workers of the {executor!r} "
            f"executor ({type(exc).__name__}: {exc}). Workers in other processes import it by name, so define it "
            f"with `def` at module level in an importable module (not a lambda or a function nested in another "
            f"function), e.g. build the spec in my_project/audit.py and run `unlearn-audit run "
            f"my_project.audit:spec`; or use executor='serial'") from None
