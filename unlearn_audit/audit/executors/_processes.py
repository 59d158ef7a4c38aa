"""``processes``: worker processes on this machine (spawned), each running one step at a time.

With CUDA, one worker per GPU by default, each pinned to its device (more workers than GPUs share them in turn).
On CPU, N workers split the cores: ``threads = cores // N`` torch threads each (``UNLEARN_AUDIT_THREADS``
overrides), so N x threads <= cores. Workers rebuild the audit from the pickled spec, load the original from the
shared cache folder (or receive its weights when caching is off) and send back records and progress events.

A worker that dies (killed, out of memory, a crash in native code) fails the step it was running with the
reason, and a fresh worker takes its place; the cache stays intact (entries are written atomically, and a dead
process's file locks are released). ``step_time_limit_s`` stops a worker whose step runs longer and records the
step as failed: run one step in a subprocess with a time limit with ``ProcessExecutor(workers=1,
step_time_limit_s=...)``.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
from dataclasses import dataclass
from typing import Any

import torch

from ...progress import ProgressSink
from ._base import Execution, ExecutorError, Job, available_cores, check_workers, spec_bytes
from ._schedule import Schedule
from ._worker import plan_keys, process_main

__all__ = ["ProcessExecutor", "worker_layout", "MAX_DEFAULT_WORKERS"]

#: Default CPU worker count is the cores available, at most this many (each worker holds the data and a model).
MAX_DEFAULT_WORKERS = 8
_POLL_S = 0.1


def worker_layout(device: torch.device, workers: int | None, threads: int | None = None) -> tuple[list[str], int]:
    """``(device of each worker, threads per worker)`` for ``device``.

    CUDA: ``workers`` defaults to the GPU count; a ``cuda:N`` device pins every worker to it, ``cuda`` spreads them
    over the GPUs in turn. CPU: ``workers`` defaults to the cores (at most ``MAX_DEFAULT_WORKERS``); threads per
    worker = ``threads`` or ``UNLEARN_AUDIT_THREADS`` or ``cores // workers`` (at least 1).
    """
    cores = available_cores()
    if device.type == "cuda":
        n_gpu = max(1, torch.cuda.device_count())
        n = workers or n_gpu
        devices = [str(device)] * n if device.index is not None else [f"cuda:{i % n_gpu}" for i in range(n)]
    else:
        n = workers or min(cores, MAX_DEFAULT_WORKERS)
        devices = [str(device)] * n
    env = os.environ.get("UNLEARN_AUDIT_THREADS")
    per = threads or (int(env) if env and env.strip().isdigit() and int(env) > 0 else max(1, cores // n))
    return devices, per


@dataclass
class _Proc:
    process: Any
    tasks: Any
    device: str


class ProcessExecutor:
    """Runs steps in ``workers`` spawned processes.

    Args:
        workers: how many (``None``: one per GPU with CUDA, else the cores up to ``MAX_DEFAULT_WORKERS``).
        threads: torch threads per worker (``None``: see ``worker_layout``).
        step_time_limit_s: stop a step (and its worker) after this many seconds; ``None``: no limit.
    """

    name = "processes"

    def __init__(self, *, workers: int | None = None, threads: int | None = None,
                 step_time_limit_s: float | None = None) -> None:
        self.workers = check_workers(workers)
        self.threads = check_workers(threads, source="threads")
        self.step_time_limit_s = step_time_limit_s

    def run(self, job: Job, *, sink: ProgressSink) -> Execution:
        devices, threads = worker_layout(job.device, self.workers, self.threads)
        pickled = spec_bytes(job.spec, executor=self.name)
        keys = plan_keys(job.plan)
        mp = multiprocessing.get_context("spawn")
        results = mp.Queue()
        procs: dict[str, _Proc] = {}
        serial = [0]

        def spawn(device: str) -> str:
            serial[0] += 1
            name = f"w{serial[0]}"
            tasks = mp.Queue()
            p = mp.Process(target=process_main, name=f"unlearn-audit-{name}", daemon=True,
                           args=(name, device, threads, tasks, results))
            tasks.put(("spec", pickled, keys))
            p.start()
            procs[name] = _Proc(p, tasks, device)
            return name

        for d in devices:
            spawn(d)
        sched = Schedule(job.plan, sink)
        idle: list[str] = []
        try:
            while not sched.finished:
                for w, step in sched.assign(idle):
                    procs[w].tasks.put(("task", step.id, sched.task_weights()))
                if sched.finished:
                    break
                try:
                    msg = results.get(timeout=_POLL_S)
                except queue.Empty:
                    msg = None
                if msg is not None:
                    self._handle(msg, sched, idle, sink)
                self._check_workers(procs, sched, idle, spawn)
        finally:
            _stop(procs)
        totals = sched.totals()
        return Execution(records=sched.in_order(), executor=self.name, workers=len(devices), threads_per_step=threads,
                         details={"devices": devices, "replaced_workers": serial[0] - len(devices)},
                         hits=totals.get("hits", 0), misses=totals.get("misses", 0),
                         recovered=totals.get("recovered", 0))

    @staticmethod
    def _handle(msg: tuple[Any, ...], sched: Schedule, idle: list[str], sink: ProgressSink) -> None:
        kind = msg[0]
        if kind == "event":
            sink(msg[1])
        elif kind == "ready":
            idle.append(msg[1])
            sched.counters.setdefault(msg[1], {})
        elif kind == "broken":
            raise ExecutorError(f"processes: worker {msg[1]} could not rebuild the audit from its spec: {msg[2]} "
                                f"(workers import the spec's functions by module and name; is that module "
                                f"importable from a fresh process?)")
        elif kind == "result":
            _, worker, step_id, record, counters, weights = msg
            if worker in sched.running and sched.running[worker][0].id == step_id:
                sched.finish(worker, step_id, record, counters, weights)
                idle.append(worker)

    def _check_workers(self, procs: dict[str, _Proc], sched: Schedule, idle: list[str], spawn: Any) -> None:
        now = time.perf_counter()
        for name in list(procs):
            proc = procs[name]
            reason = None
            if not proc.process.is_alive():
                reason = f"worker process {name} died while running this step ({_exit_reason(proc.process.exitcode)})"
            elif (self.step_time_limit_s is not None and name in sched.running
                  and now - sched.running[name][1] > self.step_time_limit_s):
                proc.process.kill()
                proc.process.join(5)
                reason = f"stopped after the time limit of {self.step_time_limit_s:g} s (worker {name})"
            if reason is None:
                continue
            if name not in sched.counters and name not in sched.running:   # died before it said "ready"
                raise ExecutorError(f"processes: worker process {name} died while starting "
                                    f"({_exit_reason(proc.process.exitcode)})")
            del procs[name]
            if name in idle:
                idle.remove(name)
            if name in sched.running:
                sched.lost(name, reason, now)
            if not sched.finished:
                spawn(proc.device)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = f"signal {-code}"
        hint = " (out of memory?)" if sig == "SIGKILL" else ""
        return f"killed by {sig}{hint}"
    return f"exit code {code}"


def _stop(procs: dict[str, _Proc]) -> None:
    for proc in procs.values():
        try:
            proc.tasks.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 10
    for proc in procs.values():
        proc.process.join(max(0.0, deadline - time.monotonic()))
        if proc.process.is_alive():
            proc.process.kill()
            proc.process.join(5)
