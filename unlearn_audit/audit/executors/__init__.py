"""Executors: how the steps of an audit's plan are run.

``serial`` (default: in this process, one after the other), ``processes`` (spawned worker processes on this
machine), ``ray`` (Ray actors on a local Ray or a cluster; the ``unlearn-audit[ray]`` extra) and ``xdist``
(pytest-xdist workers sharing the plan through the cache). Every executor gives the same report as ``serial``
for the same spec when each step runs with the same torch thread count.
"""

from __future__ import annotations

from typing import Any

from ._base import Execution, Executor, ExecutorError, Job, check_workers

__all__ = ["EXECUTOR_NAMES", "Execution", "Executor", "ExecutorError", "Job", "get_executor", "SerialExecutor",
           "ProcessExecutor", "RayExecutor", "ClaimExecutor"]

_CLASSES = {"SerialExecutor": "._serial", "ProcessExecutor": "._processes", "RayExecutor": "._ray",
            "ClaimExecutor": "._claim"}


def __getattr__(name: str) -> Any:
    # the executor classes load on first use (``ray`` is imported only when a Ray executor runs)
    if name in _CLASSES:
        import importlib

        return getattr(importlib.import_module(_CLASSES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

EXECUTOR_NAMES = ("serial", "processes", "ray", "xdist")


def get_executor(executor: Any = "serial", *, workers: int | None = None, ray_address: str | None = None,
                 source: str = "executor") -> Executor:
    """The executor named ``executor`` (or ``executor`` itself when it already is one).

    Args:
        executor: ``"serial"``, ``"processes"``, ``"ray"``, ``"xdist"`` or an object with ``run(job, sink=...)``.
        workers: worker count for ``processes`` / ``ray`` (``None``: the executor's default).
        ray_address: the Ray cluster (``ray`` only): ``None`` starts a local Ray, ``"auto"``, ``"ray://host:port"``.
        source: where the value came from, for error messages (``"--executor"``, ``"run_audit(executor=...)"``).

    Raises:
        ExecutorError: unknown name, ``workers`` < 1, or options the executor does not take.
    """
    if not isinstance(executor, str):
        if callable(getattr(executor, "run", None)) and isinstance(getattr(executor, "name", None), str):
            return executor
        raise ExecutorError(f"{source}: expected one of {', '.join(EXECUTOR_NAMES)} or an executor object, got "
                            f"{type(executor).__name__}")
    name = executor.strip().lower()
    workers = check_workers(workers, source=f"{source} workers")
    if name not in EXECUTOR_NAMES:
        raise ExecutorError(f"{source}: unknown executor {executor!r}; use one of {', '.join(EXECUTOR_NAMES)}")
    if ray_address is not None and name != "ray":
        raise ExecutorError(f"{source}: a Ray address ({ray_address!r}) needs the 'ray' executor, not {name!r}")
    if workers is not None and name in ("serial", "xdist"):
        if workers != 1:
            raise ExecutorError(f"{source}: the {name!r} executor runs one step at a time in this process; "
                                f"workers={workers} needs 'processes' or 'ray'"
                                + (" (under pytest-xdist, -n sets the number of workers)" if name == "xdist" else ""))
    if name == "serial":
        from ._serial import SerialExecutor

        return SerialExecutor()
    if name == "xdist":
        from ._claim import ClaimExecutor

        return ClaimExecutor()
    if name == "processes":
        from ._processes import ProcessExecutor

        return ProcessExecutor(workers=workers)
    from ._ray import RayExecutor, import_ray

    import_ray()   # fail now, naming the extra, rather than after the plan is built
    return RayExecutor(workers=workers, address=ray_address)
