"""``ray``: steps run by Ray actors, on a local Ray started for the run or on a cluster (``unlearn-audit[ray]``).

Each worker is an actor holding the rebuilt audit (``WorkerState``) with ``num_cpus=threads`` and, with CUDA,
``num_gpus=gpus_per_worker`` (1 by default; a fraction lets several workers share a GPU). Progress events go to
the controller through a Ray queue (an actor); records come back as task results.

The cache: on a local Ray (or when ``shared_cache=True``: every node mounts the cache folder at the same path)
workers read and write the controller's cache folder; otherwise they run without a cache and the original's
weights travel to them through Ray's object store.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from ...progress import ProgressSink
from ._base import Execution, ExecutorError, Job, available_cores, check_workers, spec_bytes
from ._schedule import Schedule
from ._worker import WorkerState, plan_keys

__all__ = ["RayExecutor", "RAY_CONNECT_TIMEOUT_S", "import_ray"]

#: How long connecting to a Ray address may take before the audit gives up, naming the address.
RAY_CONNECT_TIMEOUT_S = 10.0
_POLL_S = 0.1


def import_ray() -> Any:
    """``import ray``, or an ``ExecutorError`` saying which extra to install."""
    try:
        import ray
    except ImportError:
        raise ExecutorError("executor 'ray': Ray is not installed; install the extra: pip install "
                            "'unlearn-audit[ray]' (or pip install ray)") from None
    return ray


class _RayWorker:
    """The actor's class (wrapped with ``ray.remote`` at run time)."""

    def __init__(self, name: str, spec_pickle: bytes, device: str, threads: int, keys: list[Any], events: Any,
                 use_cache: bool) -> None:
        from .._cache import Cache

        self.name = name
        self.events = events
        self.state = WorkerState(spec_pickle, device=device, threads=threads, expected_keys=keys,
                                 cache=None if use_cache else Cache(None))

    def execute(self, step_id: str, original_weights: bytes | None) -> tuple[bytes, dict[str, int], bytes | None]:
        import pickle

        original = pickle.loads(original_weights) if original_weights is not None else None
        record, counters, weights = self.state.execute(step_id, sink=self.events.put_nowait, worker=self.name,
                                                       original_state=original)
        return pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL), counters, weights

    def ready(self) -> str:
        return self.name


class RayExecutor:
    """Runs steps on Ray actors.

    Args:
        workers: how many actors (``None``: the cluster's GPUs / ``gpus_per_worker`` with CUDA, else its CPUs
            divided by ``threads``).
        address: ``None`` starts a local Ray for the run (``num_cpus``: the cores, or ``workers x threads``);
            ``"auto"`` joins the running cluster on this machine; ``"ray://host:port"`` a remote one.
        threads: torch threads (= Ray CPUs) per actor; ``None``: ``UNLEARN_AUDIT_THREADS`` or 1.
        gpus_per_worker: Ray GPUs each actor reserves with CUDA (1, or a fraction to share a GPU).
        shared_cache: whether every worker sees the controller's cache folder at the same path (``None``: yes for
            a local Ray, no for an address).
        connect_timeout_s: give up connecting to ``address`` after this many seconds.
    """

    name = "ray"

    def __init__(self, *, workers: int | None = None, address: str | None = None, threads: int | None = None,
                 gpus_per_worker: float = 1.0, shared_cache: bool | None = None,
                 connect_timeout_s: float = RAY_CONNECT_TIMEOUT_S) -> None:
        self.workers = check_workers(workers)
        self.threads = check_workers(threads, source="threads")
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ExecutorError(f"ray address: expected 'auto', 'ray://host:port' or 'host:port', got {address!r}")
        self.address = address.strip() if address else None
        self.gpus_per_worker = gpus_per_worker
        self.shared_cache = shared_cache
        self.connect_timeout_s = connect_timeout_s

    def _threads(self) -> int:
        env = os.environ.get("UNLEARN_AUDIT_THREADS")
        return self.threads or (int(env) if env and env.strip().isdigit() and int(env) > 0 else 1)

    def _connect(self, ray: Any, threads: int) -> bool:
        """Start or join Ray; returns whether this call started it (and must shut it down)."""
        if ray.is_initialized():
            return False
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
                            "UNLEARN_AUDIT_THREADS": str(threads)}}
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "include_dashboard": False,
                                  "configure_logging": False}
        if self.address is None:
            cpus = max(available_cores(), (self.workers or 1) * threads)
            kwargs.update(num_cpus=cpus, runtime_env=env)
        else:
            kwargs.update(address=self.address)
        where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray"
        if self.address is not None and self.address != "auto":
            _probe(self.address, self.connect_timeout_s)
        try:
            ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError from Ray
            raise ExecutorError(f"executor 'ray': could not connect to {where}: {_first_line(exc)}") from None
        return True

    def run(self, job: Job, *, sink: ProgressSink) -> Execution:
        ray = import_ray()
        pickled = spec_bytes(job.spec, executor=self.name)
        threads = self._threads()
        started = self._connect(ray, threads)
        try:
            return self._run(ray, job, sink, pickled, threads)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, job: Job, sink: ProgressSink, pickled: bytes, threads: int) -> Execution:
        from ray.util.queue import Empty, Queue

        cuda = job.device.type == "cuda"
        resources = ray.cluster_resources()
        if self.workers is not None:
            n = self.workers
        elif cuda:
            n = max(1, int(resources.get("GPU", 1) / self.gpus_per_worker))
        else:
            n = max(1, int(resources.get("CPU", 1) // threads))
        use_cache = self.shared_cache if self.shared_cache is not None else self.address is None
        use_cache = use_cache and job.cache.enabled
        device = "cuda" if cuda else str(job.device)
        events = Queue()
        actor_cls = ray.remote(num_cpus=threads, num_gpus=self.gpus_per_worker if cuda else 0,
                               max_restarts=0)(_RayWorker)
        keys = plan_keys(job.plan)
        spec_ref = ray.put(pickled)
        actors: dict[str, Any] = {}
        serial = [0]

        def spawn(count: int = 1) -> list[str]:
            names = []
            for _ in range(count):
                serial[0] += 1
                name = f"ray{serial[0]}"
                actors[name] = actor_cls.remote(name, spec_ref, device, threads, keys, events, use_cache)
                names.append(name)
            try:
                ray.get([actors[a].ready.remote() for a in names])
            except ray.exceptions.RayError as exc:
                raise ExecutorError(f"executor 'ray': a worker could not rebuild the audit from its spec "
                                    f"({_first_line(exc)}); workers import the spec's functions by module and "
                                    f"name, so that module must be importable on every node (a cluster: ship it "
                                    f"with ray's runtime_env working_dir or install it there)") from None
            return names

        spawn(n)
        sched = Schedule(job.plan, sink)
        pending: dict[Any, str] = {}   # object ref -> worker
        idle = list(actors)
        weights_ref: Any = None
        try:
            while not sched.finished:
                for w, step in sched.assign(idle):
                    if sched.original_weights is not None and weights_ref is None:
                        weights_ref = ray.put(sched.original_weights)
                    pending[actors[w].execute.remote(step.id, weights_ref)] = w
                if sched.finished:
                    break
                done, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL_S)
                _drain(events, Empty, sink)
                for ref in done:
                    w = pending.pop(ref)
                    step_id = sched.running[w][0].id
                    try:
                        record, counters, weights = ray.get(ref)
                    except ray.exceptions.RayActorError as exc:
                        sched.lost(w, f"Ray worker {w} died while running this step ({_first_line(exc)})",
                                   time.perf_counter())
                        actors.pop(w, None)
                        idle.extend(spawn())
                        continue
                    except ray.exceptions.RayError as exc:
                        sched.lost(w, f"Ray could not run this step on {w}: {_first_line(exc)}", time.perf_counter())
                        idle.append(w)
                        continue
                    sched.finish(w, step_id, record, counters, weights)
                    idle.append(w)
            _drain(events, Empty, sink)
        finally:
            for a in actors.values():
                ray.kill(a)
            ray.kill(events.actor)
        totals = sched.totals()
        return Execution(records=sched.in_order(), executor=self.name, workers=n, threads_per_step=threads,
                         details={"address": self.address or "local", "shared_cache": use_cache,
                                  "gpus_per_worker": self.gpus_per_worker if cuda else 0},
                         hits=totals.get("hits", 0), misses=totals.get("misses", 0),
                         recovered=totals.get("recovered", 0))


def _probe(address: str, timeout_s: float) -> None:
    """Fail within ``timeout_s`` when nothing answers at ``address`` (``ray://host:port`` or ``host:port``)."""
    import socket

    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ExecutorError(f"executor 'ray': {address!r} is not a Ray address; use 'auto', 'ray://host:port' "
                            f"(Ray client, port 10001 by default) or 'host:port' (the head node's GCS, port 6379)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ExecutorError(f"executor 'ray': nothing answers at the Ray address {address!r} (tried for at most "
                            f"{timeout_s:g} s: {exc}); check the address and that the cluster is up "
                            f"(`ray status` on the head node)") from None


def _drain(events: Any, empty: type, sink: ProgressSink) -> None:
    while True:
        try:
            sink(events.get_nowait())
        except empty:
            return


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
