"""Run one step of an audit in a worker process that is stopped when it exceeds a time limit.

Used when ``AuditSpec.method_timeout`` is set (``--unlearn-method-timeout``): every method then runs in a fresh
Python process (``python -m unlearn_audit.audit._isolation``), because a thread stuck in user code can be
neither interrupted nor stopped. The step's inputs are written to a private temporary folder with
``torch.save``; the worker writes its result there (tensors and plain values, read back with
``weights_only=True``), then exits. The parent process waits for the worker to signal that it has loaded its
inputs, then gives it ``timeout`` seconds; past them the worker is killed and ``StepTimeout`` raised.

What a worker runs must be importable by name in a fresh interpreter: functions and classes defined at the top
level of a module (a ``conftest.py`` or your own module). A lambda, a function defined inside another function,
or one defined in the script being run (``__main__``) cannot be sent; ``check_portable`` says so before the
audit starts, with what to change (there is no thread fallback: an abandoned thread would keep running and
could still change the audit's data).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .._json import jsonable
from ._guard import MethodFailure

__all__ = ["StepTimeout", "WorkerError", "run_in_worker", "check_portable", "run_step_isolated"]

#: How long a worker may take to start (import torch and the library, load its inputs) before it is stopped.
STARTUP_SECONDS = 300.0
_POLL = 0.02


class StepTimeout(MethodFailure):
    """The step did not finish within its time limit; its worker process was stopped."""


class WorkerError(MethodFailure):
    """The worker process ended without a result (it crashed, was killed, or called ``os._exit``)."""


def _child_env() -> dict[str, str]:
    """The parent's environment with its ``sys.path`` as ``PYTHONPATH`` (so the worker imports the same code)."""
    env = dict(os.environ)
    paths = [p if p else os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def run_in_worker(target: Callable[[Any], dict[str, Any]], payload: Any, *, timeout: float,
                  startup: float = STARTUP_SECONDS) -> dict[str, Any]:
    """``target(payload)`` in a worker process, stopped after ``timeout`` seconds of running.

    Args:
        target: a top-level function of an importable module; it returns a dict of tensors and plain values.
        payload: its argument (anything ``torch.save`` can pickle and a fresh interpreter can import).
        timeout: seconds the step may run, counted from when the worker has loaded its inputs.
        startup: seconds the worker may take to start.

    Raises:
        StepTimeout: still running after ``timeout`` seconds (``.seconds`` holds the elapsed time).
        WorkerError: the worker ended without a result, or ``target`` raised (the message says which).
        KeyboardInterrupt: re-raised after the worker has been stopped.
    """
    with tempfile.TemporaryDirectory(prefix="unlearn-audit-worker-") as tmp:
        folder = Path(tmp)
        inputs, result, ready = folder / "inputs.pt", folder / "result.pt", folder / "ready"
        torch.save({"target": (target.__module__, target.__qualname__), "payload": payload}, inputs)
        cmd = [sys.executable, "-m", "unlearn_audit.audit._isolation", str(inputs), str(result), str(ready)]
        proc = subprocess.Popen(cmd, env=_child_env())
        t_start = time.perf_counter()
        t_ready: float | None = None
        try:
            while proc.poll() is None:
                now = time.perf_counter()
                if t_ready is None and ready.exists():
                    t_ready = now
                if t_ready is None and now - t_start > startup:
                    raise WorkerError(f"the worker process did not start within {startup:g} s")
                if t_ready is not None and now - t_ready > timeout:
                    elapsed = now - t_ready
                    exc = StepTimeout(f"timed out: still running after {elapsed:.1f} s, over the per-method time "
                                      f"limit of {timeout:g} s (method_timeout); its worker process was stopped")
                    exc.seconds = elapsed  # type: ignore[attr-defined]
                    raise exc
                time.sleep(_POLL)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not result.exists():
            raise WorkerError(f"the worker process ended with exit status {proc.returncode} without a result "
                              f"(a crash, a kill, or os._exit() inside the method)")
        out = torch.load(result, map_location="cpu", weights_only=True)
    if "error" in out:
        raise WorkerError(f"the worker process failed: {out['error']}")
    return out


# ---------------------------------------------------------------------------------------------- one method step
def _portable_problem(obj: Any) -> str | None:
    """Why ``obj`` cannot be sent to a worker process, or ``None``."""
    try:
        blob = pickle.dumps(obj)
    except Exception as exc:  # noqa: BLE001 - PicklingError, AttributeError, TypeError ...
        return f"cannot be pickled ({type(exc).__name__}: {exc})"
    if b"__main__" in blob:
        return "is defined in the script being run (__main__), which a worker process does not import"
    return None


def check_portable(method: Any, *, user_fn: Any = None, model_factory: Any = None,
                   model: nn.Module | None = None) -> dict[str, Any]:
    """What to send a worker for ``method`` (the ``Method``, or the user's raw function when only the adapter
    around it is local); checks the model factory and the model's class too.

    Raises:
        ValueError: something cannot be imported by a worker process; the message says what and how to fix it.
    """
    fix = ("define it at the top level of an importable module (your conftest.py, or a module of your own) "
           "instead of as a lambda or inside a function, or remove the per-method time limit")
    for what, obj in (("model_factory", model_factory), ("the model's class", type(model) if model is not None
                                                         else None)):
        if obj is not None and (why := _portable_problem(obj)):
            raise ValueError(f"AuditSpec.method_timeout: each method runs in a worker process, which needs to "
                             f"import {what} by name, but {getattr(obj, '__qualname__', obj)!r} {why}; {fix}")
    if _portable_problem(method) is None:
        return {"kind": "method", "method": method}
    if user_fn is not None and not isinstance(user_fn, str) and _portable_problem(user_fn) is None:
        return {"kind": "fn", "method": user_fn, "name": method.name}
    why = _portable_problem(user_fn if user_fn is not None and not isinstance(user_fn, str) else method)
    raise ValueError(f"AuditSpec.method_timeout: each method runs in a worker process, which needs to import it "
                     f"by name, but method {method.name!r} {why}; {fix}")


def run_step_isolated(*, method: dict[str, Any], model: nn.Module, ctx: Any, model_factory: Callable[[], nn.Module],
                      timeout: float) -> tuple[dict[str, torch.Tensor], dict[str, Any], float]:
    """Run one unlearning method in a worker: ``(state_dict, ctx.log, seconds)`` of what it returned.

    Raises:
        MethodFailure: the method failed in the worker (the reason as in-process), ``StepTimeout`` or
            ``WorkerError``.
    """
    payload = {"method": method, "model": model, "data": ctx.data, "original": ctx.original, "recipe": ctx.recipe,
               "device": str(ctx.device), "seed": ctx.seed, "model_factory": model_factory,
               "retain_weights": ctx.retain_weights, "sample_weights": ctx.sample_weights}
    out = run_in_worker(_unlearn_step, payload, timeout=timeout)
    if "failure" in out:
        raise MethodFailure(out["failure"])
    return dict(out["state"]), dict(out["log"]), float(out["seconds"])


def _unlearn_step(payload: dict[str, Any]) -> dict[str, Any]:
    """The worker's side of ``run_step_isolated``: the same protected call as in-process (``call_method``)."""
    from ..methods import UnlearnContext, as_method
    from ._guard import DataGuard, call_method

    spec = payload["method"]
    method = spec["method"] if spec["kind"] == "method" else as_method(spec["method"], name=spec["name"])
    data, device = payload["data"], torch.device(payload["device"])
    ctx = UnlearnContext(data=data, original=payload["original"].to(device), recipe=payload["recipe"],
                         device=device, seed=payload["seed"],
                         model_factory=payload["model_factory"], retain_weights=payload["retain_weights"],
                         sample_weights=payload["sample_weights"])
    guard = DataGuard(data)
    torch.manual_seed(ctx.seed)
    t0 = time.perf_counter()
    try:
        out = call_method(method, payload["model"].to(device), ctx, guard=guard)
    except MethodFailure as exc:
        return {"failure": str(exc)}
    return {"state": {k: v.detach().to("cpu") for k, v in out.state_dict().items()}, "log": jsonable(ctx.log),
            "seconds": time.perf_counter() - t0}


def _worker_main(inputs: str, result: str, ready: str) -> int:
    import importlib
    import traceback

    from .._device import configure_threads

    configure_threads()
    try:
        spec = torch.load(inputs, map_location="cpu", weights_only=False)  # our own file, written just now
        module, qualname = spec["target"]
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        Path(ready).touch()
        out = target(spec["payload"])
    except Exception as exc:  # noqa: BLE001 - reported to the parent process
        Path(ready).touch()
        out = {"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"}
    tmp = result + ".tmp"
    torch.save(out, tmp)
    os.replace(tmp, result)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as the worker process
    sys.exit(_worker_main(*sys.argv[1:4]))
